"""How the direction head codes azimuth: ``(cos, sin)`` regression or classification over azimuth bins.

Azimuths are in degrees, counter-clockwise from +x, in (-180, 180] (docs/dataset.md, "Conventions").
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from mcsimclr.metrics import circular_mean_deg

DirectionKind = Literal["regression", "bins"]


class DirectionCoding(nn.Module):
    """Targets, loss and decoding of the direction head's output ``(batch, out_dim)``.

    ``regression``: ``out_dim = 2``, target ``(cos a, sin a)``, loss the squared error summed over the two
    components (mean over the batch), azimuth ``atan2(out[:, 1], out[:, 0])``: continuous, no quantisation.

    ``bins``: ``out_dim = n_bins`` sectors of ``360 / n_bins`` degrees, bin ``k`` centred on
    ``-180 + (k + 1/2) 360 / n_bins``; loss cross-entropy; azimuth the probability-weighted circular mean of the
    centres of the most probable bin and its two neighbours (refines the argmax below the bin width, and unlike
    a circular mean over all bins is not pulled between two modes such as a front-back confusion).

    Args:
        kind: ``"regression"`` or ``"bins"``.
        n_bins: number of bins (``bins`` only), >= 3.
    """

    def __init__(self, kind: DirectionKind = "regression", *, n_bins: int = 36) -> None:
        super().__init__()
        if kind not in ("regression", "bins"):
            raise ValueError(f"direction kind must be 'regression' or 'bins', got {kind!r}")
        if n_bins < 3:
            raise ValueError(f"n_bins must be >= 3, got {n_bins}")
        self.kind = kind
        self.n_bins = n_bins

    @property
    def out_dim(self) -> int:
        return 2 if self.kind == "regression" else self.n_bins

    @property
    def bin_width(self) -> float:
        return 360.0 / self.n_bins

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}" + (f", n_bins={self.n_bins}" if self.kind == "bins" else "")

    def bin_centres(self, device: torch.device | None = None) -> torch.Tensor:
        """``(n_bins,)`` bin centres in degrees."""
        return -180.0 + (torch.arange(self.n_bins, device=device, dtype=torch.float32) + 0.5) * self.bin_width

    def bin_index(self, azimuth_deg: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` degrees -> ``(batch,)`` long bin indices (180 and -180 share bin 0)."""
        k = torch.floor((azimuth_deg.float() + 180.0) / self.bin_width).long()
        return torch.remainder(k, self.n_bins)

    def loss(self, out: torch.Tensor, azimuth_deg: torch.Tensor) -> torch.Tensor:
        """Scalar loss of ``out (batch, out_dim)`` against ``azimuth_deg (batch,)``."""
        self._check(out)
        if self.kind == "regression":
            rad = torch.deg2rad(azimuth_deg.float())
            target = torch.stack([torch.cos(rad), torch.sin(rad)], dim=1)
            return (out.float() - target).square().sum(dim=1).mean()
        return F.cross_entropy(out.float(), self.bin_index(azimuth_deg))

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        """``(batch, out_dim)`` -> predicted azimuth ``(batch,)`` in degrees, (-180, 180]."""
        self._check(out)
        out = out.float()
        if self.kind == "regression":
            return torch.rad2deg(torch.atan2(out[:, 1], out[:, 0]))
        prob = out.softmax(dim=1)
        top = prob.argmax(dim=1, keepdim=True)  # (batch, 1)
        near = torch.remainder(top + torch.tensor([-1, 0, 1], device=out.device), self.n_bins)  # (batch, 3)
        centres = self.bin_centres(out.device)[near]
        return circular_mean_deg(centres, prob.gather(1, near), dim=1)

    def _check(self, out: torch.Tensor) -> None:
        if out.ndim != 2 or out.shape[1] != self.out_dim:
            raise ValueError(f"direction output must be (batch, {self.out_dim}) for {self.kind}, got shape "
                             f"{tuple(out.shape)}")
