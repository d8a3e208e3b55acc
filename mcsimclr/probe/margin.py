"""The margin between two probes on the same test clips, with its standard error (paired by clip).

Both probes predict every clip of one test split (``predictions.csv`` in their result directories), so the
difference of their per-clip scores (correct or not, azimuth error) is a paired sample: its mean is the margin
and ``std / sqrt(n)`` its standard error, smaller than that of either accuracy alone. A result with several
random-encoder draws (a ``draw`` column) scores each clip by its mean over the draws. This standard error is
within one seed; :mod:`mcsimclr.probe.bootstrap` gives intervals over test clips and seeds together.
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


PREDICTION_COLUMNS = ("clip", "label", "predicted", "azimuth_deg", "predicted_azimuth_deg")


def _scores(path: Path) -> dict[int, tuple[float, float]]:
    """``clip -> (correct, azimuth error in degrees)`` from a probe's ``predictions.csv``.

    A random-linear result with K random-encoder draws has a ``draw`` column (0..K-1) and one row per (draw,
    clip); a clip's score is then its mean over the draws (``correct`` a fraction in [0, 1]), so the margin
    over it is the margin over the draws' mean accuracy and mean azimuth error. Without a ``draw`` column there
    is one row per clip (one draw).

    Raises:
        FileNotFoundError: no ``predictions.csv``.
        ValueError: a missing column, a clip twice in one draw, or draws that do not cover the same clips.
    """
    file = path / "predictions.csv" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no predictions.csv in {path} (a result directory of mcsimclr probe)")
    with open(file, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in PREDICTION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{file}: no column {', '.join(missing)} (expected {', '.join(PREDICTION_COLUMNS)}, "
                             f"and draw for several random-encoder draws); found {reader.fieldnames}")
        has_draw = "draw" in reader.fieldnames
        rows = list(reader)
    if not rows:
        raise ValueError(f"{file}: no predictions (an empty test split?)")
    errors = azimuth_error_deg(torch.tensor([float(r["predicted_azimuth_deg"]) for r in rows], dtype=torch.float64),
                               torch.tensor([float(r["azimuth_deg"]) for r in rows], dtype=torch.float64))
    draws: dict[int, dict[int, tuple[float, float]]] = {}
    for line, (r, e) in enumerate(zip(rows, errors.tolist(), strict=True), start=2):
        draw, clip = int(r["draw"]) if has_draw else 0, int(r["clip"])
        per_clip = draws.setdefault(draw, {})
        if clip in per_clip:
            where = f"draw {draw}, clip {clip}" if has_draw else f"clip {clip}"
            raise ValueError(f"{file}: line {line}: {where} a second time (one row per clip"
                             f"{' and draw' if has_draw else ''} expected)")
        per_clip[clip] = (float(r["label"] == r["predicted"]), e)
    return _mean_over_draws(draws, file)


def _mean_over_draws(draws: dict[int, dict[int, tuple[float, float]]], file: Path) -> dict[int, tuple[float, float]]:
    """Each clip's scores averaged over the draws, which must be 0..K-1 and cover the same clips."""
    numbers = sorted(draws)
    if numbers != list(range(len(numbers))):
        raise ValueError(f"{file}: draws {numbers}, expected 0..{len(numbers) - 1}")
    clips = draws[0].keys()
    for k in numbers[1:]:
        if draws[k].keys() != clips:
            only_0, only_k = sorted(clips - draws[k].keys()), sorted(draws[k].keys() - clips)
            raise ValueError(f"{file}: draw {k} covers other clips than draw 0 ({len(draws[k])} vs {len(clips)} "
                             f"clips; only in draw 0: {only_0[:5]}, only in draw {k}: {only_k[:5]}); every draw "
                             "must predict the same test clips")
    return {c: (sum(draws[k][c][0] for k in numbers) / len(numbers), sum(draws[k][c][1] for k in numbers)
                / len(numbers)) for c in clips}


def paired_scores(a: str | Path, b: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The per-clip scores ``(n, 2)`` of results ``a`` and ``b`` on their common test clips, in clip order:
    column 0 correct (0/1, or the fraction of draws), column 1 azimuth error in degrees.

    Raises:
        ValueError: the two were not evaluated on the same test clips.
    """
    sa, sb = _scores(Path(a)), _scores(Path(b))
    if sa.keys() != sb.keys():
        raise ValueError(f"{a} and {b} were evaluated on different test clips ({len(sa)} vs {len(sb)})")
    clips = sorted(sa)
    return np.array([sa[c] for c in clips]), np.array([sb[c] for c in clips])


def paired_margin(a: str | Path, b: str | Path) -> Margin:
    """The margin of probe result ``a`` over ``b`` (directories or ``predictions.csv`` files).

    Raises:
        ValueError: the two were not evaluated on the same test clips.
    """
    return margin_of(*paired_scores(a, b))


def margin_of(a: np.ndarray, b: np.ndarray) -> Margin:
    """The margin of ``a`` over ``b``, per-clip scores ``(n, 2)`` of the same clips in the same order: column 0
    correct (0/1, or the fraction of draws that got it right), column 1 azimuth error in degrees."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"margin_of expects two (n, 2) score arrays, got {a.shape} and {b.shape}")
    d = a - b  # (n, 2): correct, azimuth error
    n = len(d)
    se = d.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(2, np.nan)
    return Margin(n=n, accuracy=100.0 * d[:, 0].mean(), accuracy_se=100.0 * se[0], azimuth=d[:, 1].mean(),
                  azimuth_se=se[1], ratio_azimuth=a[:, 1].mean() / max(b[:, 1].mean(), 1e-12))
