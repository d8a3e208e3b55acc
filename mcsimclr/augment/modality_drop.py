"""ModalityDrop (option, off by default): zero all Mel or all GCC channels of a view.

Not in the paper. A throwaway prototype (recipe.md, "Findings") found that with the paper's augmentations alone
the contrastive task is solved from spectral and level cues and the encoder discards direction; dropping one
whole modality per view (Mel with probability 0.2, else GCC with probability 0.2) forced it to keep both.
"""

from __future__ import annotations

import torch

from mcsimclr.augment.base import BatchAugmentation
from mcsimclr.augment.draws import uniform


class ModalityDrop(BatchAugmentation):
    """Per example: zero every Mel channel with prob. ``p_mel``, else every GCC channel with prob. ``p_gcc``.

    The two events exclusive, so a view always keeps one modality. Identity in eval mode.

    Args:
        n_mel_channels: number of leading Mel channels (= mics); the rest are GCC channels.
        p_mel, p_gcc: probabilities, ``p_mel + p_gcc <= 1``.
    """

    def __init__(self, *, n_mel_channels: int, p_mel: float = 0.2, p_gcc: float = 0.2) -> None:
        super().__init__()
        if n_mel_channels < 1:
            raise ValueError(f"n_mel_channels must be >= 1, got {n_mel_channels}")
        if p_mel < 0 or p_gcc < 0 or p_mel + p_gcc > 1:
            raise ValueError(f"need p_mel, p_gcc >= 0 and p_mel + p_gcc <= 1, got {p_mel}, {p_gcc}")
        self.n_mel_channels = n_mel_channels
        self.p_mel = p_mel
        self.p_gcc = p_gcc

    def extra_repr(self) -> str:
        return f"n_mel_channels={self.n_mel_channels}, p_mel={self.p_mel}, p_gcc={self.p_gcc}"

    def draw(self, batch: int, channels: int, *, device: torch.device,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Which channels to keep: ``(batch, channels)`` bool, all Mel or all GCC channels False, or none."""
        u = uniform(batch, device=device, generator=generator)[:, None]  # (batch, 1)
        drop_mel = u < self.p_mel
        drop_gcc = (u >= self.p_mel) & (u < self.p_mel + self.p_gcc)
        is_mel = torch.arange(channels, device=device) < self.n_mel_channels  # (channels,)
        return torch.where(is_mel, ~drop_mel, ~drop_gcc)

    def apply(self, features: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Zero the channels not kept: ``(batch, channels, frames, bins)``, ``keep (batch, channels)``."""
        return features * keep[:, :, None, None].to(features.dtype)

    def expected_shape(self, features: torch.Tensor) -> str | None:
        if features.ndim == 4 and features.shape[1] > self.n_mel_channels:
            return None
        return f"(batch, channels > {self.n_mel_channels}, frames, bins)"

    def draw_for(self, features: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(*features.shape[:2], device=features.device, generator=generator)
