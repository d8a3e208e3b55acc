"""Self-describing checkpoints: what rebuilds the encoder and its front-end, and ``load_encoder``.

A pretraining checkpoint is a Lightning checkpoint with one more entry, ``"mcsimclr"``: the encoder's and the
features' keyword arguments, the array geometry and sample rate of the data, the full run config and the
package version. With it, ``load_encoder(path)`` needs nothing but the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

import mcsimclr
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models.crnn import CRNNEncoder
from mcsimclr.models.spatial_encoder import SpatialEncoder

CHECKPOINT_FORMAT = "mcsimclr.checkpoint"
CHECKPOINT_VERSION = 1
ENCODER_PREFIX = "encoder."


class CheckpointError(ValueError):
    """A file that is not an mcsimclr checkpoint, or one this version cannot read."""


def checkpoint_metadata(*, features: SpatialFeatures, encoder: CRNNEncoder, mic_offsets: np.ndarray,
                        array_geometry: str, config_yaml: str) -> dict[str, Any]:
    """The ``"mcsimclr"`` entry of a checkpoint (plain Python values only)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "package_version": mcsimclr.__version__,
        "features": features.get_config(),
        "encoder": encoder.get_config(),
        "mic_offsets": np.asarray(mic_offsets, dtype=np.float64).tolist(),
        "array_geometry": array_geometry,
        "sample_rate": features.sample_rate,
        "config_yaml": config_yaml,
    }


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU and check its ``"mcsimclr"`` entry."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise CheckpointError(f"{path}: cannot be read as a torch checkpoint ({err})") from err
    meta = ckpt.get("mcsimclr") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an mcsimclr checkpoint (no 'mcsimclr' entry)")
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta.get('version')}, this mcsimclr reads "
                              f"{CHECKPOINT_VERSION}")
    # Encoders saved before `input_norm` existed had no input normalisation.
    meta["encoder"].setdefault("input_norm", "none")
    return ckpt


def load_encoder(path: str | Path, *, device: torch.device | str = "cpu") -> SpatialEncoder:
    """Rebuild the pretrained encoder and its feature front-end from a checkpoint alone (eval mode).

    Example::

        model = mcsimclr.load_encoder("runs/pretrain/checkpoints/last.ckpt")
        emb = model(waveforms)   # (batch, mics, samples) at model.sample_rate -> (batch, 128)
    """
    ckpt = read_checkpoint(path)
    meta = ckpt["mcsimclr"]
    features = SpatialFeatures(**meta["features"])
    encoder = CRNNEncoder(**meta["encoder"])
    state = {k[len(ENCODER_PREFIX):]: v for k, v in ckpt["state_dict"].items() if k.startswith(ENCODER_PREFIX)}
    encoder.load_state_dict(state)
    model = SpatialEncoder(features, encoder, mic_offsets=np.asarray(meta["mic_offsets"]))
    return model.to(device).eval()
