"""The encoder a probe starts from: a pretrained checkpoint's, or a random one of the same architecture."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models.crnn import CRNNEncoder
from mcsimclr.models.spatial_encoder import SpatialEncoder


def random_encoder(*, features: dict[str, Any], encoder: dict[str, Any], mic_offsets: np.ndarray,
                   seed: int) -> SpatialEncoder:
    """A randomly initialised :class:`SpatialEncoder` (PyTorch's default initialisation, seeded) in eval mode.

    Args:
        features: keyword arguments of :class:`SpatialFeatures` (e.g. a checkpoint's ``"features"``).
        encoder: keyword arguments of :class:`CRNNEncoder` (e.g. a checkpoint's ``"encoder"``).
        mic_offsets: the array ``(mics, 3)``.
        seed: initialisation seed; the global random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SpatialEncoder(SpatialFeatures(**features), CRNNEncoder(**encoder), mic_offsets=mic_offsets)
    return model.eval()
