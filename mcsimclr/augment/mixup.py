"""Mixup of multichannel waveforms with another clip of the batch (MC-SimCLR, Sec. 3.4).

The target ``x`` is mixed with another clip ``y`` of the batch, both first normalised to unit RMS over all
mics and samples (never per mic: per-mic gains would change the level differences between mics), with a small
weight ``lam ~ U[0, alpha]`` on the other clip::

    mixed = (1 - lam) x / rms(x) + lam y / rms(y),      out = mixed / rms(mixed) * rms(x)

so the target stays dominant (``lam <= 0.01`` by default: the partner is at least 40 dB down) and the
output has the target's level (``output_level="target"``) or unit RMS (``"unit"``). Mixing the waveforms of
all mics mixes spectra and spatial cues together (the partner comes with its own directions).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from mcsimclr.augment.base import BatchAugmentation
from mcsimclr.augment.draws import check_generator, uniform

# RMS below this counts as silence: such a target comes out all zeros (and never NaN).
SILENCE_RMS = 1e-12


def random_partners(batch: int, views: int, *, device: torch.device,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """For each view, a random cyclic derangement of the batch: ``(batch, views)`` long, ``partner != b``.

    Each view gets its own permutation: shuffle the batch, then let each clip take the next one in the shuffled
    order, a single cycle through the whole batch, so no clip is its own partner (for ``batch >= 2``).
    """
    check_generator(generator, device)
    order = torch.rand(views, batch, device=device, generator=generator).argsort(dim=1)  # (views, batch)
    partner = torch.empty_like(order)
    partner.scatter_(1, order, order.roll(-1, dims=1))  # partner[v, order[v, i]] = order[v, i + 1]
    return partner.T


def _rms(x: torch.Tensor) -> torch.Tensor:
    """RMS over the last axis of ``(rows, n)``: ``(rows,)``, one read pass (no squared copy)."""
    return torch.linalg.vector_norm(x, dim=-1) / math.sqrt(x.shape[-1])


class Mixup(BatchAugmentation):
    """Mix each clip with another clip of the batch at a small random weight; identity in eval mode.

    Args:
        alpha: largest weight of the other clip; ``lam ~ U[0, alpha]`` per example and view. Our reading of the
            paper's "alpha in [0, 0.01]" (docs/features.md).
        output_level: ``"target"`` keeps each clip's RMS, ``"unit"`` normalises the output to unit RMS.
    """

    def __init__(self, *, alpha: float = 0.01, output_level: Literal["target", "unit"] = "target") -> None:
        super().__init__()
        if not 0.0 <= alpha <= 0.5:
            raise ValueError(f"alpha must be in [0, 0.5] so that the target stays dominant, got {alpha}")
        if output_level not in ("target", "unit"):
            raise ValueError(f"output_level must be 'target' or 'unit', got {output_level!r}")
        self.alpha = alpha
        self.output_level = output_level

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, output_level={self.output_level!r}"

    def draw(self, batch: int, views: int, *, device: torch.device,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Partners (batch index, same view) ``(batch, views)`` long and weights ``lam`` ``(batch, views)``."""
        partner = random_partners(batch, views, device=device, generator=generator)
        return partner, uniform(batch, views, device=device, generator=generator, high=self.alpha)

    def mix(self, target: torch.Tensor, other: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Mix given clips at given weights (also in eval mode).

        Args:
            target, other: ``(..., mics, samples)``, the same shape.
            weight: weight ``lam`` of ``other`` per clip, the leading shape ``(...)``.

        Returns:
            ``(..., mics, samples)``, a new tensor.
        """
        shape = target.shape
        x = target.reshape(-1, shape[-2] * shape[-1])
        y = other.reshape(x.shape)
        lam = weight.reshape(-1, 1).to(x.dtype)
        rms_x, rms_y = _rms(x)[:, None], _rms(y)[:, None]
        silent = rms_x < SILENCE_RMS
        # 1 / rms, 0 for silence: a silent clip contributes nothing and is never divided by.
        inv_x = torch.where(silent, 0.0, 1.0 / rms_x.clamp_min(SILENCE_RMS))
        inv_y = torch.where(rms_y < SILENCE_RMS, 0.0, 1.0 / rms_y.clamp_min(SILENCE_RMS))
        mixed = x * ((1.0 - lam) * inv_x)
        mixed.addcmul_(y, lam * inv_y)
        level = rms_x if self.output_level == "target" else torch.ones_like(rms_x)
        scale = torch.where(silent, 0.0, level / _rms(mixed)[:, None].clamp_min(SILENCE_RMS))
        return mixed.mul_(scale).view(shape)

    def expected_shape(self, waveforms: torch.Tensor) -> str | None:
        return None if waveforms.ndim in (3, 4) else "(batch, mics, samples) or (batch, views, mics, samples)"

    def is_identity(self) -> bool:
        return self.alpha == 0.0

    def draw_for(self, waveforms: torch.Tensor, *,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        views = waveforms.shape[1] if waveforms.ndim == 4 else 1
        return self.draw(waveforms.shape[0], views, device=waveforms.device, generator=generator)

    def apply(self, waveforms: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mix ``(batch, mics, samples)`` or ``(batch, views, mics, samples)`` with the partners and weights of
        :meth:`draw` (also in eval mode). Views are mixed independently: own partner (same view index) and own
        weight per example and view."""
        partner, weight = params
        x = waveforms if waveforms.ndim == 4 else waveforms[:, None]
        other = x[partner, torch.arange(x.shape[1], device=x.device)]  # other[b, v] = x[partner[b, v], v]
        out = self.mix(x, other, weight)
        return out if waveforms.ndim == 4 else out[:, 0]
