"""A SELD result directory, written once by ``mcsimclr seld``::

    metrics.json      test metrics ("dcase2024", "dcase2023"), dev metrics of the selected epoch ("dev"), run info
    config.yaml       the resolved config (load_config(SeldConfig, ...) reads it back)
    history.csv       one row per epoch: training loss and dev metrics
    predictions.npz   per test scene the predicted FrameLabels arrays (scene{i}_active, ..._distance_m; hop_s)
    model.pt          state dicts of the head (and of the trained encoder after finetune/scratch)

``metrics.json`` is written last, through a temporary file: a directory without it is not a finished result.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch

from mcsimclr.probe.result_dir import _json_safe

RESULT_FORMAT = "mcsimclr.seld_result"
RESULT_VERSION = 1
RESULT_FILE = "metrics.json"


def write_seld_result(out: Path, *, metrics: dict, config_yaml: str, history: list[dict],
                      predictions: dict[str, np.ndarray], state: dict) -> None:
    """Write everything listed in the module docstring into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULT_FILE).unlink(missing_ok=True)  # an overwritten result is not complete until the end
    (out / "config.yaml").write_text(config_yaml)
    if history:
        with open(out / "history.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    np.savez_compressed(out / "predictions.npz", **predictions)
    torch.save(state, out / "model.pt")
    document = {"format": RESULT_FORMAT, "version": RESULT_VERSION, **metrics}
    tmp = out / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(_json_safe(document), indent=1, allow_nan=False) + "\n")
    tmp.replace(out / RESULT_FILE)
