"""Clip embeddings from a frozen or training encoder: the mean embedding of a clip's windows.

The linear probe embeds every clip once (the training clips in all ChannelSwap versions) and trains its heads
on the cached result; fine-tuning uses the same function for its validation and test clips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.data.clip_store import ClipStore
from mcsimclr.probe.windows import window_batches


@dataclass
class Embedded:
    """Examples for the heads: ``embedding (n, dim)`` float32, ``label (n,)`` long, ``azimuth_deg (n,)`` float32,
    and ``clip (n,)``: the store index each row comes from."""

    embedding: torch.Tensor
    label: torch.Tensor
    azimuth_deg: torch.Tensor
    clip: torch.Tensor

    def __len__(self) -> int:
        return int(self.embedding.shape[0])

    def to(self, device: torch.device | str) -> Embedded:
        return Embedded(self.embedding.to(device), self.label.to(device), self.azimuth_deg.to(device),
                        self.clip.to(device))


@torch.no_grad()
def embed_clips(embed: Callable[[torch.Tensor], torch.Tensor], store: ClipStore, clips: np.ndarray, *, window: int,
                hop: int, batch_size: int = 256, swap: ChannelSwap | None = None) -> Embedded:
    """Mean embedding of the windows of each clip (:mod:`mcsimclr.probe.windows`), with its labels.

    Args:
        embed: waveforms ``(batch, mics, window)`` -> embeddings ``(batch, dim)`` (e.g. a ``SpatialEncoder`` in
            eval mode).
        store: the split.
        clips: store indices ``(n,)``.
        window, hop: window length and hop, samples.
        batch_size: windows per call of ``embed``.
        swap: if given, each clip gives ``S = swap.n_symmetries`` rows, one per ChannelSwap symmetry (row
            ``c * S + s``), its azimuth label transformed by that symmetry.

    Returns:
        :class:`Embedded` with ``n`` (or ``n * S``) rows, on the store's device.
    """
    clips = np.asarray(clips, dtype=np.int64)
    n_sym = swap.n_symmetries if swap is not None else 1
    sums: torch.Tensor | None = None
    counts = torch.zeros(len(clips), device=store.device)
    for owner, audio in window_batches(store, clips, window=window, hop=hop, batch_size=batch_size, swap=swap):
        emb = embed(audio).float().reshape(len(owner), n_sym, -1)
        if sums is None:
            sums = torch.zeros(len(clips), n_sym, emb.shape[-1], device=emb.device)
        sums.index_add_(0, owner.to(emb.device), emb)
        counts.index_add_(0, owner, torch.ones(len(owner), device=counts.device))
    if sums is None:
        raise ValueError("no clips to embed")
    mean = (sums / counts.to(sums.device)[:, None, None]).reshape(len(clips) * n_sym, -1)
    idx = torch.as_tensor(clips, device=store.device)
    label = store.labels["label"][idx].long()
    azimuth = store.labels["azimuth_deg"][idx].float()
    if swap is not None:
        sym = torch.arange(n_sym, device=store.device).repeat(len(clips))
        azimuth = swap.to(store.device).transform_azimuth(azimuth.repeat_interleave(n_sym), sym)
        label = label.repeat_interleave(n_sym)
        idx = idx.repeat_interleave(n_sym)
    return Embedded(mean, label, azimuth.float(), idx)
