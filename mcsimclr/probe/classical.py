"""``mcsimclr probe --mode srp-phat|music``: the classical direction baselines on ``data.test``, no learning.

No checkpoint, no training data, no training: ``pyroomacoustics.doa`` SRP-PHAT or MUSIC on each whole test clip with
the file's array (:func:`mcsimclr.classical.clips.evaluate_clips`). The result directory has the same files as a
probe's, without the class parts: ``accuracy`` is ``null`` (no class prediction; ``predicted`` is -1 in
``predictions.csv``), no confusion matrix, no ``model.pt``. ``mcsimclr report`` shows it as the row
``SRP-PHAT (no learning)`` / ``MUSIC (no learning)``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

import mcsimclr
from mcsimclr.classical.clips import evaluate_clips
from mcsimclr.core.config import dump_yaml
from mcsimclr.core.h5schema import SpatialClipsFile
from mcsimclr.probe.config import ProbeConfig
from mcsimclr.probe.labelled_data import check_labels
from mcsimclr.probe.metrics import binned
from mcsimclr.probe.result_dir import write_result
from mcsimclr.probe.setting import CLASSICAL_SETTINGS

__all__ = ["run_classical"]


def run_classical(config: ProbeConfig, *, out: Path) -> dict:
    """Score ``config.data.test`` with ``config.mode`` (``srp-phat`` or ``music``) and write the result in ``out``.

    Returns the metrics written (``accuracy`` NaN). Raises DataError for an unusable test file, as every probe.
    """
    started = time.perf_counter()
    test = check_labels(config.data.test)
    c = config.classical
    scored = evaluate_clips(test.path, method=config.mode, nfft=c.nfft, freq_range=tuple(c.freq_range),
                            grid_deg=c.grid_deg, speed_of_sound=c.speed_of_sound)
    with SpatialClipsFile(test.path) as clips:
        columns = {k: np.asarray(clips.column(k), dtype=np.float64) for k in ("rt60_measured", "distance_m")}
        label = np.asarray(clips.column("label"), dtype=np.int64)
    error, n = scored["error_deg"], scored["n_clips"]
    no_class = np.zeros(n, dtype=bool)
    by = {key: [{**row, "accuracy": None} for row in binned(columns[col], error, no_class, width=width)]
          for key, col, width in (("by_rt60", "rt60_measured", config.metrics.rt60_bin_s),
                                  ("by_distance", "distance_m", config.metrics.distance_bin_m))}
    setting = config.label or CLASSICAL_SETTINGS[config.mode]
    metrics = {
        "accuracy": math.nan, "azimuth_error_mean": scored["azimuth_error_mean"],
        "azimuth_error_median": scored["azimuth_error_median"], "n_clips": n, "per_class": None, **by,
        "confusion": None, "val": None,
        "run": {"mode": config.mode, "fraction": 1.0, "seed": config.seed, "label": config.label,
                "setting": setting, "checkpoint": "", "data": {"test": str(test.path)}, "n_clips": {"test": n},
                "classical": {"method": config.mode, "nfft": c.nfft, "freq_range": list(c.freq_range),
                              "grid_deg": c.grid_deg, "speed_of_sound": c.speed_of_sound,
                              "array_geometry": test.array_geometry, "sample_rate": test.sample_rate},
                "package_version": mcsimclr.__version__, "wall_time_s": round(time.perf_counter() - started, 3)},
    }
    write_result(out, metrics=metrics, config_yaml=dump_yaml(config), history=[],
                 predictions={"clip": np.arange(n), "label": label, "predicted": np.full(n, -1),
                              "azimuth_deg": scored["azimuth_deg"], **columns,
                              "predicted_azimuth_deg": scored["predicted_azimuth_deg"]},
                 class_names=test.class_names, state=None)
    return metrics
