"""PNG figures of a probe result (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], path: Path, *, title: str = "") -> None:
    """Confusion matrix ``(classes, classes)`` (rows = true class), normalised per true class, as a heat map."""
    plt = _pyplot()
    counts = np.asarray(confusion, dtype=np.float64)
    rows = counts.sum(axis=1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    n = len(class_names)
    size = max(4.0, 0.42 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), class_names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=5,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_title(title or "confusion matrix (normalised per true class)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_error_by_bins(values: np.ndarray, error: np.ndarray, bins: list[dict], path: Path, *, xlabel: str,
                       title: str = "") -> None:
    """Per-clip azimuth error against ``values`` (dots) with the binned mean (line) and each bin's count."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    finite = np.isfinite(values)
    ax.scatter(np.asarray(values)[finite], np.asarray(error)[finite], s=6, alpha=0.3, color="0.5", label="clips")
    rows = [b for b in bins if b["lo"] is not None and b["count"]]
    if rows:
        centres = [(b["lo"] + b["hi"]) / 2 for b in rows]
        means = [b["azimuth_error_mean"] for b in rows]
        ax.plot(centres, means, "o-", color="C0", label="bin mean")
        for x, y, b in zip(centres, means, rows, strict=True):
            ax.annotate(f"n={b['count']}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center",
                        fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("azimuth error (deg)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_azimuth_scatter(true_deg: np.ndarray, predicted_deg: np.ndarray, path: Path, *, title: str = "") -> None:
    """Predicted against true azimuth (degrees), with the diagonal; wrap-around errors sit in the corners."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    ax.plot([-180, 180], [-180, 180], color="0.7", lw=1)
    ax.scatter(true_deg, predicted_deg, s=8, alpha=0.6)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-180, 180)
    ax.set_xticks(range(-180, 181, 90))
    ax.set_yticks(range(-180, 181, 90))
    ax.set_xlabel("true azimuth (deg)")
    ax.set_ylabel("predicted azimuth (deg)")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
