"""``mcsimclr embed``: the embeddings of a whole data file from a pretrained checkpoint, in one self-describing file.

Two levels (docs/evaluation.md, "Embedding a data set"):

- ``clip``: one embedding per clip, the probe's whole-clip protocol (:func:`mcsimclr.probe.embed.embed_clips`: the
  mean embedding of ``window`` windows at ``hop``), with the clip's labels copied beside it.
- ``frame``: the encoder's frame sequence before temporal pooling (``SpatialEncoder.frames``), one step every
  ``frame_hop_s`` seconds, for every item (clip or scene). Windows start on the step grid every ``hop`` samples;
  a step that several windows cover is the mean of their values. Step ``k`` of an item has the same number of
  steps as ``SpatialEncoder.frames`` of the whole item: ``(1 + samples // hop_length) // min_frames``.

The file is written under ``OUT.partial`` and renamed to ``OUT`` once complete.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import torch

import mcsimclr
from mcsimclr.checkpoint import load_encoder, read_checkpoint
from mcsimclr.core.device import resolve_device
from mcsimclr.core.errors import DataError
from mcsimclr.core.h5schema import PER_CLIP_FIELDS, publish, string_array
from mcsimclr.core.scene_schema import PER_SCENE_FIELDS
from mcsimclr.data.clip_store import ClipStore
from mcsimclr.data.crops import gather_crops
from mcsimclr.data.data_info import check_compatible, read_data_info
from mcsimclr.models.spatial_encoder import SpatialEncoder
from mcsimclr.probe.embed import embed_clips
from mcsimclr.probe.finetune import autocast_context
from mcsimclr.probe.run import sha256_file
from mcsimclr.probe.setting import pretraining_setting

log = logging.getLogger(__name__)

EMBED_FORMAT = "mcsimclr.embeddings"
EMBED_VERSION = 1
Level = Literal["clip", "frame", "auto"]
# Per-item columns of the data file that are positions in its audio (or its label frames): not copied as such.
_NOT_COPIED = ("offsets", "lengths")


class EmbedError(ValueError):
    """An embedding run that cannot go as asked; the message says what to change."""


def frame_steps(samples: int, *, hop_length: int, min_frames: int) -> int:
    """Steps of ``SpatialEncoder.frames`` for ``samples`` samples: ``(1 + samples // hop_length) // min_frames``."""
    return (1 + samples // hop_length) // min_frames


def frame_window_starts(n_steps: int, *, window_steps: int, hop_steps: int) -> np.ndarray:
    """Start steps of the windows that cover an item of ``n_steps`` steps ``(n_windows,)`` int64: ``0, hop_steps,
    ...`` until a window reaches the last step (the last window may run past the item's end: zeros there)."""
    if n_steps <= window_steps:
        return np.zeros(1, dtype=np.int64)
    count = math.ceil((n_steps - window_steps) / hop_steps) + 1
    return np.arange(count, dtype=np.int64) * hop_steps


def step_centres_s(steps: np.ndarray, *, hop_length: int, min_frames: int, sample_rate: int) -> np.ndarray:
    """Time of step ``k`` ``(n,)`` float64, seconds: the mean of the centres of the ``min_frames`` feature frames
    pooled into it, ``(k * min_frames + (min_frames - 1) / 2) * hop_length / sample_rate`` (feature frame ``f`` is
    centred on sample ``f * hop_length``)."""
    return (np.asarray(steps, dtype=np.float64) * min_frames + (min_frames - 1) / 2) * hop_length / sample_rate


def embed_file(*, checkpoint: str | Path, data: str | Path, out: str | Path, level: Level = "auto",
               window_seconds: float = 1.0, hop_seconds: float | None = None, batch: int = 256,
               accelerator: Literal["auto", "gpu", "cpu"] = "auto", precision: str = "32", allow_cpu: bool = False,
               overwrite: bool = False) -> Path:
    """Embed every clip or scene of ``data`` with the encoder of ``checkpoint`` and write ``out`` (HDF5).

    Args:
        checkpoint: a pretraining checkpoint (``mcsimclr pretrain``).
        data: a clip file (``simulate build``) or a scene file (``simulate scenes``) with the checkpoint's sample
            rate and array.
        out: the file to write (``out.partial`` while it is written).
        level: ``clip`` (clip files only), ``frame``, or ``auto`` (clip for clip files, frame for scene files).
        window_seconds: window length given to the encoder.
        hop_seconds: hop between windows; default: half the window (clip level, the probe's 0.5 s for 1 s), at frame
            level rounded down to whole steps (``frame_hop_s``). At frame level it must be a whole number of steps.
        batch: windows per encoder call.
        accelerator, precision, allow_cpu: the device policy (``mcsimclr.core.device``); ``precision="32"`` keeps
            float32 on a GPU too.
        overwrite: replace an existing ``out``.

    Returns:
        ``out``.

    Raises:
        DataError, CheckpointError, EmbedError, DeviceError: naming the file or value and what is expected.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise EmbedError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    if level not in ("clip", "frame", "auto"):
        raise EmbedError(f"level must be clip, frame or auto, got {level!r}")
    if batch < 1:
        raise EmbedError(f"batch must be >= 1, got {batch}")
    info = read_data_info(data)
    ckpt_path = Path(checkpoint)
    meta = read_checkpoint(ckpt_path)["mcsimclr"]
    check_compatible([info], sample_rate=int(meta["sample_rate"]), mic_offsets=np.asarray(meta["mic_offsets"]),
                     what=f"the checkpoint {ckpt_path} (its features and array)")
    chosen = ("frame" if info.kind == "scenes" else "clip") if level == "auto" else level
    if chosen == "clip" and info.kind == "scenes":
        raise EmbedError(f"{info.path}: a scene file (labels per frame); clip level needs a clip file from "
                         "`simulate build`: use --level frame (or auto)")
    placement = resolve_device(accelerator=accelerator, precision=precision, allow_cpu=allow_cpu,
                               setting="--accelerator gpu")
    device = placement.device
    encoder = load_encoder(ckpt_path, device=device)
    sr = encoder.sample_rate
    window = round(window_seconds * sr)
    step = encoder.encoder.min_frames * encoder.features.hop_length
    if window_seconds <= 0 or window < step:
        raise EmbedError(f"window_seconds={window_seconds}: the encoder needs at least one step of "
                         f"{encoder.frame_hop_s:g} s ({step} samples)")
    if hop_seconds is None:
        hop = window // 2 if chosen == "clip" else max(step, (window // 2) // step * step)
    else:
        hop = round(hop_seconds * sr)
        if hop_seconds <= 0 or hop < 1:
            raise EmbedError(f"hop_seconds must be > 0, got {hop_seconds}")
    if chosen == "frame" and hop % step:
        raise EmbedError(f"hop_seconds={hop / sr:g} ({hop} samples) is not a whole number of the encoder's steps "
                         f"(frame_hop_s={encoder.frame_hop_s:g} s = {step} samples); at frame level windows start on "
                         f"the step grid: use e.g. --hop {max(1, hop // step) * step / sr:g}")
    with h5py.File(info.path, "r") as f:
        store_dtype = torch.float16 if f["audio"].dtype == np.float16 else torch.float32
        attrs = dict(f.attrs)
        columns = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset) and k not in ("audio", *_NOT_COPIED)}
    item_fields = {fl.name for fl in (PER_SCENE_FIELDS if info.kind == "scenes" else PER_CLIP_FIELDS)}
    columns = {k: v for k, v in columns.items() if k in item_fields}
    store = ClipStore(info.path, device=device, dtype=store_dtype)
    log.info("embed %s (%s, %d %s) at %s level, window %g s, hop %g s, on %s", info.path, info.kind, len(store),
             info.kind, chosen, window / sr, hop / sr, device)
    file_attrs = {
        "format": EMBED_FORMAT, "version": EMBED_VERSION, "level": chosen, "data_kind": info.kind,
        "checkpoint": str(ckpt_path), "checkpoint_sha256": sha256_file(ckpt_path),
        "checkpoint_config_sha256": hashlib.sha256(str(meta.get("config_yaml", "")).encode()).hexdigest(),
        "setting": pretraining_setting(str(meta.get("config_yaml", "")), meta["encoder"]),
        "data": str(info.path), "data_config_sha256": _text(attrs.get("config_sha256", "")),
        "data_split": _text(attrs.get("split", "")), "n_items": len(store), "sample_rate": sr,
        "mic_offsets": info.mic_offsets, "array_geometry": info.array_geometry,
        "class_names": string_array(list(info.class_names)), "window_seconds": window / sr, "window_samples": window,
        "hop_seconds": hop / sr, "hop_samples": hop, "frame_hop_s": encoder.frame_hop_s, "step_samples": step,
        "embed_dim": encoder.embed_dim, "frame_dim": encoder.encoder.frame_dim, "device": str(device),
        "precision": placement.precision, "package_version": mcsimclr.__version__, "created_by": "mcsimclr embed",
    }
    if info.kind == "scenes":
        file_attrs["label_hop_s"] = float(attrs["label_hop_s"])
    autocast = placement.autocast_dtype
    lengths = store.lengths.cpu().numpy()
    if chosen == "clip":
        def embed(x: torch.Tensor) -> torch.Tensor:
            with autocast_context(device, autocast):
                return encoder(x)

        emb = embed_clips(embed, store, np.arange(len(store)), window=window, hop=hop, batch_size=batch)
        arrays = {"embeddings": emb.embedding.cpu().numpy().astype(np.float32),
                  "clip_index": np.arange(len(store), dtype=np.int64)}
    else:
        arrays = _frame_arrays(encoder, store, window=window, hop_steps=hop // step, batch=batch, autocast=autocast)
        if info.kind == "scenes":
            arrays.update(_label_frames(arrays, hop_s=float(attrs["label_hop_s"]), n_frames=columns["n_frames"],
                                        frame_offsets=columns["frame_offsets"]))
    arrays["n_samples"] = lengths.astype(np.int64)
    arrays.update(columns)
    _write(out, attrs=file_attrs, arrays=arrays)
    log.info("embed: wrote %s", out)
    return out


@torch.no_grad()
def _frame_arrays(encoder: SpatialEncoder, store: ClipStore, *, window: int, hop_steps: int, batch: int,
                  autocast: torch.dtype | None) -> dict[str, np.ndarray]:
    """The frame level: ``frames (total_steps, frame_dim)``, ``item_index``, ``step``, ``time_s`` ``(total_steps,)``
    and ``offsets``, ``lengths`` ``(n_items,)`` (item ``i``'s steps are ``frames[offsets[i] : offsets[i] +
    lengths[i]]``)."""
    hl, m, sr = encoder.features.hop_length, encoder.encoder.min_frames, encoder.sample_rate
    step = hl * m
    window_steps = frame_steps(window, hop_length=hl, min_frames=m)
    n_steps = np.array([frame_steps(int(n), hop_length=hl, min_frames=m) for n in store.lengths.cpu().numpy()],
                       dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_steps)[:-1]]).astype(np.int64)[: len(n_steps)]
    total = int(n_steps.sum())
    starts = [frame_window_starts(int(n), window_steps=window_steps, hop_steps=hop_steps) for n in n_steps]
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), [len(s) for s in starts])
    start_step = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    device = store.device
    sums = torch.zeros(total, encoder.encoder.frame_dim, device=device)
    counts = torch.zeros(total, device=device)
    k = torch.arange(window_steps, device=device)
    for first in range(0, len(owner), batch):
        own = torch.as_tensor(owner[first : first + batch], device=device)
        st = torch.as_tensor(start_step[first : first + batch], device=device)
        audio = gather_crops(store.audio, store.offsets[own], store.lengths[own], st * step, window).float()
        with autocast_context(device, autocast):
            seq = encoder.frames(audio).float()  # (windows, window_steps, frame_dim)
        pos = st[:, None] + k[None, :]  # (windows, window_steps): step within the item
        valid = pos < torch.as_tensor(n_steps, device=device)[own][:, None]
        rows = (torch.as_tensor(offsets, device=device)[own][:, None] + pos)[valid]
        sums.index_add_(0, rows, seq[valid])
        counts.index_add_(0, rows, torch.ones(len(rows), device=device))
    if total and bool((counts == 0).any()):
        raise RuntimeError("some steps were covered by no window (a bug in the window plan)")
    item = np.repeat(np.arange(len(n_steps), dtype=np.int64), n_steps)
    steps = np.arange(total, dtype=np.int64) - np.repeat(offsets, n_steps)
    return {"frames": (sums / counts.clamp(min=1)[:, None]).cpu().numpy().astype(np.float32), "item_index": item,
            "step": steps, "time_s": step_centres_s(steps, hop_length=hl, min_frames=m, sample_rate=sr),
            "offsets": offsets, "lengths": n_steps}


def _label_frames(arrays: dict[str, np.ndarray], *, hop_s: float, n_frames: np.ndarray,
                  frame_offsets: np.ndarray) -> dict[str, np.ndarray]:
    """``label_frame``: the scene's label frame each step's centre falls in (frame ``j`` covers ``[j hop_s, (j + 1)
    hop_s)``), -1 past the scene's last label frame; ``label_row``: its row in the scene file's ``frames/`` arrays
    (``frame_offsets + label_frame``), -1 likewise. Both ``(total_steps,)`` int64."""
    item = arrays["item_index"]
    # A hair of tolerance so that a centre that lands exactly on a frame edge is not lost to rounding.
    frame = np.floor(arrays["time_s"] / hop_s + 1e-9).astype(np.int64)
    inside = frame < np.asarray(n_frames, dtype=np.int64)[item]
    label_frame = np.where(inside, frame, -1)
    label_row = np.where(inside, np.asarray(frame_offsets, dtype=np.int64)[item] + frame, -1)
    return {"label_frame": label_frame, "label_row": label_row}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _write(out: Path, *, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``out.partial``, then rename it to ``out``; an error leaves no file behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with h5py.File(partial, "w") as f:
            for key in sorted(attrs):
                f.attrs[key] = attrs[key]
            for name, data in arrays.items():
                data = np.asarray(data)
                if data.dtype.kind in "OU":
                    data = string_array([_text(s) for s in data])
                f.create_dataset(name, data=data)
        publish(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_embeddings(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """An ``mcsimclr embed`` file: its attributes and all its datasets (strings decoded), checked for format and
    version.

    Raises:
        DataError: a missing file, another format or version.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"embedding file not found: {path} (make one with `mcsimclr embed`)")
    with h5py.File(path, "r") as f:
        if _text(f.attrs.get("format", "")) != EMBED_FORMAT:
            raise DataError(f"{path}: not an `mcsimclr embed` file (format {f.attrs.get('format')!r})")
        if int(f.attrs.get("version", -1)) != EMBED_VERSION:
            raise DataError(f"{path}: embedding file version {f.attrs.get('version')}, this mcsimclr reads "
                            f"{EMBED_VERSION}")
        attrs = {k: (_text(v) if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        arrays = {}
        for name in f:
            data = f[name][()]
            arrays[name] = np.array([_text(d) for d in data], dtype=object) if data.dtype.kind == "O" else data
    return attrs, arrays
