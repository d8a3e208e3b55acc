"""ChannelDrop: zero whole Mel or GCC channels at random (MC-SimCLR, Sec. 3.6).

Without it the encoder tends to rely on one channel or a few; dropping channels makes it use all of them.
"""

from __future__ import annotations

import torch

from mcsimclr.augment.base import BatchAugmentation
from mcsimclr.augment.draws import uniform


class ChannelDrop(BatchAugmentation):
    """Zero each channel of each example independently with probability ``p``; identity in eval mode.

    Args:
        p: drop probability per channel (paper: 0.1).
        mel_fill_db: ``None`` (the paper's): a dropped channel is 0; else the value (dB) a dropped one of the first
            ``n_mel_channels`` (log-Mel) channels takes, e.g. the features' floor (silence); GCC channels get 0.
        n_mel_channels: the leading log-Mel channels (with ``mel_fill_db``).
    """

    def __init__(self, *, p: float = 0.1, mel_fill_db: float | None = None, n_mel_channels: int = 0) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        if mel_fill_db is not None and n_mel_channels < 1:
            raise ValueError(f"mel_fill_db needs n_mel_channels >= 1, got {n_mel_channels}")
        self.p = p
        self.mel_fill_db = mel_fill_db
        self.n_mel_channels = n_mel_channels

    def extra_repr(self) -> str:
        fill = "" if self.mel_fill_db is None else f", mel_fill_db={self.mel_fill_db}, n_mel={self.n_mel_channels}"
        return f"p={self.p}{fill}"

    def draw(self, batch: int, channels: int, *, device: torch.device,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Which channels to keep: ``(batch, channels)`` bool, each False with probability ``p``."""
        return uniform(batch, channels, device=device, generator=generator) >= self.p

    def apply(self, features: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Drop the channels not kept: ``(batch, channels, frames, bins)``, ``keep (batch, channels)``."""
        out = features * keep[:, :, None, None].to(features.dtype)
        if self.mel_fill_db is not None:
            dropped = ~keep[:, : self.n_mel_channels, None, None]
            out[:, : self.n_mel_channels] = out[:, : self.n_mel_channels].masked_fill(dropped, self.mel_fill_db)
        return out

    def expected_shape(self, features: torch.Tensor) -> str | None:
        return None if features.ndim == 4 else "(batch, channels, frames, bins)"

    def is_identity(self) -> bool:
        return self.p == 0.0

    def draw_for(self, features: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(*features.shape[:2], device=features.device, generator=generator)
