"""The SELD model: the encoder's frame sequence, pooled to the 100 ms label frames, and a linear multi-ACCDOA head.

Frames: :meth:`SpatialEncoder.frames` steps every ``frame_hop_s`` (40 ms for the demo features), which need not
divide the label hop; adaptive average pooling over time (``torch.nn.functional.adaptive_avg_pool1d``) maps the
``frames'`` encoder steps of a window onto its ``n_label_frames`` label frames (each label frame averages the
encoder steps that overlap it, in proportion). Output activations: the x, y, z of each track and class through
``tanh`` (an ACCDOA vector lies in the unit ball), the distance through a ReLU (non-negative, and exactly 0 where
nothing is active, as the DCASE 2024 baseline does).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mcsimclr.models.spatial_encoder import SpatialEncoder
from mcsimclr.probe.grad_scale import grad_scale
from mcsimclr.seld.accdoa import TRACKS


def pool_to_label_frames(frames: torch.Tensor, n_label_frames: int) -> torch.Tensor:
    """``(batch, frames', dim)`` encoder steps -> ``(batch, n_label_frames, dim)`` by adaptive average pooling."""
    if frames.ndim != 3:
        raise ValueError(f"frames must be (batch, frames', dim), got shape {tuple(frames.shape)}")
    if n_label_frames < 1:
        raise ValueError(f"n_label_frames must be >= 1, got {n_label_frames}")
    return F.adaptive_avg_pool1d(frames.transpose(1, 2), n_label_frames).transpose(1, 2)


class AccdoaHead(nn.Module):
    """Linear multi-ACCDOA head: ``(batch, frames, dim)`` -> ``(batch, frames, 3 tracks, coords, n_classes)``.

    Args:
        in_dim: frame feature size.
        n_classes: classes.
        with_distance: 4 coordinates (x, y, z, distance / scale) instead of 3.
    """

    def __init__(self, in_dim: int, *, n_classes: int, with_distance: bool) -> None:
        super().__init__()
        if in_dim < 1 or n_classes < 1:
            raise ValueError(f"in_dim and n_classes must be >= 1, got {in_dim}, {n_classes}")
        self.n_classes = int(n_classes)
        self.with_distance = bool(with_distance)
        self.coords = 4 if with_distance else 3
        self.linear = nn.Linear(in_dim, TRACKS * self.coords * self.n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.ndim != 3 or features.shape[-1] != self.linear.in_features:
            raise ValueError(f"features must be (batch, frames, {self.linear.in_features}), got "
                             f"{tuple(features.shape)}")
        b, t, _ = features.shape
        out = self.linear(features).view(b, t, TRACKS, self.coords, self.n_classes)
        xyz = torch.tanh(out[:, :, :, :3])
        if not self.with_distance:
            return xyz
        return torch.cat([xyz, F.relu(out[:, :, :, 3:])], dim=3)


class SeldModel(nn.Module):
    """``(batch, mics, samples)`` -> multi-ACCDOA ``(batch, n_label_frames, 3, coords, n_classes)``.

    Args:
        encoder: the feature front-end and CRNN (pretrained or random).
        n_classes: classes of the scene files.
        with_distance: predict distance too (coords = 4).
        encoder_grad_scale: gradient reaching the encoder is multiplied by this (identity forward); 0.1 for
            ``finetune``, 1 for ``scratch``. The linear modes do not run the encoder here (cached features).
    """

    def __init__(self, encoder: SpatialEncoder, *, n_classes: int, with_distance: bool,
                 encoder_grad_scale: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= encoder_grad_scale <= 1.0:
            raise ValueError(f"encoder_grad_scale must be in [0, 1], got {encoder_grad_scale}")
        self.encoder = encoder
        self.encoder_grad_scale = float(encoder_grad_scale)
        self.head = AccdoaHead(encoder.encoder.frame_dim, n_classes=n_classes, with_distance=with_distance)

    def label_frame_features(self, waveforms: torch.Tensor, n_label_frames: int) -> torch.Tensor:
        """``(batch, mics, samples)`` -> encoder features pooled to label frames ``(batch, n_label_frames, dim)``."""
        return pool_to_label_frames(self.encoder.frames(waveforms), n_label_frames)

    def forward(self, waveforms: torch.Tensor, n_label_frames: int) -> torch.Tensor:
        features = self.label_frame_features(waveforms, n_label_frames)
        return self.head(grad_scale(features, self.encoder_grad_scale))
