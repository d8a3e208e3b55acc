"""Benchmark `simulate build` per RIR backend: clips/s with 1..N workers, and seconds per 4-mic RIR by RT60 bin.

Usage:
    python scripts/bench_simulate.py --backends pyroomacoustics torchrir gpurir --clips 200 --workers 1 2 \
        --rooms-per-bin 4 [--full-order-rooms 2] [key.path=value ...]

The same synthetic split (default config: paper rooms, RT60 U[0.1, 1.0], 24 kHz, clips 0.3-5 s, diffuse
tail) is built by every backend with every worker count, and the same rooms (drawn once per RT60 bin) go
through every backend, side by side in one run. A backend that cannot run here gets a row saying why.
Prints markdown tables (docs/benchmarks.md keeps the results with this command and the machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import platform
import sys
import tempfile
import time

import numpy as np

from mcsimclr.core.array import mic_offsets
from mcsimclr.core.config import load_config
from simulate.backends import backend_status, make_backend
from simulate.build import build
from simulate.config import RoomConfig, SimulateConfig
from simulate.geometry import Scene, sample_scene
from simulate.rt60 import measure_rt60_mics


def time_builds(cfg: SimulateConfig, backends: list[str], workers: list[int]) -> list[str]:
    """One build of the same split per backend and worker count: wall time, clips/s, speed-up."""
    clips = sum(cfg.source.synthetic.splits.values())
    rows = ["| backend | workers | clips | audio (min) | wall (s) | clips/s | speed-up |",
            "|---|---|---|---|---|---|---|"]
    for name in backends:
        reason = backend_status(name)
        if reason is not None:
            rows.append(f"| {name} | - | - | - | - | not run: {reason} | - |")
            continue
        backend_cfg = dataclasses.replace(cfg, backend=dataclasses.replace(cfg.backend, name=name))
        base = None
        for n in workers:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                (path,) = build(backend_cfg, out_dir=tmp, workers=n, progress=False, log=lambda _: None)
                wall = time.perf_counter() - start
                import h5py

                with h5py.File(path) as f:
                    minutes = f["lengths"][()].sum() / cfg.sample_rate / 60
            base = base or wall
            rows.append(f"| {name} | {n} | {clips} | {minutes:.1f} | {wall:.1f} | {clips / wall:.2f} | "
                        f"{base / wall:.2f}x |")
    return rows


def _time_backend(backend, scenes: list[Scene], sample_rate: int) -> tuple[float, float]:
    """Seconds per RIR and the mean measured / target RT60 over ``scenes``."""
    start = time.perf_counter()
    results = backend.rirs(scenes)
    per = (time.perf_counter() - start) / len(scenes)
    ratio = np.nanmean([np.nanmean(measure_rt60_mics(r, sample_rate=sample_rate)) / s.rt60_target
                        for (r, _), s in zip(results, scenes, strict=True)])
    return per, float(ratio)


def time_rirs(cfg: SimulateConfig, backends: list[str], rooms_per_bin: int, full_order_rooms: int) -> list[str]:
    """The same rooms per RT60 bin through every backend (with the config's tail and order cap, and optionally
    the plain full-order image sources): s/RIR and measured / target RT60."""
    offsets = mic_offsets(cfg.array)
    b = cfg.backend
    runnable = [n for n in backends if backend_status(n) is None]
    variants = []
    for name in runnable:
        common = dict(sample_rate=cfg.sample_rate, speed_of_sound=cfg.room.speed_of_sound)
        variants.append((f"{name}", make_backend(name, max_order=b.max_order, **common, **b.options()), None))
        if full_order_rooms:
            variants.append((f"{name}, full order", make_backend(name, max_order=None, **common,
                                                                  **{**b.options(), "tail": False}),
                             full_order_rooms))
    head = "| RT60 bin (s) | " + " | ".join(f"s/RIR {v} | RT60 meas/target {v}" for v, _, _ in variants) + " |"
    rows = [head, "|---|" + "---|---|" * len(variants)]
    rng = np.random.default_rng(0)
    warm = [sample_scene(rng, RoomConfig(**{**cfg.room.__dict__, "rt60": (0.2, 0.2)}), offsets)]
    for _, backend, _ in variants:
        backend.rirs(warm)  # first-call costs (imports, kernels, caches) are not per-RIR costs
    edges = np.round(np.arange(0.1, 1.01, 0.1), 2)
    for lo, hi in itertools.pairwise(edges):
        room = RoomConfig(**{**cfg.room.__dict__, "rt60": (float(lo), float(hi))})
        scenes = [sample_scene(rng, room, offsets) for _ in range(rooms_per_bin)]
        cells = [f"[{lo:.1f}, {hi:.1f})"]
        for _, backend, limit in variants:
            per, ratio = _time_backend(backend, scenes[:limit], cfg.sample_rate)
            cells += [f"{per:.3f}", f"{ratio:.2f}"]
        rows.append("| " + " | ".join(cells) + " |")
    rows += [f"| {name}: not run | {backend_status(name)} |" for name in backends if name not in runnable]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=None, help="simulate config (default: the schema defaults)")
    p.add_argument("--backends", nargs="+", default=None,
                   help="backends to compare (default: the config's); unavailable ones get a row saying why")
    p.add_argument("--clips", type=int, default=96)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rooms-per-bin", type=int, default=8)
    p.add_argument("--full-order-rooms", type=int, default=0,
                   help="also time this many rooms per bin with the plain full-order image sources (slow)")
    p.add_argument("--skip-builds", action="store_true", help="only the per-RIR table")
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. sample_rate=16000")
    args = p.parse_args()
    cfg = load_config(SimulateConfig, args.config, [f"source.synthetic.splits={{bench: {args.clips}}}",
                                                     *args.overrides])
    backends = args.backends or [cfg.backend.name]
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA GPU"
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}, "
          f"python {platform.python_version()}, torch {torch.__version__}\n")
    if not args.skip_builds:
        print("\n".join(time_builds(cfg, backends, args.workers)))
        print()
    print("\n".join(time_rirs(cfg, backends, args.rooms_per_bin, args.full_order_rooms)))


if __name__ == "__main__":
    main()
