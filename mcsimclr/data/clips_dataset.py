"""A map-style dataset over one split file, streamed from HDF5 (opened lazily, once per worker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mcsimclr.core.h5schema import SpatialClipsFile

LABEL_FIELDS = ("label", "azimuth_deg", "elevation_deg", "distance_m", "rt60_measured", "rt60_target")


class ClipsDataset(Dataset):
    """Clips of one ``simulate build`` file, as random crops, positive pairs or whole clips.

    Crops are drawn from a generator seeded by ``(seed, epoch, index)``, so they do not depend on the number
    of DataLoader workers or on the order of work; call ``set_epoch`` before each epoch (with
    ``persistent_workers=False``, so that workers see it). Clips shorter than the crop are zero-padded.

    Args:
        path: a split file.
        crop_samples: crop length; ``None`` returns whole clips (batch them with ``pad_collate``).
        views: 1 (one crop) or 2 (two crops of the same clip: a positive pair).
        max_shift: with 2 views: ``None`` draws the two crops independently anywhere in the clip; an integer
            draws the second within ``max_shift`` samples of the first (uniform shift, kept inside the clip).
        seed: crop seed.
        indices: a subset of clips (default all).

    Items: ``{"audio": (mics, samples)`` or ``(views, mics, crop)`` float32, ``"index"``, ``"length"``, and the
    label fields ``label, azimuth_deg, elevation_deg, distance_m, rt60_measured, rt60_target`` the file has (a
    clip file has them all; a scene file, whose labels are per frame, none)}.
    """

    def __init__(self, path: str | Path, *, crop_samples: int | None = None, views: int = 1, seed: int = 0,
                 max_shift: int | None = None, indices: np.ndarray | None = None) -> None:
        if views not in (1, 2):
            raise ValueError(f"views must be 1 or 2, got {views}")
        if max_shift is not None and max_shift < 0:
            raise ValueError(f"max_shift must be >= 0 samples or None, got {max_shift}")
        self.max_shift = max_shift
        if crop_samples is not None and crop_samples < 1:
            raise ValueError(f"crop_samples must be >= 1 or None, got {crop_samples}")
        self.file = SpatialClipsFile(path)
        self.crop_samples, self.views, self.seed, self.epoch = crop_samples, views, seed, 0
        with self.file as f:
            self.offsets = f.column("offsets")
            self.lengths = f.column("lengths")
            self.labels = {k: f.column(k) for k in LABEL_FIELDS if k in f._h5()}  # scene files: none of them
        self.indices = np.arange(len(self.lengths)) if indices is None else np.asarray(indices, dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> dict:
        i = int(self.indices[item])
        length = int(self.lengths[i])
        out = {"index": i, "length": length}
        out.update({k: v[i].item() for k, v in self.labels.items()})
        h5 = self.file._h5()["audio"]
        offset = int(self.offsets[i])
        if self.crop_samples is None:
            out["audio"] = torch.from_numpy(np.asarray(h5[:, offset : offset + length], dtype=np.float32))
            return out
        crop = self.crop_samples
        rng = np.random.default_rng([self.seed, self.epoch, i])
        last = max(length - crop, 0)
        if self.views == 2 and self.max_shift is not None:
            first = int(rng.integers(0, last + 1))
            second = min(max(first + int(rng.integers(-self.max_shift, self.max_shift + 1)), 0), last)
            starts = np.array([first, second])
        else:
            starts = rng.integers(0, last + 1, size=self.views)
        views = np.zeros((self.views, h5.shape[0], crop), dtype=np.float32)
        for v, s in enumerate(starts):
            n = min(crop, length - int(s))
            views[v, :, :n] = h5[:, offset + s : offset + s + n]
        out["audio"] = torch.from_numpy(views[0] if self.views == 1 else views)
        out["length"] = min(length, crop)
        return out


def pad_collate(items: list[dict]) -> dict:
    """Batch whole clips of different lengths: ``audio (batch, mics, max_len)`` zero-padded, ``length (batch,)``."""
    longest = max(it["audio"].shape[-1] for it in items)
    audio = torch.zeros((len(items), *items[0]["audio"].shape[:-1], longest))
    for b, it in enumerate(items):
        audio[b, ..., : it["audio"].shape[-1]] = it["audio"]
    batch = {k: torch.tensor([it[k] for it in items]) for k in items[0] if k != "audio"}
    batch["audio"] = audio
    return batch
