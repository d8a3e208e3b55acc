"""Random fixed-length crops of variable-length clips, vectorised over a batch (any device)."""

from __future__ import annotations

import torch


def draw_starts(lengths: torch.Tensor, crop: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniform random start per clip such that the crop lies inside the clip when it can.

    Args:
        lengths: clip lengths in samples ``(n,)`` int64.
        crop: crop length in samples.
        generator: on ``lengths.device``; ``None`` uses the global generator.

    Returns:
        ``(n,)`` int64 starts in ``[0, max(length - crop, 0)]`` (0 for clips shorter than ``crop``).
    """
    if crop < 1:
        raise ValueError(f"crop must be >= 1 sample, got {crop}")
    span = (lengths - crop).clamp(min=0) + 1
    u = torch.rand(lengths.shape, generator=generator, device=lengths.device, dtype=torch.float64)
    return torch.minimum((u * span).long(), span - 1)


def gather_crops(audio: torch.Tensor, offsets: torch.Tensor, lengths: torch.Tensor, starts: torch.Tensor,
                 crop: int) -> torch.Tensor:
    """Cut crops out of the concatenated audio of a split; positions past a clip's end are zeros.

    Args:
        audio: all clips one after another ``(mics, total_samples)``.
        offsets, lengths: where each selected clip lies in ``audio`` ``(n,)``.
        starts: crop start within each clip ``(n,)``.
        crop: crop length in samples.

    Returns:
        ``(n, mics, crop)`` in ``audio``'s dtype.
    """
    pos = starts[:, None] + torch.arange(crop, device=audio.device)[None, :]  # (n, crop)
    valid = pos < lengths[:, None]
    index = offsets[:, None] + torch.minimum(pos, (lengths - 1).clamp(min=0)[:, None])
    out = audio[:, index.reshape(-1)].reshape(audio.shape[0], len(starts), crop).transpose(0, 1)
    return out * valid[:, None, :].to(audio.dtype)
