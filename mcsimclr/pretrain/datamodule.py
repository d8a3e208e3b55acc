"""Pretraining data for Lightning: positive pairs held on the device (GPU-first) or streamed from HDF5."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from mcsimclr.core.h5schema import SpatialClipsFile
from mcsimclr.data.clip_store import ClipStore, choose_data_mode
from mcsimclr.data.clips_dataset import ClipsDataset

log = logging.getLogger(__name__)


def shard_clips(n_clips: int, *, rank: int, world_size: int) -> np.ndarray:
    """The clips of a split that process ``rank`` of ``world_size`` holds: every ``world_size``-th one from
    ``rank`` (interleaved rather than contiguous, so that a split ordered by class gives every process all
    classes). ``(ceil or floor of n_clips / world_size,)`` int64; the shards are disjoint and cover the split."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    return np.arange(rank, n_clips, world_size, dtype=np.int64)


class IndexBatches(Dataset):
    """Batches of one process's clip indices, a fresh seeded permutation of its shard each epoch.

    Process ``rank`` of ``world_size`` holds only its shard of the ``n_clips`` clips (:func:`shard_clips`);
    item ``i`` of epoch ``e`` is a ``(batch_size,)`` int64 tensor of indices into that shard (positions in
    the shard's :class:`ClipStore`). Each process takes ``(n_clips // world_size) // batch_size`` equal-sized steps
    (incomplete batches dropped: NT-Xent's all-gather needs the same number everywhere). With one process the
    shard is the whole split and the batches are those of one seeded permutation of it.
    """

    def __init__(self, n_clips: int, *, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.n_clips, self.batch_size, self.seed = n_clips, batch_size, seed
        self.rank, self.world_size, self.epoch = rank, world_size, 0
        self.n_local = len(shard_clips(n_clips, rank=rank, world_size=world_size))
        self.steps = (n_clips // world_size) // batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch + 1_000_003 * self.rank)
        perm = torch.randperm(self.n_local, generator=g)
        return perm[step * self.batch_size : (step + 1) * self.batch_size]


class PretrainData(L.LightningDataModule):
    """Positive pairs from one split file.

    In ``device`` mode the split lives in a :class:`ClipStore` on the training device and each batch is only a
    tensor of indices; the module draws the crops on the device (``SimCLRModule.on_after_batch_transfer``).
    In ``stream`` mode, DataLoader workers read the crops from HDF5.
    """

    def __init__(self, *, path: str, crop_samples: int, batch_size: int, mode: str = "auto",
                 store_dtype: torch.dtype = torch.float16, num_workers: int = 2, seed: int = 0,
                 max_shift: int | None = None) -> None:
        super().__init__()
        self.max_shift = max_shift
        self.path, self.crop_samples, self.batch_size = path, crop_samples, batch_size
        self.requested_mode, self.store_dtype, self.num_workers, self.seed = mode, store_dtype, num_workers, seed
        self.mode: str | None = None
        self.store: ClipStore | None = None
        self.dataset: Dataset | None = None

    def setup(self, stage: str) -> None:
        if self.mode is not None:
            return
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        rank = self.trainer.global_rank if self.trainer is not None else 0
        world = self.trainer.world_size if self.trainer is not None else 1
        self.mode = choose_data_mode(self.path, device=device, dtype=self.store_dtype, mode=self.requested_mode)
        self.rank, self.world = rank, world
        if self.mode == "device":
            # Each process holds only its shard on its device: W GPUs hold the split once between them.
            with SpatialClipsFile(self.path) as f:
                self.n_clips = len(f)
            clips = None if world == 1 else shard_clips(self.n_clips, rank=rank, world_size=world)
            self.store = ClipStore(self.path, device=device, dtype=self.store_dtype, clips=clips)
            self.dataset = IndexBatches(self.n_clips, batch_size=self.batch_size, seed=self.seed, rank=rank,
                                        world_size=world)
        else:
            self.dataset = ClipsDataset(self.path, crop_samples=self.crop_samples, views=2, seed=self.seed,
                                        max_shift=self.max_shift)
            # Sharding is ours in both modes (the Trainer's use_distributed_sampler is off): equal, seeded
            # shards per process, a new shuffle per epoch, incomplete batches dropped.
            self.sampler = DistributedSampler(self.dataset, num_replicas=world, rank=rank, shuffle=True,
                                              seed=self.seed, drop_last=True)

    def steps_per_epoch(self, world_size: int) -> int:
        n = self.n_clips if self.mode == "device" else len(self.dataset)
        return n // (self.batch_size * world_size)

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)
        if self.mode == "stream":
            self.sampler.set_epoch(epoch)

    def train_dataloader(self) -> DataLoader:
        if self.mode == "device":
            return DataLoader(self.dataset, batch_size=None, shuffle=False, num_workers=0)
        # persistent_workers stays off so that the dataset's set_epoch reaches the workers.
        return DataLoader(self.dataset, batch_size=self.batch_size, sampler=self.sampler, drop_last=True,
                          num_workers=self.num_workers, persistent_workers=False,
                          worker_init_fn=_one_thread, pin_memory=torch.cuda.is_available())


def _one_thread(_: int) -> None:
    """One thread per DataLoader worker: with few cores, more threads per worker make things slower."""
    torch.set_num_threads(1)
