"""Benchmark the classical direction baselines (SRP-PHAT, MUSIC of pyroomacoustics.doa) on the CPU.

Usage:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python scripts/bench_classical.py --seconds 1 3 --window 0.1

White noise on ``circular4`` at 16 kHz (the estimators' cost depends on the STFT frames, the band and the grid, not
on the content): milliseconds per call of ``estimate_azimuths`` for whole clips of ``--seconds`` (one source) and for
a scene frame's window of ``--window`` seconds with 1 and 2 sources; nfft 512, 300-3500 Hz, 1 deg grid.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from mcsimclr.classical.doa import METHODS, estimate_azimuths
from mcsimclr.core.array import ARRAY_PRESETS

RATE = 16000


def per_call_ms(audio: np.ndarray, *, method: str, num_src: int, repeats: int) -> float:
    mics = ARRAY_PRESETS["circular4"]
    estimate_azimuths(audio, mic_positions=mics, sample_rate=RATE, method=method, num_src=num_src)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        estimate_azimuths(audio, mic_positions=mics, sample_rate=RATE, method=method, num_src=num_src)
    return 1000.0 * (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 3.0], help="whole-clip lengths")
    parser.add_argument("--window", type=float, default=0.1, help="scene window, seconds")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    rng = np.random.default_rng(0)
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print("| input | sources | " + " | ".join(f"{m} (ms)" for m in METHODS) + " |")
    print("|---|---|" + "---|" * len(METHODS))
    cases = [(f"clip {s:g} s", s, 1) for s in args.seconds] + [(f"window {args.window:g} s", args.window, n)
                                                              for n in (1, 2)]
    for name, seconds, num_src in cases:
        audio = rng.standard_normal((4, round(seconds * RATE)))
        times = [per_call_ms(audio, method=m, num_src=num_src, repeats=args.repeats) for m in METHODS]
        print(f"| {name} | {num_src} | " + " | ".join(f"{t:.1f}" for t in times) + " |")


if __name__ == "__main__":
    main()
