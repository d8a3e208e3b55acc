"""A gradient scale: identity in the forward pass, gradient multiplied by ``scale`` in the backward pass.

MC-SimCLR fine-tunes with "the encoder's gradient scaled by 0.1". Placed between the encoder and the heads, it
multiplies the gradient of every encoder parameter by ``scale`` (backpropagation is linear in the incoming
gradient), while the heads get their full gradient. With SGD this is not the same as a smaller encoder learning
rate once weight decay is on (the decay term is not scaled); with Adam a gradient scale is almost cancelled by
the per-parameter normalisation, which is why the probe's default optimiser is SGD (docs/evaluation.md).
"""

from __future__ import annotations

import torch
from torch import nn


class _GradScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged (any shape); in backward, the gradient to ``x`` is ``scale`` times the incoming one."""
    if scale == 1.0:
        return x
    return _GradScale.apply(x, scale)


class GradScale(nn.Module):
    """Module form of :func:`grad_scale`: ``(...) -> (...)``, identity forward, gradient times ``scale``.

    Args:
        scale: factor in [0, 1]; 0 blocks the gradient (a frozen encoder that still runs in training mode).
    """

    def __init__(self, scale: float) -> None:
        super().__init__()
        if not 0.0 <= scale <= 1.0:
            raise ValueError(f"gradient scale must be in [0, 1], got {scale}")
        self.scale = float(scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_scale(x, self.scale)
