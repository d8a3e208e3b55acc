"""The probe's two linear heads on the embedding: event class and direction."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mcsimclr.probe.direction_coding import DirectionCoding, DirectionKind


class ProbeHeads(nn.Module):
    """``(batch, embed_dim)`` embeddings -> class logits ``(batch, n_classes)`` and direction output
    ``(batch, 2 | n_bins)``.

    Both heads are single linear layers (the paper: "two linear layers, one for event class, one for direction")
    after a shared, parameter-free standardisation of the embedding (``BatchNorm1d(affine=False)``: batch
    statistics while training, running statistics in eval mode, as in MAE's linear probe). At evaluation the
    standardisation is a fixed affine map, so each head is still linear in the embedding; it only makes one
    learning rate fit embeddings of any scale (a random encoder's and a pretrained one's differ by orders of
    magnitude). :meth:`fix_standardisation` replaces the batch statistics by given ones for good (the linear
    probe: the exact statistics of the cached training embeddings, so its training is a convex problem).

    Args:
        embed_dim: embedding size.
        n_classes: event classes.
        direction: ``"regression"`` (cos, sin) or ``"bins"``; see :class:`DirectionCoding`.
        n_bins: azimuth bins for ``"bins"``.
    """

    def __init__(self, *, embed_dim: int, n_classes: int, direction: DirectionKind = "regression",
                 n_bins: int = 36) -> None:
        super().__init__()
        if embed_dim < 1:
            raise ValueError(f"embed_dim must be >= 1, got {embed_dim}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.embed_dim = embed_dim
        self.n_classes = n_classes
        self.coding = DirectionCoding(direction, n_bins=n_bins)
        self.norm = nn.BatchNorm1d(embed_dim, affine=False)
        self.fixed_norm = False
        self.classifier = nn.Linear(embed_dim, n_classes)
        self.direction = nn.Linear(embed_dim, self.coding.out_dim)

    @torch.no_grad()
    def fix_standardisation(self, embeddings: torch.Tensor) -> None:
        """Standardise with the mean and variance of ``embeddings (n, embed_dim)`` from now on, in training too."""
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embed_dim or embeddings.shape[0] < 2:
            raise ValueError(f"fix_standardisation expects (n>=2, {self.embed_dim}), got {tuple(embeddings.shape)}")
        self.norm.running_mean.copy_(embeddings.float().mean(dim=0))
        self.norm.running_var.copy_(embeddings.float().var(dim=0))
        self.fixed_norm = True
        self.norm.eval()

    def train(self, mode: bool = True) -> ProbeHeads:
        super().train(mode)
        if self.fixed_norm:
            self.norm.eval()
        return self

    def forward(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, embed_dim)`` -> ``(logits (batch, n_classes), direction (batch, out_dim))``."""
        if embedding.ndim != 2 or embedding.shape[1] != self.embed_dim:
            raise ValueError(f"ProbeHeads expects (batch, {self.embed_dim}), got shape {tuple(embedding.shape)}")
        x = self.norm(embedding.float())
        return self.classifier(x), self.direction(x)

    def loss(self, logits: torch.Tensor, direction: torch.Tensor, label: torch.Tensor, azimuth_deg: torch.Tensor, *,
             direction_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Cross-entropy of the class plus ``direction_weight`` times the direction loss.

        Returns the scalar total and its parts ``{"class": ..., "direction": ...}`` as detached 0-d tensors
        (reading one with ``float()`` waits for the device: the training loops don't, once per step).
        """
        class_loss = F.cross_entropy(logits.float(), label.long())
        dir_loss = self.coding.loss(direction, azimuth_deg)
        total = class_loss + direction_weight * dir_loss
        return total, {"class": class_loss.detach(), "direction": dir_loss.detach()}

    @torch.no_grad()
    def predict(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, embed_dim)`` -> predicted class ``(batch,)`` long and azimuth ``(batch,)`` degrees."""
        logits, direction = self(embedding)
        return logits.argmax(dim=1), self.coding.decode(direction)
