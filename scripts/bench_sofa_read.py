#!/usr/bin/env python
"""How fast :class:`simulate.backends.sofa.SofaRoom` opens a measured room and reads its impulse responses.

Writes a SOFA file (``SingleRoomSRIR``, float64 as sofar writes it) of ``--positions`` measured positions x 4 mics
x ``--samples`` samples at 24 kHz into a temporary folder (a TAU-SRIR room has a few hundred to a few thousand
positions per file), then times: opening it (geometry only), ``rir(i)`` for random single positions (the file
is opened on every call), and ``rirs(...)`` for ``--batch`` random positions in one read.

    python scripts/bench_sofa_read.py --positions 360 --samples 7200 --repeats 20 --compression 4
    python scripts/bench_sofa_read.py --positions 360 --samples 7200 --repeats 20 --compression 0

sofar compresses by default (zlib level 4), and netCDF then reads whole compressed chunks, which may span many
positions; uncompressed files (as SpatialScaper writes its conversions with netCDF4) read one position at a time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import sofar

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.backends.sofa import SofaRoom

SAMPLE_RATE = 24000


def write_file(path: Path, *, positions: int, samples: int, compression: int) -> None:
    """A room of ``positions`` sources on a 1.5 m circle around a tetrahedral array, noise IRs."""
    mics = ARRAY_PRESETS["tetrahedral"]
    a = 2 * np.pi * np.arange(positions) / positions
    s = sofar.Sofa("SingleRoomSRIR")
    s.Data_IR = np.random.default_rng(0).standard_normal((positions, len(mics), samples)) * 1e-3
    s.Data_SamplingRate = SAMPLE_RATE
    s.SourcePosition = np.stack([1.5 * np.cos(a), 1.5 * np.sin(a), np.zeros(positions)], axis=1)
    s.SourcePosition_Type, s.SourcePosition_Units = "cartesian", "metre"
    s.ListenerPosition = np.zeros((positions, 3))
    s.ReceiverPosition = mics[:, :, None]
    s.ReceiverPosition_Type, s.ReceiverPosition_Units = "cartesian", "metre"
    s.ReceiverView = np.tile([1.0, 0.0, 0.0], (len(mics), 1))[:, :, None]
    s.ReceiverUp = np.tile([0.0, 0.0, 1.0], (len(mics), 1))[:, :, None]
    s.MeasurementDate = np.zeros(positions)
    s.Data_Delay = np.zeros((1, len(mics)))
    s.delete("ReceiverDescriptions")
    s.delete("EmitterDescriptions")
    sofar.write_sofa(str(path), s, compression=compression)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=360)
    parser.add_argument("--samples", type=int, default=7200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--compression", type=int, default=4, help="zlib level sofar writes with (0: none)")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "room.sofa"
        t0 = time.perf_counter()
        write_file(path, positions=args.positions, samples=args.samples, compression=args.compression)
        write_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        room = SofaRoom(path, n_mics=4, sample_rate=SAMPLE_RATE)
        open_s = timed(lambda: SofaRoom(path, n_mics=4, sample_rate=SAMPLE_RATE), args.repeats)
        one_s = timed(lambda: room.rir(int(rng.integers(args.positions))), args.repeats)
        batch_s = timed(lambda: room.rirs(rng.integers(0, args.positions, args.batch)), args.repeats)
    print(f"file: {args.positions} positions x 4 mics x {args.samples} samples, {size_mb:.1f} MB, "
          f"zlib level {args.compression}, written in {write_s:.2f} s")
    print(f"open (geometry only):       median {1e3 * statistics.median(open_s):7.2f} ms")
    print(f"rir(i), one position:       median {1e3 * statistics.median(one_s):7.2f} ms")
    print(f"rirs(...), {args.batch} positions:    median {1e3 * statistics.median(batch_s):7.2f} ms "
          f"({1e3 * statistics.median(batch_s) / args.batch:.2f} ms per position)")


if __name__ == "__main__":
    main()
