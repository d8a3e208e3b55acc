"""MelGain (option, off by default): a random gain on the log-Mel channels of each view.

Not in the paper. Two crops of one clip share its level, a shortcut the contrastive task can use instead of
the content; a throwaway prototype (recipe.md, "Findings") removed it with a random +-6 dB gain per view.
The Mel channels are in dB, so a gain is an added constant; the GCC-PHAT channels are level-free anyway.
"""

from __future__ import annotations

import torch

from mcsimclr.augment.base import BatchAugmentation
from mcsimclr.augment.draws import uniform


class MelGain(BatchAugmentation):
    """Add ``g ~ U[-max_db, max_db]`` dB to all Mel channels of each example; identity in eval mode.

    Args:
        n_mel_channels: number of leading Mel channels (dB); the rest (GCC) are left alone.
        max_db: largest gain magnitude in dB.
    """

    def __init__(self, *, n_mel_channels: int, max_db: float = 6.0) -> None:
        super().__init__()
        if n_mel_channels < 1:
            raise ValueError(f"n_mel_channels must be >= 1, got {n_mel_channels}")
        if max_db < 0:
            raise ValueError(f"max_db must be >= 0, got {max_db}")
        self.n_mel_channels = n_mel_channels
        self.max_db = max_db

    def extra_repr(self) -> str:
        return f"n_mel_channels={self.n_mel_channels}, max_db={self.max_db}"

    def draw(self, batch: int, *, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Gains in dB ``(batch,)``, uniform in ``[-max_db, max_db]``."""
        return uniform(batch, device=device, generator=generator, low=-self.max_db, high=self.max_db)

    def apply(self, features: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
        """Add ``gain_db (batch,)`` to the Mel channels of ``(batch, channels, frames, bins)``."""
        out = features.clone()
        out[:, : self.n_mel_channels] += gain_db.to(features.dtype)[:, None, None, None]
        return out

    def expected_shape(self, features: torch.Tensor) -> str | None:
        if features.ndim == 4 and features.shape[1] >= self.n_mel_channels:
            return None
        return f"(batch, channels >= {self.n_mel_channels}, frames, bins)"

    def is_identity(self) -> bool:
        return self.max_db == 0.0

    def draw_for(self, features: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(features.shape[0], device=features.device, generator=generator)
