#!/usr/bin/env python
"""Time the RIRs of many rooms per backend, in worker processes as ``simulate build`` runs them.

Usage:
    python scripts/bench_rooms.py --backends pyroomacoustics gpurir torchrir --rooms 2000 --workers 16
    python scripts/bench_rooms.py --backends pyroomacoustics --rooms 8 --workers 2 sample_rate=16000

The same ``--rooms`` rooms (drawn as ``simulate build`` draws them: paper ranges by default, room ``i`` from seed
``(seed, i)``) go through every backend: the 4-mic RIRs with the config's tail and order cap, ``--rooms-per-task``
rooms per ``backend.rirs`` call, in ``--workers`` spawned processes of one thread each. Workers of a CUDA backend
take the visible GPUs in turn (``simulate.blocks.start_worker``), as in a build. The pool is started and each worker
has made one room before the clock starts. Printed: wall time, rooms/s, and the time the same rate gives for
FSDnoisy18k's 18,532 clips (one room each; the convolution of the clips, which a build adds, is not included);
for gpuRIR also its ``simulateRIR`` calls per room (rooms that share a size share a call).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

import numpy as np

from mcsimclr.core.array import mic_offsets
from mcsimclr.core.config import load_config
from simulate.backends import backend_status, make_backend
from simulate.blocks import backend_gpus, single_threaded_env, start_worker
from simulate.config import SimulateConfig
from simulate.fidelity import sample_rooms

FSD_CLIPS = 18_532
_STATE: dict = {}


def _backend_kwargs(config: SimulateConfig) -> dict:
    b = config.backend
    return dict(sample_rate=config.sample_rate, max_order=b.max_order, speed_of_sound=config.room.speed_of_sound,
                air_absorption=b.air_absorption, **b.options())


def _init(name: str, kwargs: dict, gpus: list[str], counter) -> None:
    start_worker(gpus, counter)
    _STATE["backend"] = make_backend(name, **kwargs)


def _task(scenes: list) -> tuple[int, int, int]:
    """RIRs of ``scenes`` in one ``rirs`` call -> (rooms, backend calls, samples made)."""
    backend = _STATE["backend"]
    out = backend.rirs(scenes)
    return len(scenes), int(getattr(backend, "calls", len(scenes))), sum(int(r.size) for r, _ in out)


def time_backend(name: str, config: SimulateConfig, scenes: list, *, workers: int, per_task: int) -> str:
    """One markdown row: ``name`` on all ``scenes``."""
    reason = backend_status(name)
    if reason is not None:
        return f"| {name} | - | - | - | - | - | - | skipped: {reason} |"
    kwargs = _backend_kwargs(config)
    gpus = backend_gpus(make_backend(name, **kwargs))
    chunks = [scenes[i : i + per_task] for i in range(0, len(scenes), per_task)]
    ctx = mp.get_context("spawn")
    with single_threaded_env(), ctx.Pool(workers, initializer=_init,
                                         initargs=(name, kwargs, gpus, ctx.Value("i", 0))) as pool:
        pool.map(_task, [scenes[:1]] * workers, chunksize=1)  # start-up, imports, CUDA contexts, first kernels
        start = time.perf_counter()
        done = pool.map(_task, chunks, chunksize=1)
        wall = time.perf_counter() - start
    rooms, calls = sum(d[0] for d in done), sum(d[1] for d in done)
    rate = rooms / wall
    devices = f"{len(gpus)} GPU(s)" if gpus else "CPU"
    per_call = f"{rooms / calls:.2f}" if name == "gpurir" else "-"
    return (f"| {name} | {devices} | {workers} | {rooms} | {wall:.2f} | {rate:.1f} | {per_call} | "
            f"{FSD_CLIPS / rate / 60:.2f} min |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", nargs="+", default=["pyroomacoustics", "gpurir", "torchrir"])
    p.add_argument("--rooms", type=int, default=2000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rooms-per-task", type=int, default=50, help="rooms per backend.rirs call in a worker")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", default=None, help="simulate config (default: the schema defaults, paper rooms)")
    p.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. sample_rate=16000")
    args = p.parse_args(argv)
    if args.rooms < 1 or args.workers < 1 or args.rooms_per_task < 1:
        p.error("--rooms, --workers and --rooms-per-task must be >= 1")
    config = load_config(SimulateConfig, args.config, args.overrides)
    scenes = sample_rooms(args.rooms, seed=args.seed, room=config.room, offsets=mic_offsets(config.array))
    rt60 = np.array([s.rt60_target for s in scenes])
    print(f"{args.rooms} rooms (seed {args.seed}, RT60 {rt60.min():.2f}-{rt60.max():.2f} s), {config.sample_rate} Hz, "
          f"tail {config.backend.tail}, {args.rooms_per_task} rooms per task\n")
    print(f"| backend | devices | workers | rooms | wall (s) | rooms/s | rooms per gpuRIR call | "
          f"{FSD_CLIPS:,} rooms at this rate |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.backends:
        print(time_backend(name, config, scenes, workers=args.workers, per_task=args.rooms_per_task), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
