"""Whole clips as fixed-length windows: which windows, and batches of them cut from a :class:`ClipStore`.

Rule (docs/evaluation.md, "Whole clips"): windows of ``window`` samples start at ``0, hop, 2 hop, ...`` while they
fit in the clip; if the last one stops short of the clip's end, one more window ends exactly at the end (so
every sample is covered and no window hangs over the end). A clip no longer than ``window`` is one window,
zero-padded at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.data.clip_store import ClipStore
from mcsimclr.data.crops import gather_crops


def window_starts(length: int, *, window: int, hop: int) -> np.ndarray:
    """Start samples of the windows of one clip of ``length`` samples ``(n_windows,)`` int64."""
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be >= 1 sample, got {window}, {hop}")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < length:
        starts = np.append(starts, length - window)
    return starts


def clip_windows(lengths: np.ndarray, *, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """All windows of several clips: ``(position of the clip in lengths, start)``, each ``(n_windows,)`` int64."""
    per_clip = [window_starts(int(n), window=window, hop=hop) for n in np.asarray(lengths)]
    owner = np.repeat(np.arange(len(per_clip), dtype=np.int64), [len(s) for s in per_clip])
    starts = np.concatenate(per_clip) if per_clip else np.zeros(0, dtype=np.int64)
    return owner, starts


def window_batches(store: ClipStore, clips: np.ndarray, *, window: int, hop: int, batch_size: int,
                   swap: ChannelSwap | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of the windows of ``clips`` (indices into ``store``), in order.

    With ``swap``, every window comes in all ``S = swap.n_symmetries`` ChannelSwap versions (symmetry ``s`` of
    window ``w`` at row ``w * S + s``), and ``batch_size`` counts these rows.

    Yields:
        ``owner`` ``(n,)`` int64: position in ``clips`` of each window; ``audio`` ``(n * S, mics, window)``
        float32 on the store's device.
    """
    clips = np.asarray(clips, dtype=np.int64)
    lengths = store.lengths[torch.as_tensor(clips, device=store.device)].cpu().numpy()
    owner, starts = clip_windows(lengths, window=window, hop=hop)
    n_sym = swap.n_symmetries if swap is not None else 1
    per_batch = max(1, batch_size // n_sym)
    for first in range(0, len(owner), per_batch):
        own = torch.as_tensor(owner[first : first + per_batch], device=store.device)
        idx = torch.as_tensor(clips, device=store.device)[own]
        start = torch.as_tensor(starts[first : first + per_batch], device=store.device)
        audio = gather_crops(store.audio, store.offsets[idx], store.lengths[idx], start, window).float()
        if swap is not None:
            sym = torch.arange(n_sym, device=audio.device).repeat(audio.shape[0])
            audio = swap.apply(audio.repeat_interleave(n_sym, dim=0), sym)
        yield own, audio
