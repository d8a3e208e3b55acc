"""MelWarp (option, off by default): a random shift and tilt of the log-Mel spectrum of each view.

Not in the paper. Two crops of one clip share more than their class: the same pitch or band centre, the same
colour of background noise and the same room colouration. The contrastive task can tell clips apart by those
alone, which a class does not share. A small random shift along the Mel axis (a pitch / band shift of a few Mel
bins) and a random spectral tilt (an equaliser slope in dB across the band), drawn per view, take those cues
away; what stays shared between the views is the spectro-temporal pattern. The same warp is applied to every
mic of a view, so level differences between mics are kept; the GCC-PHAT channels are left alone.
"""

from __future__ import annotations

import torch

from mcsimclr.augment.base import BatchAugmentation
from mcsimclr.augment.draws import uniform


class MelWarp(BatchAugmentation):
    """Shift the Mel axis by ``s ~ U[-max_shift_bins, max_shift_bins]`` bins and add a tilt of
    ``t ~ U[-max_tilt_db, max_tilt_db]`` dB across it, per example; identity in eval mode.

    The shift is fractional (linear interpolation between neighbouring bins; bins shifted in from outside the
    band repeat the edge bin): ``out[..., k] = x[..., k - s]``, so ``s > 0`` moves energy to higher bins. The tilt
    adds ``t * (k / (n_bins - 1) - 1/2)`` dB to bin ``k``: ``-t/2`` at the lowest bin, ``+t/2`` at the highest.

    Args:
        n_mel_channels: number of leading Mel channels (dB); the rest (GCC) are left alone.
        max_shift_bins: largest shift magnitude in Mel bins.
        max_tilt_db: largest tilt magnitude (difference between the top and bottom bin) in dB.
    """

    def __init__(self, *, n_mel_channels: int, max_shift_bins: float = 3.0, max_tilt_db: float = 6.0) -> None:
        super().__init__()
        if n_mel_channels < 1:
            raise ValueError(f"n_mel_channels must be >= 1, got {n_mel_channels}")
        if max_shift_bins < 0 or max_tilt_db < 0:
            raise ValueError(f"max_shift_bins and max_tilt_db must be >= 0, got {max_shift_bins}, {max_tilt_db}")
        self.n_mel_channels = n_mel_channels
        self.max_shift_bins = max_shift_bins
        self.max_tilt_db = max_tilt_db

    def extra_repr(self) -> str:
        return (f"n_mel_channels={self.n_mel_channels}, max_shift_bins={self.max_shift_bins}, "
                f"max_tilt_db={self.max_tilt_db}")

    def draw(self, batch: int, *, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch, 2)``: column 0 the shift in bins, column 1 the tilt in dB."""
        shift = uniform(batch, device=device, generator=generator, low=-self.max_shift_bins, high=self.max_shift_bins)
        tilt = uniform(batch, device=device, generator=generator, low=-self.max_tilt_db, high=self.max_tilt_db)
        return torch.stack([shift, tilt], dim=1)

    def apply(self, features: torch.Tensor, warp: torch.Tensor) -> torch.Tensor:
        """Warp the Mel channels of ``(batch, channels, frames, bins)`` by ``warp (batch, 2)`` (see ``draw``)."""
        batch, _, frames, bins = features.shape
        mel = features[:, : self.n_mel_channels]
        k = torch.arange(bins, device=features.device, dtype=torch.float32)
        source = (k[None, :] - warp[:, :1].float()).clamp(0.0, bins - 1.0)  # (batch, bins)
        low = source.floor().long().clamp(max=bins - 2) if bins > 1 else source.floor().long()
        frac = (source - low.float()).to(features.dtype)
        high = (low + 1).clamp(max=bins - 1)
        shape = (batch, self.n_mel_channels, frames, bins)
        x0 = mel.gather(3, low[:, None, None, :].expand(shape))
        x1 = mel.gather(3, high[:, None, None, :].expand(shape))
        ramp = k / max(bins - 1, 1) - 0.5
        tilt = (warp[:, 1:].float() * ramp[None, :]).to(features.dtype)  # (batch, bins)
        out = features.clone()
        out[:, : self.n_mel_channels] = x0 + frac[:, None, None, :] * (x1 - x0) + tilt[:, None, None, :]
        return out

    def expected_shape(self, features: torch.Tensor) -> str | None:
        if features.ndim == 4 and features.shape[1] >= self.n_mel_channels:
            return None
        return f"(batch, channels >= {self.n_mel_channels}, frames, bins)"

    def is_identity(self) -> bool:
        return self.max_shift_bins == 0.0 and self.max_tilt_db == 0.0

    def draw_for(self, features: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(features.shape[0], device=features.device, generator=generator)
