"""Waveforms to embeddings: the feature front-end and the encoder together, as ``load_encoder`` returns them."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models.crnn import CRNNEncoder


class SpatialEncoder(nn.Module):
    """``(batch, mics, samples)`` waveforms -> ``(batch, embed_dim)`` embeddings.

    Args:
        features: the front-end the encoder was trained with.
        encoder: the CRNN.
        mic_offsets: the array the data was recorded (simulated) with ``(mics, 3)``, metres.
    """

    def __init__(self, features: SpatialFeatures, encoder: CRNNEncoder, *, mic_offsets: np.ndarray) -> None:
        super().__init__()
        if features.out_channels != encoder.in_channels:
            raise ValueError(f"features give {features.out_channels} channels, encoder takes {encoder.in_channels}")
        self.features = features
        self.encoder = encoder
        self.mic_offsets = np.asarray(mic_offsets, dtype=np.float64)

    @property
    def sample_rate(self) -> int:
        return self.features.sample_rate

    @property
    def embed_dim(self) -> int:
        return self.encoder.embed_dim

    @property
    def frame_hop_s(self) -> float:
        """Seconds between two steps of :meth:`frames`."""
        return self.encoder.min_frames * self.features.hop_length / self.features.sample_rate

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``(batch, mics, samples)`` -> ``(batch, embed_dim)``."""
        return self.encoder(self.features(waveforms))

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        """``(batch, mics, samples)`` -> the encoder's frame sequence ``(batch, frames', encoder.frame_dim)``, one step
        every :attr:`frame_hop_s` seconds (``CRNNEncoder.frames``)."""
        return self.encoder.frames(self.features(waveforms))
