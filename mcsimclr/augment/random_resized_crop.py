"""RandomResizedCrop of feature maps, one crop for all channels of an example (MC-SimCLR, Sec. 3.5).

On a log-Mel map a crop resized back to full size is a time stretch and a pitch shift; on a GCC-PHAT map a
time stretch and a small change of the delays, i.e. of the direction. Crops are sampled as torchvision's
``RandomResizedCrop`` does (area fraction ``s ~ U[scale]``, aspect ratio ``r`` log-uniform in ``ratio``,
up to 10 tries for a crop that fits, else the whole map) but on the unit square: ``r`` is the crop's
fraction of the bins axis over its fraction of the frames axis (the map's own aspect in pixels is arbitrary),
and crops are not rounded to whole pixels. All crops are applied in one ``grid_sample`` call.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch.nn import functional as F

from mcsimclr.augment.base import BatchAugmentation
from mcsimclr.augment.draws import check_generator


class RandomResizedCrop(BatchAugmentation):
    """Crop a random box of each example's ``(frames, bins)`` maps and resize it back; identity in eval mode.

    Args:
        scale: range of the crop's area as a fraction of the map (``axes="time"``: of its length).
        ratio: range of (bins fraction) / (frames fraction), sampled log-uniformly; unused with ``axes="time"``.
        axes: ``"both"`` (the paper) or ``"time"``: crop and stretch the frames axis only, keeping every Mel bin
            and GCC lag where it is (an option: the prototype found cropping the lag axis hurt direction).
        tries: candidate boxes per example before falling back to the whole map.
        gcc_lag: ``"free"`` (the paper's: one box for all channels) or ``"centred"``: on the channels from
            ``n_mel_channels`` on (GCC-PHAT, bins = lags ``-n//2 .. n//2 - 1``), the box's lag range is centred on
            lag 0, so the crop scales every delay by ``1 / width`` and keeps lag 0 at lag 0 (the Mel channels keep
            the drawn box). The draw is the same either way.
        n_mel_channels: the leading Mel channels (with ``gcc_lag="centred"``).
    """

    def __init__(self, *, scale: tuple[float, float] = (0.8, 1.0), ratio: tuple[float, float] = (0.8, 1.25),
                 axes: Literal["both", "time"] = "both", tries: int = 10,
                 gcc_lag: Literal["free", "centred"] = "free", n_mel_channels: int = 0) -> None:
        super().__init__()
        if not 0.0 < scale[0] <= scale[1] <= 1.0:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
        if not 0.0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < low <= high, got {ratio}")
        if axes not in ("both", "time"):
            raise ValueError(f"axes must be 'both' or 'time', got {axes!r}")
        if tries < 1:
            raise ValueError(f"tries must be >= 1, got {tries}")
        if gcc_lag not in ("free", "centred"):
            raise ValueError(f"gcc_lag must be 'free' or 'centred', got {gcc_lag!r}")
        if gcc_lag == "centred" and n_mel_channels < 1:
            raise ValueError(f"gcc_lag='centred' needs n_mel_channels >= 1, got {n_mel_channels}")
        self.gcc_lag = gcc_lag
        self.n_mel_channels = n_mel_channels
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.axes = axes
        self.tries = tries

    def extra_repr(self) -> str:
        return f"scale={self.scale}, ratio={self.ratio}, axes={self.axes!r}"

    def draw(self, batch: int, *, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Crop boxes ``(batch, 4)``: frames start, bins start, frames size, bins size, fractions of the map."""
        check_generator(generator, device)
        lo, hi = self.scale
        if self.axes == "time":
            height = torch.rand(batch, device=device, generator=generator) * (hi - lo) + lo
            width = torch.ones_like(height)
        else:
            area = torch.rand(batch, self.tries, device=device, generator=generator) * (hi - lo) + lo
            log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
            log_r = torch.rand(batch, self.tries, device=device, generator=generator) * (log_hi - log_lo) + log_lo
            ratio = torch.exp(log_r)
            w_try, h_try = torch.sqrt(area * ratio), torch.sqrt(area / ratio)
            fits = (w_try <= 1.0) & (h_try <= 1.0)
            first = fits.to(torch.int32).argmax(dim=1, keepdim=True)  # first fitting try (0 if none)
            any_fit = fits.any(dim=1)
            width = torch.where(any_fit, w_try.gather(1, first)[:, 0], torch.ones_like(any_fit, dtype=area.dtype))
            height = torch.where(any_fit, h_try.gather(1, first)[:, 0], torch.ones_like(width))
        start = torch.rand(batch, 2, device=device, generator=generator)
        return torch.stack([start[:, 0] * (1 - height), start[:, 1] * (1 - width), height, width], dim=1)

    def apply(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Resample each example's box back to full size (bilinear; also in eval mode).

        Args:
            features: ``(batch, channels, frames, bins)``.
            boxes: ``(batch, 4)`` from :meth:`draw`.

        Returns:
            ``(batch, channels, frames, bins)``; a whole-map box returns the input (up to float rounding).
        """
        if self.gcc_lag == "centred":
            n = self.n_mel_channels
            lags = features.shape[-1]
            centre = (lags // 2 + 0.5) / lags  # lag 0 in [0, 1] map coordinates (align_corners=False)
            centred = boxes.clone()
            centred[:, 1] = centre - boxes[:, 3] * centre  # lag 0 at the same relative place in the box
            return torch.cat([self._resample(features[:, :n], boxes), self._resample(features[:, n:], centred)],
                             dim=1)
        return self._resample(features, boxes)

    @staticmethod
    def _resample(features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Each example's box of ``(batch, channels, frames, bins)`` resampled to the full size (bilinear)."""
        t0, f0, h, w = boxes.to(features.dtype).unbind(1)
        zero = torch.zeros_like(h)
        # affine_grid maps output coordinates in [-1, 1] (x along bins, y along frames) to input coordinates;
        # with align_corners=False, [-1, 1] spans the whole map, so the box [f0, f0 + w] is w * x + 2 f0 + w - 1.
        theta = torch.stack([torch.stack([w, zero, 2 * f0 + w - 1], dim=1),
                             torch.stack([zero, h, 2 * t0 + h - 1], dim=1)], dim=1)  # (batch, 2, 3)
        grid = F.affine_grid(theta, list(features.shape), align_corners=False)
        return F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def expected_shape(self, features: torch.Tensor) -> str | None:
        return None if features.ndim == 4 else "(batch, channels, frames, bins)"

    def draw_for(self, features: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(features.shape[0], device=features.device, generator=generator)
