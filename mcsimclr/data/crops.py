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


def draw_near(starts: torch.Tensor, lengths: torch.Tensor, crop: int, max_shift: int, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """A second start per clip within ``max_shift`` samples of ``starts`` (uniform integer shift), kept inside the
    range :func:`draw_starts` draws from: the second view of a positive pair that covers nearly the same span.

    Args:
        starts: the first views' starts ``(n,)`` int64.
        lengths: clip lengths in samples ``(n,)`` int64.
        crop: crop length in samples.
        max_shift: the largest shift in samples (>= 0; 0 gives the same start).
        generator: on ``lengths.device``; ``None`` uses the global generator.

    Returns:
        ``(n,)`` int64 starts in ``[0, max(length - crop, 0)]``, each within ``max_shift`` of its ``starts``.
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0 samples, got {max_shift}")
    span = (lengths - crop).clamp(min=0) + 1
    u = torch.rand(lengths.shape, generator=generator, device=lengths.device, dtype=torch.float64)
    shift = torch.minimum((u * (2 * max_shift + 1)).long(), torch.full_like(starts, 2 * max_shift)) - max_shift
    return torch.minimum((starts + shift).clamp(min=0), span - 1)


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
