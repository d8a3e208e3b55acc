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
    """

    def __init__(self, *, p: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def draw(self, batch: int, channels: int, *, device: torch.device,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Which channels to keep: ``(batch, channels)`` bool, each False with probability ``p``."""
        return uniform(batch, channels, device=device, generator=generator) >= self.p

    def apply(self, features: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Zero the channels not kept: ``(batch, channels, frames, bins)``, ``keep (batch, channels)``."""
        return features * keep[:, :, None, None].to(features.dtype)

    def expected_shape(self, features: torch.Tensor) -> str | None:
        return None if features.ndim == 4 else "(batch, channels, frames, bins)"

    def is_identity(self) -> bool:
        return self.p == 0.0

    def draw_for(self, features: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(*features.shape[:2], device=features.device, generator=generator)
