"""Benchmark `simulate build`: clips/s with 1..N workers, and seconds per 4-mic RIR by RT60 bin.

Usage:
    python scripts/bench_simulate.py --clips 96 --workers 1 2 --rooms-per-bin 8 [--full-order-rooms 2]

Builds the same synthetic split (default config: paper rooms, RT60 U[0.1, 1.0], 24 kHz, clips 0.3-5 s) once
per worker count, side by side in one run, and times the backend alone on rooms drawn in each RT60 bin.
Prints markdown tables (docs/benchmarks.md keeps the results with this command and the machine).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import tempfile
import time

import numpy as np

from mcsimclr.config import load_config
from simulate.backends import make_backend
from simulate.build import build
from simulate.config import RoomConfig, SimulateConfig
from simulate.geometry import mic_offsets, sample_scene


def time_builds(config_path: str | None, clips: int, workers: list[int], overrides: list[str]) -> list[str]:
    cfg = load_config(SimulateConfig, config_path, [f"source.synthetic.splits={{bench: {clips}}}", *overrides])
    rows = ["| workers | clips | audio (min) | wall (s) | clips/s | speed-up |", "|---|---|---|---|---|---|"]
    base = None
    for n in workers:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            (path,) = build(cfg, out_dir=tmp, workers=n, progress=False, log=lambda _: None)
            wall = time.perf_counter() - start
            import h5py

            with h5py.File(path) as f:
                minutes = f["lengths"][()].sum() / cfg.sample_rate / 60
        base = base or wall
        rows.append(f"| {n} | {clips} | {minutes:.1f} | {wall:.1f} | {clips / wall:.2f} | {base / wall:.2f}x |")
    return rows


def time_rirs(config_path: str | None, rooms_per_bin: int, full_order_rooms: int, overrides: list[str]) -> list[str]:
    cfg = load_config(SimulateConfig, config_path, overrides)
    offsets = mic_offsets(cfg.array)
    edges = np.round(np.arange(0.1, 1.01, 0.1), 2)
    capped = make_backend(cfg.backend.name, sample_rate=cfg.sample_rate, max_order=cfg.backend.max_order,
                          speed_of_sound=cfg.room.speed_of_sound)
    full = make_backend(cfg.backend.name, sample_rate=cfg.sample_rate, max_order=None,
                        speed_of_sound=cfg.room.speed_of_sound)
    head = f"| RT60 bin (s) | s/RIR, max_order={cfg.backend.max_order} | measured/target RT60 |"
    rows = [head + (" s/RIR, full order | measured/target, full |" if full_order_rooms else ""),
            "|---|---|---|" + ("---|---|" if full_order_rooms else "")]
    from simulate.rt60 import measure_rt60_mics

    rng = np.random.default_rng(0)
    for lo, hi in itertools.pairwise(edges):
        room = RoomConfig(**{**cfg.room.__dict__, "rt60": (float(lo), float(hi))})
        scenes = [sample_scene(rng, room, offsets) for _ in range(rooms_per_bin)]
        cells = [f"[{lo:.1f}, {hi:.1f})"]
        for backend, subset in ((capped, scenes), (full, scenes[:full_order_rooms])):
            if not subset:
                continue
            start = time.perf_counter()
            results = backend.rirs(subset)
            per = (time.perf_counter() - start) / len(subset)
            ratio = np.nanmean([np.nanmean(measure_rt60_mics(r, sample_rate=cfg.sample_rate)) / s.rt60_target
                                for (r, _), s in zip(results, subset, strict=True)])
            cells += [f"{per:.3f}", f"{ratio:.2f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=None, help="simulate config (default: the schema defaults)")
    p.add_argument("--clips", type=int, default=96)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rooms-per-bin", type=int, default=8)
    p.add_argument("--full-order-rooms", type=int, default=0,
                   help="also time this many rooms per bin with the full image-source order (slow)")
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. sample_rate=16000")
    args = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}\n")
    print("\n".join(time_builds(args.config, args.clips, args.workers, args.overrides)))
    print()
    print("\n".join(time_rirs(args.config, args.rooms_per_bin, args.full_order_rooms, args.overrides)))


if __name__ == "__main__":
    main()
