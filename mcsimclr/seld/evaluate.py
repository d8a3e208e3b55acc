"""Whole-scene SELD evaluation: run each scene through the model in one pass, decode, and score (DCASE 2024/2023)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.seld.accdoa import decode
from mcsimclr.seld.data import SceneSet
from mcsimclr.seld.metrics import seld_metrics_2023, seld_metrics_2024


@torch.no_grad()
def predict_scenes(predict: Callable[[torch.Tensor, int], torch.Tensor], data: SceneSet, *, n_classes: int,
                   with_distance: bool, distance_scale: float) -> list[FrameLabels]:
    """Decoded predictions, one :class:`FrameLabels` per scene of ``data``.

    Args:
        predict: ``(1, mics, samples), n_label_frames -> (1, n_label_frames, 3, coords, n_classes)`` (the model in
            eval mode); each scene runs whole, in one pass (the GRU sees the whole scene).
    """
    out = []
    for audio, labels in zip(data.audio, data.labels, strict=True):
        y = predict(audio.float()[None], labels.frames)[0]  # (frames, 3, coords, classes)
        out.append(decode(y.reshape(labels.frames, -1), n_classes=n_classes, with_distance=with_distance,
                          hop_s=data.hop_s, distance_scale=distance_scale))
    return out


def score(predictions: list[FrameLabels], references: list[FrameLabels], *, n_classes: int,
          use_distance: bool) -> dict:
    """``{"dcase2024": ..., "dcase2023": ...}``: the two metric sets, per-class arrays as lists."""
    m24 = seld_metrics_2024(predictions, references, n_classes=n_classes, use_distance=use_distance)
    m23 = seld_metrics_2023(predictions, references, n_classes=n_classes)
    return {"dcase2024": _plain(m24), "dcase2023": _plain(m23)}


def _plain(metrics: dict) -> dict:
    out = {k: float(v) for k, v in metrics.items() if k != "per_class"}
    out["per_class"] = {k: np.asarray(v, dtype=float).tolist() for k, v in metrics.get("per_class", {}).items()}
    return out


def labels_arrays(labels: list[FrameLabels]) -> dict[str, np.ndarray]:
    """Per-scene FrameLabels arrays for an ``.npz``: ``scene{i}_{field}`` and ``hop_s``."""
    out: dict[str, np.ndarray] = {"hop_s": np.array(labels[0].hop_s if labels else 0.1)}
    for i, lab in enumerate(labels):
        for name in ("active", "class_index", "azimuth_deg", "elevation_deg", "distance_m"):
            out[f"scene{i}_{name}"] = np.asarray(getattr(lab, name))
    return out
