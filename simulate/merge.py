"""``simulate merge``: join the shards of a split (``simulate build`` or ``simulate scenes --shard i/n``) into one file.

The merged file is bit-identical to an unsharded build of the same config: the clips are concatenated in shard
order, the attributes are those of an unsharded build, and ``write_split_file`` writes the same bytes however
the content was cut.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from mcsimclr.core.h5schema import AUDIO_SLAB_SAMPLES, PER_CLIP_FIELDS, SpatialClipsFile, publish, write_split_file
from mcsimclr.core.scene_schema import (
    EVENT_FIELDS,
    FRAME_FIELDS,
    PER_SCENE_FIELDS,
    SCENE_FORMAT_NAME,
    SpatialScenesFile,
    write_scene_file,
)
from simulate.blocks import SHARD_ATTRS


class MergeError(ValueError):
    """Shards that do not make one complete split; the message names the file and what is wrong."""


def _audio_reader(path: Path, start: int, stop: int) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        with h5py.File(path, "r") as f:
            return f["audio"][:, start:stop]
    return read


def _read_shards(paths: list[str | Path]) -> list[tuple[Path, dict]]:
    """The shards in order with their attributes, after checking that they make one complete split.

    Raises:
        MergeError: as ``merge_shards``.
    """
    shards = []
    for p in map(Path, paths):
        with h5py.File(p, "r") as f:
            attrs = {k: f.attrs[k] for k in f.attrs}
        missing = [a for a in SHARD_ATTRS if a not in attrs]
        if missing:
            raise MergeError(f"{p}: not a shard (no {', '.join(missing)}); shards come from "
                             "`simulate build --shard i/n` or `simulate scenes --shard i/n`")
        shards.append((int(attrs["shard_index"]), p, attrs))
    shards.sort(key=lambda s: s[0])
    first = shards[0][2]
    count = int(first["shard_count"])
    for _, p, attrs in shards:
        for key in ("format", "config_sha256", "split", "shard_count", "listing_clips"):
            if attrs[key] != first[key]:
                raise MergeError(f"{p}: {key} {attrs[key]!r} differs from {shards[0][1]}'s {first[key]!r}; "
                                 "all shards must come from the same build of the same split")
    indices = [s[0] for s in shards]
    if indices != list(range(count)):
        absent = sorted(set(range(count)) - set(indices))
        raise MergeError(f"expected shards 0..{count - 1} of {first['split']!r} once each; "
                         + (f"missing {absent}" if absent else f"got {indices}"))
    position = 0
    for _, p, attrs in shards:
        if int(attrs["clip_start"]) != position:
            raise MergeError(f"{p}: starts at item {attrs['clip_start']}, expected {position}")
        position = int(attrs["clip_stop"])
    if position != int(first["listing_clips"]):
        raise MergeError(f"the shards cover {position} of {first['listing_clips']} items")
    return [(p, attrs) for _, p, attrs in shards]


def _audio_parts(path: Path, total: int) -> list[Callable[[], np.ndarray]]:
    return [_audio_reader(path, a, min(a + AUDIO_SLAB_SAMPLES, total)) for a in range(0, total, AUDIO_SLAB_SAMPLES)]


def merge_shards(paths: list[str | Path], *, out: str | Path, overwrite: bool = False) -> Path:
    """Merge the ``n`` shard files of one split (clips or scenes) into ``out``; returns ``out``.

    Raises:
        MergeError: a file that is not a shard, shards of different builds or splits, a missing or repeated
            shard, or an ``out`` that exists (without ``overwrite``).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise MergeError(f"{out} exists; pass --overwrite to replace it")
    shards = _read_shards(paths)
    first = shards[0][1]
    partial = out.with_name(out.name + ".partial")
    if first["format"] == SCENE_FORMAT_NAME:
        _merge_scenes(shards, partial)
    else:
        _merge_clips(shards, partial)
    publish(partial, out)
    return out


def _merge_clips(shards: list[tuple[Path, dict]], partial: Path) -> None:
    first = shards[0][1]
    columns: dict[str, list[np.ndarray]] = {f.name: [] for f in PER_CLIP_FIELDS if f.name != "offsets"}
    skipped: tuple[list[str], list[str]] = ([], [])
    parts: list[Callable[[], np.ndarray]] = []
    for p, _ in shards:
        with SpatialClipsFile(p) as f:
            for name in columns:
                columns[name].append(f.column(name))
            for source_id, reason in f.skipped():
                skipped[0].append(source_id)
                skipped[1].append(reason)
            total = int(f._h5()["audio"].shape[1])
        parts += _audio_parts(p, total)
    attrs = {k: v for k, v in first.items() if k not in (*SHARD_ATTRS, "n_clips", "n_skipped")}
    write_split_file(partial, attrs=attrs, columns={k: np.concatenate(v) for k, v in columns.items()},
                     audio_parts=parts, n_mics=int(first["n_mics"]), audio_dtype=str(first["audio_dtype"]),
                     skipped=skipped)


def _merge_scenes(shards: list[tuple[Path, dict]], partial: Path) -> None:
    first = shards[0][1]
    names = [f.name for f in PER_SCENE_FIELDS if f.name not in ("offsets", "frame_offsets")]
    scenes: dict[str, list[np.ndarray]] = {n: [] for n in names}
    frames: dict[str, list[np.ndarray]] = {f.name: [] for f in FRAME_FIELDS}
    events: dict[str, list[np.ndarray]] = {f.name: [] for f in EVENT_FIELDS}
    parts: list[Callable[[], np.ndarray]] = []
    rows = 0
    for p, _ in shards:
        with SpatialScenesFile(p) as f:
            for n in names:
                scenes[n].append(f.column(n))
            for n, v in f.all_frames().items():
                frames[n].append(v)
            table = f.events()
            table["scene"] = table["scene"] + rows
            for n, v in table.items():
                events[n].append(v)
            rows += len(f)
            total = int(f._h5()["audio"].shape[1])
        parts += _audio_parts(p, total)
    attrs = {k: v for k, v in first.items() if k not in (*SHARD_ATTRS, "n_scenes", "n_frames", "n_events")}
    write_scene_file(partial, attrs=attrs, scenes={k: np.concatenate(v) for k, v in scenes.items()},
                     frames={k: np.concatenate(v) for k, v in frames.items()},
                     events={k: np.concatenate(v) for k, v in events.items()}, audio_parts=parts,
                     n_mics=int(first["n_mics"]), audio_dtype=str(first["audio_dtype"]))
