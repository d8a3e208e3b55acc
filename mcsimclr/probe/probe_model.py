"""Encoder and heads in one module for fine-tuning: waveforms -> embedding -> gradient scale -> heads."""

from __future__ import annotations

import torch
from torch import nn

from mcsimclr.models.spatial_encoder import SpatialEncoder
from mcsimclr.probe.grad_scale import GradScale
from mcsimclr.probe.heads import ProbeHeads


class ProbeModel(nn.Module):
    """``(batch, mics, samples)`` waveforms -> class logits ``(batch, n_classes)`` and direction output
    ``(batch, 2 | n_bins)``.

    The :class:`GradScale` between encoder and heads multiplies every gradient that reaches the encoder by
    ``encoder_grad_scale`` (MC-SimCLR fine-tuning: 0.1; supervised from scratch: 1); the heads get their full
    gradient.

    Args:
        encoder: features + CRNN.
        heads: the two linear heads.
        encoder_grad_scale: in [0, 1].
    """

    def __init__(self, encoder: SpatialEncoder, heads: ProbeHeads, *, encoder_grad_scale: float = 1.0) -> None:
        super().__init__()
        if heads.embed_dim != encoder.embed_dim:
            raise ValueError(f"heads take {heads.embed_dim}-d embeddings, the encoder gives {encoder.embed_dim}")
        self.encoder = encoder
        self.scale = GradScale(encoder_grad_scale)
        self.heads = heads

    def forward(self, waveforms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, mics, samples)`` -> ``(logits, direction)``."""
        return self.heads(self.scale(self.encoder(waveforms)))
