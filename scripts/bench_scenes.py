"""Benchmark the scene building blocks on CPU: whole scenes, and the diffuse noise alone.

Usage:
    python scripts/bench_scenes.py --scenes 5 --duration 5 --sample-rate 24000 --rir-step 0.05

Scenes: the default room ranges (``RoomConfig()``), the circular4 array, synthetic clips of 0.3-5 s, the
pyroomacoustics backend with its defaults (diffuse tail, no order cap), 1-6 events, cap 3, equal shares of
static / arc / line paths. Each scene has its own generator (seed = scene index). The table gives per scene the
seconds, the events, the RIRs computed (one per static event, one per block centre of a moving one) and the
seconds per RIR; then the seconds of ``diffuse_noise`` for the scene length and for 60 s.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.backends import make_backend
from simulate.config import RoomConfig
from simulate.scenes.moving import block_count
from simulate.scenes.noise import diffuse_noise
from simulate.scenes.scene import render_scene
from simulate.sources.synthetic import SyntheticSource


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=5, help="scenes to render")
    parser.add_argument("--duration", type=float, default=5.0, help="scene length, seconds")
    parser.add_argument("--sample-rate", type=int, default=24000)
    parser.add_argument("--rir-step", type=float, default=0.05, help="RIR spacing along moving paths, seconds")
    parser.add_argument("--max-order", type=int, default=None, help="image-source order cap (default: none)")
    args = parser.parse_args(argv)
    if args.scenes < 1:
        parser.error(f"--scenes must be >= 1, got {args.scenes}")
    fs = args.sample_rate
    room = RoomConfig()
    source = SyntheticSource(seed=0, splits={"bench": 50})
    clips = source.splits()["bench"]
    backend = make_backend("pyroomacoustics", sample_rate=fs, max_order=args.max_order,
                           speed_of_sound=room.speed_of_sound)
    step = round(args.rir_step * fs)
    print(f"{platform.processor() or platform.machine()}, {args.duration:g} s scenes at {fs} Hz, "
          f"RIR step {args.rir_step:g} s, max_order {args.max_order}")
    print(f"{'scene':>5} {'seconds':>8} {'events':>6} {'RIRs':>5} {'s/RIR':>6}  kinds")
    totals = []
    for index in range(args.scenes):
        t0 = time.perf_counter()
        scene = render_scene(np.random.default_rng(index), room=room, offsets=ARRAY_PRESETS["circular4"],
                             source=source, clips=clips, backend=backend, sample_rate=fs,
                             duration_s=args.duration, rir_step_s=args.rir_step)
        seconds = time.perf_counter() - t0
        totals.append(seconds)
        rirs = sum(1 if e.trajectory.kind == "static" else block_count(round(e.duration_s * fs), step_samples=step)
                   for e in scene.events)
        kinds = ",".join(e.trajectory.kind for e in scene.events)
        print(f"{index:>5} {seconds:>8.2f} {len(scene.events):>6} {rirs:>5} {seconds / rirs:>6.3f}  {kinds}")
    print(f"median {np.median(totals):.2f} s per scene")
    mics = ARRAY_PRESETS["circular4"]
    for seconds in (args.duration, 60.0):
        t0 = time.perf_counter()
        diffuse_noise(np.random.default_rng(0), mic_positions=mics, samples=round(seconds * fs), sample_rate=fs,
                      speed_of_sound=room.speed_of_sound)
        print(f"diffuse_noise {seconds:g} s: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
