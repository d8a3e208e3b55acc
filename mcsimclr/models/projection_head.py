"""SimCLR projection head: embedding -> vector the contrastive loss compares; discarded after pretraining."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ProjectionHead(nn.Module):
    """Two-layer MLP ``(batch, in_dim)`` -> ``(batch, out_dim)``: Linear -> BatchNorm1d -> ReLU -> Linear.

    SimCLR (Chen et al. 2020) computes the loss on ``g(h)`` rather than on the embedding ``h``, so that ``h`` keeps
    information the augmentations would teach ``g(h)`` to drop; MC-SimCLR (Sec. 3.8) uses a two-layer perceptron.
    Defaults: ``in_dim=128`` (the encoder's embedding), ``hidden_dim=512`` (4x the input, the SimCLR/lightly
    ratio of hidden width to ResNet features scaled down), ``out_dim=128`` (SimCLR's). BatchNorm as in SimCLR v2
    and solo-learn; the first linear layer has no bias because BatchNorm adds one.

    BatchNorm needs two or more examples per batch in training mode; in eval mode any batch works.
    """

    def __init__(self, *, in_dim: int = 128, hidden_dim: int = 512, out_dim: int = 128) -> None:
        super().__init__()
        if min(in_dim, hidden_dim, out_dim) < 1:
            raise ValueError(f"in_dim, hidden_dim and out_dim must be >= 1, got {in_dim}, {hidden_dim}, {out_dim}")
        self.in_dim = in_dim
        self.hidden_dim = hidden_dim
        self.out_dim = out_dim
        self.layers = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def get_config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this head."""
        return {"in_dim": self.in_dim, "hidden_dim": self.hidden_dim, "out_dim": self.out_dim}

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, in_dim)`` -> projections ``(batch, out_dim)``."""
        if h.ndim != 2 or h.shape[1] != self.in_dim:
            raise ValueError(f"ProjectionHead expects (batch, {self.in_dim}), got shape {tuple(h.shape)}")
        if self.training and h.shape[0] < 2:
            raise ValueError(f"ProjectionHead in training mode needs batch >= 2 (BatchNorm1d statistics), got "
                             f"shape {tuple(h.shape)}")
        return self.layers(h)
