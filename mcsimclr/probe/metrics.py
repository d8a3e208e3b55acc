"""The numbers of a probe on the test clips: accuracy, circular azimuth error, per class and by RT60/distance bins.

All functions take NumPy arrays, one row per test clip, and return plain Python values (JSON-ready; ``None``
where a value is undefined, e.g. the accuracy of a class with no test clip).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def circular_error_deg(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Absolute circular difference in degrees, in [0, 180]: 350 vs 10 is 20. Same shapes in and out."""
    diff = np.remainder(np.asarray(predicted, dtype=np.float64) - np.asarray(target, dtype=np.float64) + 180.0,
                        360.0) - 180.0
    return np.abs(diff)


def per_class_accuracy(predicted: np.ndarray, label: np.ndarray, class_names: Sequence[str]) -> dict[str, dict]:
    """``{class name: {"accuracy": % or None, "count": clips of that class}}``, in class order."""
    predicted, label = np.asarray(predicted), np.asarray(label)
    out = {}
    for c, name in enumerate(class_names):
        mask = label == c
        n = int(mask.sum())
        out[name] = {"accuracy": 100.0 * float((predicted[mask] == c).mean()) if n else None, "count": n}
    return out


def confusion_matrix(predicted: np.ndarray, label: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``(n_classes, n_classes)`` int64: row = true class, column = predicted class."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(label, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return counts


def bin_edges(values: np.ndarray, *, width: float) -> np.ndarray:
    """Edges ``0, width, 2 width, ...`` covering the finite ``values`` (at least one bin)."""
    if width <= 0:
        raise ValueError(f"bin width must be > 0, got {width}")
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else width
    n = max(1, math.floor(top / width + 1e-9) + 1)
    return np.arange(n + 1) * width


def binned(values: np.ndarray, error: np.ndarray, correct: np.ndarray, *, width: float) -> list[dict]:
    """Azimuth error and accuracy by bins of ``values`` (e.g. RT60 in s, distance in m) of ``width``.

    Bin ``[lo, hi)``; every bin from 0 to the largest value is listed, empty ones with ``count`` 0 and ``None``
    values. Clips whose value is NaN (e.g. an RT60 that could not be measured) go to a last bin with
    ``lo = hi = None``, listed only if there are any.

    Returns:
        ``[{"lo", "hi", "count", "azimuth_error_mean", "azimuth_error_median", "accuracy"}, ...]``.
    """
    values = np.asarray(values, dtype=np.float64)
    error, correct = np.asarray(error, dtype=np.float64), np.asarray(correct, dtype=bool)
    edges = bin_edges(values, width=width)
    finite = np.isfinite(values)
    which = np.full(values.shape, -1, dtype=np.int64)
    which[finite] = np.clip(np.floor(values[finite] / width + 1e-9).astype(np.int64), 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        rows.append(_bin_row(float(edges[b]), float(edges[b + 1]), which == b, error, correct))
    if (~finite).any():
        rows.append(_bin_row(None, None, ~finite, error, correct))
    return rows


def _bin_row(lo: float | None, hi: float | None, mask: np.ndarray, error: np.ndarray, correct: np.ndarray) -> dict:
    n = int(mask.sum())
    return {
        "lo": None if lo is None else round(lo, 6), "hi": None if hi is None else round(hi, 6), "count": n,
        "azimuth_error_mean": float(error[mask].mean()) if n else None,
        "azimuth_error_median": float(np.median(error[mask])) if n else None,
        "accuracy": 100.0 * float(correct[mask].mean()) if n else None,
    }


def probe_metrics(*, predicted: np.ndarray, label: np.ndarray, predicted_azimuth: np.ndarray,
                  azimuth: np.ndarray, rt60: np.ndarray, distance: np.ndarray, class_names: Sequence[str],
                  rt60_bin_s: float = 0.1, distance_bin_m: float = 0.5) -> dict:
    """Everything the result JSON reports about the test clips.

    Args:
        predicted, label: predicted and true class per clip ``(n,)``.
        predicted_azimuth, azimuth: degrees ``(n,)``.
        rt60: measured RT60 per clip, s (NaN where not measurable) ``(n,)``.
        distance: source distance per clip, m ``(n,)``.
        class_names: names of the class indices.
        rt60_bin_s, distance_bin_m: bin widths.

    Returns:
        ``accuracy`` (%), ``azimuth_error_mean``/``_median`` (degrees), ``n_clips``, ``per_class``,
        ``by_rt60``, ``by_distance`` (see :func:`binned`) and ``confusion`` (counts, rows = true class).
    """
    predicted, label = np.asarray(predicted), np.asarray(label)
    if not (predicted.shape == label.shape == np.shape(predicted_azimuth) == np.shape(azimuth) == np.shape(rt60)
            == np.shape(distance)) or predicted.ndim != 1:
        raise ValueError("probe_metrics needs equal 1-d arrays, one row per clip")
    if predicted.size == 0:
        raise ValueError("probe_metrics needs at least one clip")
    error = circular_error_deg(predicted_azimuth, azimuth)
    correct = predicted == label
    return {
        "accuracy": 100.0 * float(correct.mean()),
        "azimuth_error_mean": float(error.mean()),
        "azimuth_error_median": float(np.median(error)),
        "n_clips": int(predicted.size),
        "per_class": per_class_accuracy(predicted, label, class_names),
        "by_rt60": binned(rt60, error, correct, width=rt60_bin_s),
        "by_distance": binned(distance, error, correct, width=distance_bin_m),
        "confusion": confusion_matrix(predicted, label, len(class_names)).tolist(),
    }
