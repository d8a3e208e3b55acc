"""The margin between two probes on the same test clips, with its standard error (paired by clip).

Both probes predict every clip of one test split (``predictions.csv`` in their result directories), so the
difference of their per-clip scores (correct or not, azimuth error) is a paired sample: its mean is the margin
and ``std / sqrt(n)`` its standard error, smaller than that of either accuracy alone.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mcsimclr.metrics import azimuth_error_deg


@dataclass(frozen=True)
class Margin:
    """``a - b`` on ``n`` clips: accuracy in points, mean azimuth error in degrees, each with its standard error.

    ``ratio_azimuth`` is ``a``'s mean azimuth error over ``b``'s.
    """

    n: int
    accuracy: float
    accuracy_se: float
    azimuth: float
    azimuth_se: float
    ratio_azimuth: float

    def text(self) -> str:
        return (f"accuracy {self.accuracy:+.1f} +- {self.accuracy_se:.1f} points, azimuth error "
                f"{self.azimuth:+.1f} +- {self.azimuth_se:.1f} deg (x{self.ratio_azimuth:.2f}), {self.n} test clips")


def _scores(path: Path) -> dict[int, tuple[float, float]]:
    """``clip -> (correct 0/1, azimuth error in degrees)`` from a probe's ``predictions.csv``."""
    file = path / "predictions.csv" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no predictions.csv in {path} (a result directory of mcsimclr probe)")
    with open(file, newline="") as fh:
        rows = list(csv.DictReader(fh))
    errors = azimuth_error_deg(torch.tensor([float(r["predicted_azimuth_deg"]) for r in rows], dtype=torch.float64),
                               torch.tensor([float(r["azimuth_deg"]) for r in rows], dtype=torch.float64))
    return {int(r["clip"]): (float(r["label"] == r["predicted"]), float(e)) for r, e in zip(rows, errors, strict=True)}


def paired_margin(a: str | Path, b: str | Path) -> Margin:
    """The margin of probe result ``a`` over ``b`` (directories or ``predictions.csv`` files).

    Raises:
        ValueError: the two were not evaluated on the same test clips.
    """
    sa, sb = _scores(Path(a)), _scores(Path(b))
    if sa.keys() != sb.keys():
        raise ValueError(f"{a} and {b} were evaluated on different test clips ({len(sa)} vs {len(sb)})")
    clips = sorted(sa)
    return margin_of(np.array([sa[c] for c in clips]), np.array([sb[c] for c in clips]))


def margin_of(a: np.ndarray, b: np.ndarray) -> Margin:
    """The margin of ``a`` over ``b``, per-clip scores ``(n, 2)`` of the same clips in the same order: column 0
    correct (0/1), column 1 azimuth error in degrees."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"margin_of expects two (n, 2) score arrays, got {a.shape} and {b.shape}")
    d = a - b  # (n, 2): correct, azimuth error
    n = len(d)
    se = d.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(2, np.nan)
    return Margin(n=n, accuracy=100.0 * d[:, 0].mean(), accuracy_se=100.0 * se[0], azimuth=d[:, 1].mean(),
                  azimuth_se=se[1], ratio_azimuth=a[:, 1].mean() / max(b[:, 1].mean(), 1e-12))
