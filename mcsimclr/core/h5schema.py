"""The HDF5 layout written by ``simulate build`` (one file per split), and its reader.

docs/dataset.md is the human-readable contract; this module is the executable one. A file holds every
clip's multichannel audio in one array ``audio (mics, total_samples)``, chunked along time, with clip i at
``audio[:, offsets[i] : offsets[i] + lengths[i]]``, and one row per clip in each per-clip dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np

from mcsimclr.core.errors import DataError

SCHEMA_VERSION = 1
FORMAT_NAME = "mcsimclr.spatial_clips"
AZIMUTH_CONVENTION = (
    "azimuth of the source seen from the array centre, in the horizontal plane, counter-clockwise from the "
    "room's +x axis seen from above (+y is 90 deg), degrees in (-180, 180]; elevation above the horizontal "
    "plane, degrees in [-90, 90]; room axes x=width, y=length, z=height (up), origin at a floor corner"
)
AUDIO_CHUNK_SAMPLES = 32768


@dataclass(frozen=True)
class Field:
    """One per-clip dataset: name, dtype, trailing shape (``"mics"`` is the mic count) and meaning."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]
    doc: str


PER_CLIP_FIELDS: tuple[Field, ...] = (
    Field("offsets", "int64", (), "start of the clip in `audio`, samples"),
    Field("lengths", "int64", (), "length of the clip, samples"),
    Field("label", "int32", (), "class index into the `class_names` attribute"),
    Field("azimuth_deg", "float32", (), "source azimuth seen from the array centre (convention attribute)"),
    Field("elevation_deg", "float32", (), "source elevation seen from the array centre"),
    Field("distance_m", "float32", (), "source to array centre distance, metres"),
    Field("room_dims", "float32", (3,), "room width, length, height, metres"),
    Field("rt60_target", "float32", (), "RT60 drawn for the room, seconds"),
    Field("rt60_sabine", "float32", (), "RT60 that the absorption used gives by Sabine's formula (== target "
          "unless the target is infeasible for the room), seconds"),
    Field("rt60_measured", "float32", (), "RT60 measured from the RIRs (Schroeder, mean over mics; NaN if "
          "not measurable), seconds"),
    Field("absorption", "float32", (), "uniform wall energy absorption coefficient used"),
    Field("max_order", "int32", (), "image-source reflection order used (with the diffuse tail: the order "
          "that holds every image before T_diff)"),
    Field("source_pos", "float64", (3,), "source position in the room, metres"),
    Field("array_center", "float64", (3,), "array centre in the room, metres (mic i at array_center + "
          "mic_offsets[i])"),
    Field("gain", "float32", (), "scale applied to the convolved clip to reach the peak level"),
    Field("source_index", "int64", (), "index of the clip in the source split's listing"),
    Field("source_id", "str", (), "source file (relative to the data set root) or synthetic clip id"),
)
FIELD_NAMES = tuple(f.name for f in PER_CLIP_FIELDS)

REQUIRED_ATTRS: tuple[str, ...] = (
    "format", "schema_version", "split", "sample_rate", "n_clips", "n_mics", "mic_offsets", "array_geometry",
    "class_names", "source_kind", "backend", "backend_version", "azimuth_convention", "config_yaml",
    "config_sha256", "package_version", "audio_dtype", "keep_tail", "peak",
)


def string_array(values: list[str] | tuple[str, ...]) -> np.ndarray:
    """Strings as an HDF5 variable-length UTF-8 array."""
    return np.array(list(values), dtype=h5py.string_dtype())


AUDIO_SLAB_SAMPLES = 8 * AUDIO_CHUNK_SAMPLES


def write_split_file(path: Path, *, attrs: dict, columns: dict[str, np.ndarray],
                     audio_parts: Iterable[Callable[[], np.ndarray]], n_mics: int, audio_dtype: str,
                     skipped: tuple[list[str], list[str]]) -> None:
    """Write one split file at ``path`` (the caller renames it into place once complete).

    The bytes depend only on the content, not on how it was cut into parts: attributes are written in sorted
    order and the audio in aligned slabs of ``AUDIO_SLAB_SAMPLES``, so a build made of blocks, a merge of
    shards and a resumed build give bit-identical files.

    Args:
        attrs: file attributes (see ``REQUIRED_ATTRS``) except ``n_clips`` and ``n_skipped``, which are set here.
        columns: per-clip arrays keyed by ``FIELD_NAMES`` except ``offsets`` (computed here), ``(n_clips, ...)``.
        audio_parts: callables, each returning the audio of consecutive clips ``(mics, samples)``, in clip
            order; their lengths add up to ``lengths.sum()``.
        skipped: source ids and reasons of clips skipped as bad input.
    """
    lengths = np.asarray(columns["lengths"], dtype=np.int64)
    total, n = int(lengths.sum()), len(lengths)
    columns = {**columns, "offsets": np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)[:n]}
    attrs = {**attrs, "n_clips": n, "n_skipped": len(skipped[0])}
    with h5py.File(path, "w", libver=("earliest", "v110"), track_order=False) as f:
        for key in sorted(attrs):
            f.attrs[key] = attrs[key]
        _audio = write_audio(f, audio_parts, n_mics=n_mics, audio_dtype=audio_dtype, total=total)  # open till the end
        write_columns(f, PER_CLIP_FIELDS, columns, rows=n)
        group = f.create_group("skipped", track_order=False)
        group.create_dataset("source_id", data=string_array(skipped[0]), track_times=False)
        group.create_dataset("reason", data=string_array(skipped[1]), track_times=False)


def write_audio(f: h5py.File | h5py.Group, audio_parts: Iterable[Callable[[], np.ndarray]], *, n_mics: int,
                audio_dtype: str, total: int) -> h5py.Dataset:
    """Create ``audio (n_mics, total)`` in ``f`` and fill it from ``audio_parts`` in aligned slabs of
    ``AUDIO_SLAB_SAMPLES``, so that the bytes do not depend on how the audio was cut into parts.

    Returns the dataset: the caller keeps it open until the file is closed, because when HDF5 closes an object
    changes where it puts the metadata, i.e. the file's bytes (the layout of files written before this helper).
    """
    audio = f.create_dataset(
        "audio", shape=(n_mics, total), dtype=audio_dtype,
        chunks=(n_mics, min(AUDIO_CHUNK_SAMPLES, total)) if total else None, track_times=False,
    )
    pos, pending = 0, []
    for part in audio_parts:
        pending.append(np.asarray(part(), dtype=audio_dtype))
        buffered = sum(p.shape[1] for p in pending)
        if buffered >= AUDIO_SLAB_SAMPLES:
            joined = np.concatenate(pending, axis=1)
            cut = buffered - buffered % AUDIO_SLAB_SAMPLES
            audio[:, pos : pos + cut] = joined[:, :cut]
            pos += cut
            pending = [joined[:, cut:]]
    if pending:
        joined = np.concatenate(pending, axis=1)
        audio[:, pos : pos + joined.shape[1]] = joined
        pos += joined.shape[1]
    if pos != total:
        raise RuntimeError(f"audio blocks hold {pos} samples, lengths say {total}")
    return audio


def write_columns(f: h5py.File | h5py.Group, fields: Iterable[Field], columns: dict[str, np.ndarray], *,
                  rows: int) -> None:
    """One dataset per field, in the order of ``fields``, each with ``rows`` rows (strings as UTF-8)."""
    for field in fields:
        data = columns[field.name]
        if field.dtype == "str":
            data = string_array([str(s) for s in data])
        else:
            data = np.asarray(data, dtype=field.dtype)
        if data.shape[0] != rows:
            raise RuntimeError(f"column {field.name} has {data.shape[0]} rows, expected {rows}")
        f.create_dataset(field.name, data=data, track_times=False)


def publish(partial: Path, final: Path) -> None:
    """Make a completely written ``partial`` file durable, then give it its final name (atomic rename)."""
    with open(partial, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, final)


_F = TypeVar("_F", bound="SplitFile")


class SplitFile:
    """Read access to one split file (clips or scenes: both hold ``audio`` with per-row ``offsets`` and ``lengths``);
    opened lazily (once per process), so it can be sent to workers. ``SpatialClipsFile`` and
    ``mcsimclr.core.scene_schema.SpatialScenesFile`` add what their rows hold."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: h5py.File | None = None

    def _h5(self) -> h5py.File:
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file

    def __getstate__(self) -> dict:
        return {"path": self.path, "_file": None}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self: _F) -> _F:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self._h5()["lengths"].shape[0])

    @property
    def attrs(self) -> dict:
        """File attributes as Python values (arrays of strings become lists of str)."""
        out = {}
        for key, value in self._h5().attrs.items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "O":
                value = [v.decode() if isinstance(v, bytes) else str(v) for v in value]
            elif isinstance(value, bytes):
                value = value.decode()
            out[key] = value
        return out

    @property
    def class_names(self) -> list[str]:
        return list(self.attrs["class_names"])

    @property
    def sample_rate(self) -> int:
        return int(self._h5().attrs["sample_rate"])

    def column(self, name: str) -> np.ndarray:
        """Per-row dataset ``name`` for all rows ``(n_rows, ...)``; strings decoded to ``str``."""
        data = self._h5()[name][()]
        if data.dtype.kind == "O":
            data = np.array([d.decode() if isinstance(d, bytes) else d for d in data], dtype=object)
        return data

    def audio(self, index: int) -> np.ndarray:
        """Row ``index`` (a clip or a scene) as float32 ``(mics, samples)``."""
        f = self._h5()
        offset, length = int(f["offsets"][index]), int(f["lengths"][index])
        return np.asarray(f["audio"][:, offset : offset + length], dtype=np.float32)

    def config(self) -> dict:
        """The resolved config stored in the file."""
        import yaml

        return yaml.safe_load(self.attrs["config_yaml"])


class SpatialClipsFile(SplitFile):
    """Read access to one clip file (``SplitFile``), with its skipped clips.

    Example::

        clips = SpatialClipsFile("data/test.h5")
        audio = clips.audio(3)          # (mics, samples) float32
        labels = clips.column("label")  # (n_clips,)
    """

    def skipped(self) -> list[tuple[str, str]]:
        """Clips left out as bad input: ``(source_id, reason)``."""
        g = self._h5()["skipped"]
        ids = [s.decode() if isinstance(s, bytes) else s for s in g["source_id"][()]]
        reasons = [s.decode() if isinstance(s, bytes) else s for s in g["reason"][()]]
        return list(zip(ids, reasons, strict=True))


KNOWN_FORMATS = {FORMAT_NAME: ("clip", "simulate build"), "mcsimclr.spatial_scenes": ("scene", "simulate scenes")}
"""Format name -> (the kind of file, the command that makes it)."""


def check_format(path: Path, *, format_name: str, version: int) -> None:
    """Raise unless ``path`` is a readable HDF5 file of ``format_name`` in schema ``version``.

    Raises:
        DataError: a missing or unreadable file, another format (naming what it is), another schema version.
    """
    kind, command = KNOWN_FORMATS[format_name]
    if not path.is_file():
        raise DataError(f"{kind} file not found: {path} (make one with `{command}`)")
    try:
        with h5py.File(path, "r") as f:
            fmt, found = f.attrs.get("format"), int(f.attrs.get("schema_version", -1))
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})") from err
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt != format_name:
        other = f"a {KNOWN_FORMATS[fmt][0]} file (`{KNOWN_FORMATS[fmt][1]}`)" if fmt in KNOWN_FORMATS else \
            f"format {fmt!r}"
        raise DataError(f"{path}: {other}, not a {kind} file (`{command}`)")
    if found != version:
        raise DataError(f"{path}: {kind} schema_version {found}, this version reads {version}")


def describe_schema() -> str:
    """Markdown table of the per-clip fields (kept in docs/dataset.md)."""
    rows = ["| dataset | dtype | shape | meaning |", "|---|---|---|---|"]
    for f in PER_CLIP_FIELDS:
        shape = "(n_clips" + "".join(f", {s}" for s in f.shape) + ")"
        rows.append(f"| `{f.name}` | {f.dtype} | {shape} | {f.doc} |")
    return "\n".join(rows)
