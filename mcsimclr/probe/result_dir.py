"""A probe's result directory: written once by ``mcsimclr probe``, read by ``mcsimclr report``.

::

    metrics.json                    test metrics, best validation metrics, run info ("run")
    config.yaml                     the resolved probe config (load_config(ProbeConfig, ...) reads it back)
    history.csv                     one row per evaluated epoch
    predictions.csv                 one row per test clip
    model.pt                        state dicts of the heads (and of the trained encoder after finetune/scratch)
    confusion.png, azimuth_error_vs_rt60.png, azimuth_error_vs_distance.png, azimuth_pred_vs_true.png
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mcsimclr.probe.metrics import circular_error_deg
from mcsimclr.probe.plots import plot_azimuth_scatter, plot_confusion, plot_error_by_bins

RESULT_FORMAT = "mcsimclr.probe_result"
RESULT_VERSION = 1
RESULT_FILE = "metrics.json"
PLOTS = ("confusion.png", "azimuth_error_vs_rt60.png", "azimuth_error_vs_distance.png", "azimuth_pred_vs_true.png")


class ResultError(ValueError):
    """A directory that does not hold a readable probe result."""


def _json_safe(value):
    """NaN and infinities become ``None`` (JSON has no NaN); NumPy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_result(out: Path, *, metrics: dict, config_yaml: str, history: list[dict], predictions: dict[str, np.ndarray],
                 class_names: Sequence[str], state: dict | None) -> None:
    """Write everything listed in the module docstring into ``out`` (created if needed). The classical modes
    (no classes predicted, nothing trained) pass ``metrics["confusion"] = None`` and ``state = None``: no
    ``confusion.png``, no ``model.pt``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(config_yaml)
    if history:
        with open(out / "history.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    with open(out / "predictions.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        keys = list(predictions)
        writer.writerow(keys)
        for row in zip(*(np.asarray(predictions[k]).tolist() for k in keys), strict=True):
            writer.writerow(row)
    if state is not None:
        torch.save(state, out / "model.pt")
    error = circular_error_deg(predictions["predicted_azimuth_deg"], predictions["azimuth_deg"])
    run = metrics["run"]
    title = f"{run['setting']}\n{run['mode']}, fraction {run['fraction']:g}, seed {run['seed']}"
    if metrics["confusion"] is not None:
        plot_confusion(np.asarray(metrics["confusion"]), class_names, out / "confusion.png",
                       title=f"{title}: accuracy {metrics['accuracy']:.1f} %")
    plot_error_by_bins(predictions["rt60_measured"], error, metrics["by_rt60"], out / "azimuth_error_vs_rt60.png",
                       xlabel="measured RT60 (s)", title=title)
    plot_error_by_bins(predictions["distance_m"], error, metrics["by_distance"],
                       out / "azimuth_error_vs_distance.png", xlabel="source distance (m)", title=title)
    plot_azimuth_scatter(predictions["azimuth_deg"], predictions["predicted_azimuth_deg"],
                         out / "azimuth_pred_vs_true.png",
                         title=f"{title}: mean error {metrics['azimuth_error_mean']:.1f} deg")
    # Written last: its presence marks a complete result.
    document = {"format": RESULT_FORMAT, "version": RESULT_VERSION, **metrics}
    tmp = out / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(_json_safe(document), indent=1, allow_nan=False) + "\n")
    tmp.replace(out / RESULT_FILE)


def read_result(path: str | Path) -> dict:
    """The ``metrics.json`` of a result directory (or the file itself), checked for format and version."""
    path = Path(path)
    file = path / RESULT_FILE if path.is_dir() else path
    if not file.is_file():
        raise ResultError(f"{path}: no {RESULT_FILE} (not a `mcsimclr probe` result directory, or an unfinished one)")
    try:
        doc = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ResultError(f"{file}: not readable as JSON ({err})") from err
    if not isinstance(doc, dict) or doc.get("format") != RESULT_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise ResultError(f"{file}: not a probe result (format {found!r})")
    if doc.get("version") != RESULT_VERSION:
        raise ResultError(f"{file}: result version {doc.get('version')}, this mcsimclr reads {RESULT_VERSION}")
    return doc


def find_results(paths: Sequence[str | Path]) -> list[Path]:
    """Result directories under ``paths``: each path is one, or a tree searched for ``metrics.json`` files.

    Raises:
        ResultError: a path that does not exist or holds no result.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ResultError(f"{p}: no such file or directory")
        if (p / RESULT_FILE).is_file() or p.name == RESULT_FILE:
            found.append(p if p.is_dir() else p.parent)
            continue
        below = sorted(f.parent for f in p.rglob(RESULT_FILE)) if p.is_dir() else []
        if not below:
            raise ResultError(f"{p}: holds no probe result ({RESULT_FILE}); run `mcsimclr probe` first")
        found.extend(below)
    unique = list(dict.fromkeys(q.resolve() for q in found))
    return unique
