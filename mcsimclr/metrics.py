"""Evaluation metrics: classification accuracy and circular azimuth error."""

from __future__ import annotations

import torch


def azimuth_error_deg(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Circular absolute difference of azimuths in degrees, in [0, 180] (350 vs 10 is 20). Same shapes."""
    return torch.remainder(predicted - target + 180.0, 360.0).sub(180.0).abs()


def circular_mean_deg(angles: torch.Tensor, weights: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """Mean direction of ``angles`` (degrees) along ``dim``, optionally weighted; result in (-180, 180]."""
    rad = torch.deg2rad(angles)
    w = torch.ones_like(rad) if weights is None else weights
    return torch.rad2deg(torch.atan2((w * torch.sin(rad)).sum(dim), (w * torch.cos(rad)).sum(dim)))


def accuracy(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of equal labels, in [0, 1]."""
    return float((predicted == target).float().mean())
