"""GPU-first data: a whole split held in device memory, crops drawn there without a DataLoader.

FSDnoisy18k's noisy split is 38.8 h: 4 mics x 24 kHz x 2 bytes (float16) = 27 GB, which fits an 80 GB GPU.
With the split on the device, a training step draws its batch of crops by indexing one tensor: no disk read,
no worker process and no host-to-device copy sits in the loop. When it does not fit, stream with
``ClipsDataset`` and DataLoader workers instead; ``choose_data_mode`` makes the choice.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from mcsimclr.core.h5schema import SpatialClipsFile
from mcsimclr.data.clips_dataset import LABEL_FIELDS
from mcsimclr.data.crops import draw_near, draw_starts, gather_crops

log = logging.getLogger(__name__)

DataMode = Literal["auto", "device", "stream"]


def store_nbytes(path: str | Path, dtype: torch.dtype) -> int:
    """Bytes that ``ClipStore`` needs for the split in ``path`` at ``dtype``."""
    with SpatialClipsFile(path) as f:
        shape = f._h5()["audio"].shape
    return int(np.prod(shape)) * torch.empty((), dtype=dtype).element_size()


def available_bytes(device: torch.device) -> int:
    """Free memory on ``device`` (CUDA: free device memory; CPU: available RAM)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def choose_data_mode(path: str | Path, *, device: torch.device, dtype: torch.dtype, mode: DataMode = "auto",
                     max_fraction: float = 0.5) -> Literal["device", "stream"]:
    """``device`` if the split fits in ``max_fraction`` of the device's free memory (or if forced), else ``stream``.

    The choice and its reason are logged.
    """
    need = store_nbytes(path, dtype)
    free = available_bytes(device)
    if mode == "auto":
        chosen = "device" if need <= max_fraction * free else "stream"
        reason = f"needs {need / 2**30:.2f} GiB, {free / 2**30:.1f} GiB free on {device} (limit {max_fraction:.0%})"
    elif mode in ("device", "stream"):
        chosen, reason = mode, "forced by config"
    else:
        raise ValueError(f"data mode must be auto, device or stream, got {mode!r}")
    log.info("data %s: %s (%s)", Path(path).name, "held on the device" if chosen == "device" else "streamed", reason)
    return chosen


class ClipStore:
    """All clips of one split file in one tensor on a device, with their labels.

    Args:
        path: a split file.
        device: where to hold it.
        dtype: storage type (float16 halves the memory; crops come out as float32).
        block_samples: samples read from HDF5 per copy (bounds host memory while loading).
        clips: hold only these clips of the file ``(n,)`` (e.g. one process's shard), in this order; store index
            ``i`` is then file clip ``clips[i]``. ``None``: all clips.

    Example::

        store = ClipStore("data/noisy_train.h5", device=torch.device("cuda"))
        a, b = store.pairs(torch.arange(512, device="cuda"), crop=24000, generator=g)  # (512, mics, crop) each
    """

    def __init__(self, path: str | Path, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float16,
                 block_samples: int = 1 << 22, clips: np.ndarray | None = None) -> None:
        self.device = torch.device(device)
        with SpatialClipsFile(path) as f:
            h5 = f._h5()["audio"]
            offsets, lengths = f.column("offsets"), f.column("lengths")
            if clips is None:
                self.audio = torch.empty(h5.shape, dtype=dtype, device=self.device)
                for start in range(0, h5.shape[1], block_samples):
                    block = torch.from_numpy(np.asarray(h5[:, start : start + block_samples], dtype=np.float32))
                    self.audio[:, start : start + block.shape[1]] = block.to(self.device, dtype=dtype)
                self.offsets = torch.from_numpy(offsets).to(self.device)
                self.lengths = torch.from_numpy(lengths).to(self.device)
                # A scene file has labels per frame, not per clip: none of these (pretraining needs no labels).
                self.labels = {k: torch.from_numpy(np.asarray(f.column(k))).to(self.device) for k in LABEL_FIELDS
                               if k in f._h5()}
            else:
                clips = np.asarray(clips, dtype=np.int64)
                if clips.ndim != 1 or (clips.size and (clips.min() < 0 or clips.max() >= len(lengths))):
                    raise ValueError(f"{path}: clips must be indices in [0, {len(lengths)}), got shape "
                                     f"{clips.shape} with range [{clips.min(initial=0)}, {clips.max(initial=0)}]")
                kept = lengths[clips]
                new_offsets = np.concatenate([[0], np.cumsum(kept)[:-1]]).astype(offsets.dtype)
                self.audio = torch.empty((h5.shape[0], int(kept.sum())), dtype=dtype, device=self.device)
                for clip, start, n in zip(clips, new_offsets, kept, strict=True):
                    src = int(offsets[clip])
                    block = torch.from_numpy(np.asarray(h5[:, src : src + int(n)], dtype=np.float32))
                    self.audio[:, int(start) : int(start) + int(n)] = block.to(self.device, dtype=dtype)
                self.offsets = torch.from_numpy(new_offsets).to(self.device)
                self.lengths = torch.from_numpy(kept).to(self.device)
                self.labels = {k: torch.from_numpy(np.asarray(f.column(k))[clips]).to(self.device)
                               for k in LABEL_FIELDS if k in f._h5()}
            self.sample_rate = f.sample_rate

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def crops(self, indices: torch.Tensor, crop: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """One random crop of each clip in ``indices`` ``(n,)`` -> ``(n, mics, crop)`` float32."""
        lengths = self.lengths[indices]
        starts = draw_starts(lengths, crop, generator=generator)
        return gather_crops(self.audio, self.offsets[indices], lengths, starts, crop).float()

    def pairs(self, indices: torch.Tensor, crop: int, *, max_shift: int | None = None,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Two random crops of each clip (a positive pair): two ``(n, mics, crop)`` float32.

        ``max_shift`` ``None``: two independent crops anywhere in the clip (the paper's pair); an integer: the
        second crop starts within ``max_shift`` samples of the first (:func:`draw_near`), so that in a long
        multi-event recording both views hold the same events from the same directions.
        """
        lengths, offsets = self.lengths[indices], self.offsets[indices]
        first = draw_starts(lengths, crop, generator=generator)
        second = (draw_starts(lengths, crop, generator=generator) if max_shift is None
                  else draw_near(first, lengths, crop, max_shift, generator=generator))
        return (gather_crops(self.audio, offsets, lengths, first, crop).float(),
                gather_crops(self.audio, offsets, lengths, second, crop).float())
