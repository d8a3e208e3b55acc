"""Benchmark the two-level bootstrap of a margin (``mcsimclr.probe.bootstrap.bootstrap_scores``) on the CPU.

Usage:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python scripts/bench_bootstrap.py --seeds 3 --clips 800 --n-boot 10000

Random per-clip scores (the time does not depend on them): ``--seeds`` seeds of ``--clips`` paired clips each;
seconds per call (median of ``--repeats`` after one warm-up) with seeds and clips resampled, and with clips only.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from mcsimclr.probe.bootstrap import bootstrap_scores


def seconds(scores: list[tuple[np.ndarray, np.ndarray]], *, n_boot: int, resample_seeds: bool, repeats: int) -> float:
    bootstrap_scores(scores, n_boot=n_boot, resample_seeds=resample_seeds)  # warm-up
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        bootstrap_scores(scores, n_boot=n_boot, seed=r, resample_seeds=resample_seeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--clips", type=int, default=800, help="test clips per seed")
    parser.add_argument("--n-boot", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if min(args.seeds, args.clips, args.n_boot, args.repeats) < 1:
        parser.error("--seeds, --clips, --n-boot and --repeats must be >= 1")
    rng = np.random.default_rng(0)
    scores = [tuple(np.stack([(rng.random(args.clips) < 0.5).astype(float), rng.uniform(0, 90, args.clips)], axis=1)
                    for _ in range(2)) for _ in range(args.seeds)]
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}: {args.seeds} seeds x {args.clips} "
          f"clips, {args.n_boot} resamples")
    print("| resampled | s per call (median) |\n|---|---|")
    for label, both in (("seeds and clips", True), ("clips only", False)):
        print(f"| {label} | {seconds(scores, n_boot=args.n_boot, resample_seeds=both, repeats=args.repeats):.3f} |")


if __name__ == "__main__":
    main()
