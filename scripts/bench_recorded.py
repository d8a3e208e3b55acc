"""Benchmark ``simulate scenes`` on recorded data (``source.kind: dcase``): seconds per hour of recordings.

Usage:
    python scripts/bench_recorded.py --recordings 6 --seconds 60 --workers 1 2

Makes a STARSS23-layout folder in a temporary directory (``--recordings`` 4-channel 24-bit PCM WAVs of
``--seconds`` of noise at 24 kHz, one fold, DCASE CSVs with two events at once), then times a whole build of it
(read, check, label, write the scene file) with ``configs/simulate/scenes-starss23.yaml`` for each worker count.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from mcsimclr.core.config import load_config
from simulate.scenes.build import build_scenes
from simulate.scenes.config import ScenesConfig

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "simulate" / "scenes-starss23.yaml"
SR = 24000


def make_folder(root: Path, *, recordings: int, seconds: float) -> None:
    """``recordings`` WAV/CSV pairs in ``root/{mic_dev,metadata_dev}/dev-test-bench``."""
    rng = np.random.default_rng(0)
    frames = int(seconds * 10)
    for k in range(recordings):
        name = f"fold4_room{k}_mix001"
        (root / "mic_dev" / "dev-test-bench").mkdir(parents=True, exist_ok=True)
        (root / "metadata_dev" / "dev-test-bench").mkdir(parents=True, exist_ok=True)
        audio = (0.1 * rng.standard_normal((int(seconds * SR), 4))).astype(np.float32)
        sf.write(str(root / "mic_dev" / "dev-test-bench" / f"{name}.wav"), audio, SR, subtype="PCM_24")
        rows = [f"{f},1,0,{(f % 360) - 179},10,200\n{f},8,1,45,-5,310\n" for f in range(frames // 2)]
        (root / "metadata_dev" / "dev-test-bench" / f"{name}.csv").write_text("".join(rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=6, help="recordings in the folder")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each recording")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time")
    args = parser.parse_args(argv)
    hours = args.recordings * args.seconds / 3600
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "starss"
        make_folder(root, recordings=args.recordings, seconds=args.seconds)
        config = load_config(ScenesConfig, CONFIG, overrides=[
            f"source.dcase.root={root}", "source.dcase.folds={test: [dev-test-bench]}"])
        print(f"{args.recordings} recordings of {args.seconds:g} s ({hours:.3f} h), chunk_scenes "
              f"{config.output.chunk_scenes}")
        print("workers | seconds | seconds per hour of audio")
        for workers in args.workers:
            out = Path(tmp) / f"out-{workers}"
            start = time.perf_counter()
            build_scenes(config, out_dir=out, workers=workers, progress=False, log=lambda _: None)
            took = time.perf_counter() - start
            print(f"{workers:7d} | {took:7.2f} | {took / hours:7.1f}")


if __name__ == "__main__":
    main()
