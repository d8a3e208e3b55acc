"""Benchmark scene rendering on this CPU: scene-seconds simulated per second, static against moving, by RT60.

Usage:
    python scripts/bench_scene_build.py --scenes 4 --duration 5 --sample-rate 24000

For each RT60 bin, the same ``--scenes`` scenes (generator seed = scene index, so the same rooms, clips and
schedules) are rendered twice with ``simulate.scenes.scene.render_scene`` in this one process (1 worker, 1 thread
per library where they obey it): with static events only, and with moving events only (arc and line, equal
weights). Everything else is the default ``simulate scenes`` config (``SceneConfig()``, ``RoomConfig()`` but the RT60
bin): the circular4 array, synthetic clips of 0.3-5 s, 1-6 events, cap 3, the pyroomacoustics backend with its
defaults (diffuse tail, no order cap), RIRs every ``rir_step_s`` = 0.05 s along a moving path, diffuse noise.
The table gives per bin and kind the scene-seconds per wall second and per CPU second of this process (the CPU
figure is the steadier one when other work shares the cores), the wall seconds per scene, the events and the RIRs
computed (one per static event, one per block centre of a moving one). One scene (its own seed, not timed) warms up
first.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pyroomacoustics

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.backends import make_backend
from simulate.config import RoomConfig
from simulate.scenes.config import SceneConfig
from simulate.scenes.moving import block_count
from simulate.scenes.scene import render_scene
from simulate.sources.synthetic import SyntheticSource

KINDS = {"static": {"static": 1.0}, "moving": {"arc": 1.0, "line": 1.0}}


def parse_bins(text: str) -> list[tuple[float, float]]:
    """``"0.1-0.3,0.3-0.6"`` -> ``[(0.1, 0.3), (0.3, 0.6)]``."""
    bins = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        bins.append((float(low), float(high)))
    return bins


def machine_line() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"{platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.1f} at start, Python "
            f"{platform.python_version()}, numpy {np.__version__}, pyroomacoustics {pyroomacoustics.__version__}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=3, help="scenes per RT60 bin and kind")
    parser.add_argument("--duration", type=float, default=5.0, help="scene length, seconds")
    parser.add_argument("--sample-rate", type=int, default=24000)
    parser.add_argument("--bins", type=parse_bins, default=parse_bins("0.1-0.3,0.3-0.6,0.6-1.0"),
                        help="RT60 bins, seconds (default 0.1-0.3,0.3-0.6,0.6-1.0)")
    args = parser.parse_args(argv)
    if args.scenes < 1:
        parser.error(f"--scenes must be >= 1, got {args.scenes}")
    fs, s = args.sample_rate, SceneConfig(duration_s=args.duration)
    source = SyntheticSource(seed=0, splits={"bench": 50})
    clips = source.splits()["bench"]
    backend = make_backend("pyroomacoustics", sample_rate=fs, max_order=None, speed_of_sound=343.0)
    step = round(s.rir_step_s * fs)
    print(machine_line())
    print(f"{args.scenes} scenes of {args.duration:g} s per cell at {fs} Hz, 1 worker, RIR step {s.rir_step_s:g} s")
    print()
    print("| RT60 bin (s) | events | scene-s per wall s | scene-s per CPU s | wall s per scene | events/scene | "
          "RIRs/scene |")
    print("|---|---|---|---|---|---|---|")
    render_scene(np.random.default_rng(2**32 - 1), room=RoomConfig(), offsets=ARRAY_PRESETS["circular4"],
                 source=source, clips=clips, backend=backend, sample_rate=fs, duration_s=s.duration_s)
    for low, high in args.bins:
        room = RoomConfig(rt60=(low, high))
        for kind, weights in KINDS.items():
            wall, cpu, events, rirs = [], [], 0, 0
            for index in range(args.scenes):
                t0, c0 = time.perf_counter(), time.process_time()
                scene = render_scene(np.random.default_rng(index), room=room, offsets=ARRAY_PRESETS["circular4"],
                                     source=source, clips=clips, backend=backend, sample_rate=fs,
                                     duration_s=s.duration_s, n_events=s.n_events, max_polyphony=s.max_polyphony,
                                     trajectory_weights=weights, angular_speed_range=s.angular_speed,
                                     line_speed_range=s.line_speed, ebr_range_db=s.ebr_db, rir_step_s=s.rir_step_s)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                events += len(scene.events)
                rirs += sum(1 if e.trajectory.kind == "static" else
                            block_count(round(e.duration_s * fs), step_samples=step) for e in scene.events)
            total = sum(wall)
            seconds = args.scenes * args.duration
            print(f"| {low:g}-{high:g} | {kind} | {seconds / total:.2f} | {seconds / sum(cpu):.2f} | "
                  f"{total / args.scenes:.2f} | {events / args.scenes:.1f} | {rirs / args.scenes:.0f} |", flush=True)


if __name__ == "__main__":
    main()
