"""One convolutional block of the CRNN encoder: (Conv 3x3 -> BatchNorm -> ReLU) x 2, pooling, dropout."""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Module):
    """``(batch, in_channels, frames, bins)`` -> ``(batch, out_channels, frames // time_pool, bins // freq_pool)``.

    Two 3x3 convolutions with "same" padding, each followed by BatchNorm and ReLU (VGG-style, as in the PANNs
    CNN blocks), then max pooling by ``(time_pool, freq_pool)`` (floor: a trailing remainder is dropped, as in
    the DCASE SELD baseline) and optional dropout. Convolutions have no bias: BatchNorm adds one.

    Args:
        in_channels, out_channels: feature maps in and out.
        time_pool: pooling factor along frames (1 = none).
        freq_pool: pooling factor along bins (1 = none).
        dropout: dropout probability after pooling (0 = none).
    """

    def __init__(self, *, in_channels: int, out_channels: int, time_pool: int = 1, freq_pool: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be >= 1, got in_channels={in_channels}, out_channels={out_channels}")
        if time_pool < 1 or freq_pool < 1:
            raise ValueError(f"pooling factors must be >= 1, got time_pool={time_pool}, freq_pool={freq_pool}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.time_pool = time_pool
        self.freq_pool = freq_pool
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.MaxPool2d((time_pool, freq_pool)) if time_pool * freq_pool > 1 else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def extra_repr(self) -> str:
        return f"time_pool={self.time_pool}, freq_pool={self.freq_pool}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_channels, frames, bins)`` -> ``(batch, out_channels, frames', bins')``, floor pooling."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvBlock expects (batch, {self.in_channels}, frames, bins), got {tuple(x.shape)}")
        if x.shape[2] < self.time_pool or x.shape[3] < self.freq_pool:
            raise ValueError(f"ConvBlock pools by ({self.time_pool}, {self.freq_pool}): needs frames >= "
                             f"{self.time_pool} and bins >= {self.freq_pool}, got {tuple(x.shape)}")
        return self.dropout(self.pool(self.layers(x)))
