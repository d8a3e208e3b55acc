"""The HDF5 layout of a scene file (schema version 2, written by ``simulate scenes``), and its reader.

docs/dataset.md ("Scene files") is the prose. A file holds one split: every scene's multichannel audio in one
array ``audio (mics, total_samples)`` as in a clip file (scene i at ``audio[:, offsets[i] : offsets[i] +
lengths[i]]``), one row per scene in each per-scene dataset, the frame labels of all scenes in the group
``frames/`` (``(total_frames, tracks)`` arrays; scene i's frames start at ``frame_offsets[i]``) and one row per
event in the group ``events/`` (its ``scene`` column is the scene's row). Clip files keep schema version 1
(``mcsimclr.core.h5schema``); readers accept both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import h5py
import numpy as np

from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.core.h5schema import (
    AZIMUTH_CONVENTION,
    Field,
    SplitFile,
    check_format,
    string_array,
    write_audio,
    write_columns,
)

SCENE_SCHEMA_VERSION = 2
SCENE_FORMAT_NAME = "mcsimclr.spatial_scenes"
__all__ = ["AZIMUTH_CONVENTION", "EVENT_FIELDS", "FRAME_FIELDS", "PER_SCENE_FIELDS", "SCENE_FORMAT_NAME",
           "SCENE_SCHEMA_VERSION", "SpatialScenesFile", "write_scene_file"]

PER_SCENE_FIELDS: tuple[Field, ...] = (
    Field("offsets", "int64", (), "start of the scene in `audio`, samples"),
    Field("lengths", "int64", (), "length of the scene, samples"),
    Field("frame_offsets", "int64", (), "first row of the scene in the `frames/` arrays"),
    Field("n_frames", "int64", (), "label frames of the scene (`label_hop_s` each)"),
    Field("n_events", "int64", (), "events of the scene (rows of `events/` whose `scene` is this row)"),
    Field("room_dims", "float32", (3,), "room width, length, height, metres (NaN for recorded scenes)"),
    Field("rt60_target", "float32", (), "RT60 drawn for the room, seconds (NaN if not simulated)"),
    Field("rt60_sabine", "float32", (), "RT60 that the absorption used gives by Sabine's formula, seconds"),
    Field("absorption", "float32", (), "uniform wall energy absorption coefficient used (NaN if not simulated)"),
    Field("array_center", "float64", (3,), "array centre in the room, metres (NaN if unknown)"),
    Field("gain", "float32", (), "scale applied to the mixture to reach the peak level"),
    Field("scene_index", "int64", (), "index of the scene in its split's listing"),
    Field("source_id", "str", (), "scene id (`<split>-<index>`) or the recording's file name"),
)
SCENE_FIELD_NAMES = tuple(f.name for f in PER_SCENE_FIELDS)

FRAME_FIELDS: tuple[Field, ...] = (
    Field("active", "bool", ("tracks",), "the track holds an event in the frame"),
    Field("class_index", "int16", ("tracks",), "class index into `class_names`, -1 when inactive"),
    Field("azimuth_deg", "float32", ("tracks",), "azimuth at the frame centre (convention attribute), NaN when "
          "inactive"),
    Field("elevation_deg", "float32", ("tracks",), "elevation at the frame centre, NaN when inactive"),
    Field("distance_m", "float32", ("tracks",), "distance from the array centre, metres, NaN when inactive or "
          "unknown"),
)

EVENT_FIELDS: tuple[Field, ...] = (
    Field("scene", "int64", (), "row of the event's scene in this file"),
    Field("onset_s", "float64", (), "start of the event, seconds from the scene's start"),
    Field("duration_s", "float64", (), "length of the event (its dry clip), seconds"),
    Field("class_index", "int32", (), "class index into `class_names`"),
    Field("track", "int32", (), "track of the event in `frames/` (free for its whole span)"),
    Field("trajectory", "str", (), "`static`, `arc`, `line`, `measured` (steps through measured positions) or "
          "`recorded`"),
    Field("start_pos", "float64", (3,), "source position at the onset, room coordinates, metres (NaN if unknown)"),
    Field("end_pos", "float64", (3,), "source position at the end, metres (NaN if unknown)"),
    Field("angular_speed_deg", "float32", (), "azimuth rate of an `arc`, deg/s (0 otherwise)"),
    Field("speed_m_s", "float32", (), "speed of a `line`, m/s (0 otherwise)"),
    Field("ebr_db", "float32", (), "event-to-background ratio, dB (NaN for recorded scenes)"),
    Field("source_id", "str", (), "the event's dry clip (source file or synthetic clip id)"),
)

REQUIRED_SCENE_ATTRS: tuple[str, ...] = (
    "format", "schema_version", "split", "sample_rate", "n_scenes", "n_mics", "mic_offsets", "array_geometry",
    "class_names", "source_kind", "backend", "backend_version", "azimuth_convention", "config_yaml",
    "config_sha256", "package_version", "audio_dtype", "peak", "label_hop_s", "max_tracks",
)


def write_scene_file(path: Path, *, attrs: dict, scenes: dict[str, np.ndarray], frames: dict[str, np.ndarray],
                     events: dict[str, np.ndarray], audio_parts: Iterable[Callable[[], np.ndarray]], n_mics: int,
                     audio_dtype: str) -> None:
    """Write one split's scene file at ``path`` (the caller renames it into place once complete).

    As for clip files, the bytes depend only on the content: attributes in sorted order, audio in aligned slabs.

    Args:
        attrs: file attributes (``REQUIRED_SCENE_ATTRS``) except ``n_scenes``, ``n_frames`` and ``n_events``.
        scenes: per-scene arrays keyed by ``SCENE_FIELD_NAMES`` except ``offsets`` and ``frame_offsets``
            (computed here), ``(n_scenes, ...)``.
        frames: ``FRAME_FIELDS`` arrays ``(total_frames, tracks)``, scenes in order.
        events: ``EVENT_FIELDS`` arrays ``(n_events, ...)``.
        audio_parts: callables returning the audio of consecutive scenes ``(mics, samples)``, in order.
    """
    lengths = np.asarray(scenes["lengths"], dtype=np.int64)
    n_frames = np.asarray(scenes["n_frames"], dtype=np.int64)
    n = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)[:n]
    frame_starts = np.concatenate([[0], np.cumsum(n_frames)[:-1]]).astype(np.int64)[:n]
    scenes = {**scenes, "offsets": starts, "frame_offsets": frame_starts}
    total_frames = int(n_frames.sum())
    n_events = len(np.asarray(events["scene"]))
    if int(np.asarray(scenes["n_events"]).sum()) != n_events:
        raise RuntimeError(f"per-scene event counts add up to {int(np.sum(scenes['n_events']))}, the events table "
                           f"has {n_events} rows")
    attrs = {**attrs, "n_scenes": n, "n_frames": total_frames, "n_events": n_events}
    with h5py.File(path, "w", libver=("earliest", "v110"), track_order=False) as f:
        for key in sorted(attrs):
            f.attrs[key] = attrs[key]
        _audio = write_audio(f, audio_parts, n_mics=n_mics, audio_dtype=audio_dtype,  # open till the end
                             total=int(lengths.sum()))
        write_columns(f, PER_SCENE_FIELDS, scenes, rows=n)
        write_columns(f.create_group("frames", track_order=False), FRAME_FIELDS, frames, rows=total_frames)
        write_columns(f.create_group("events", track_order=False), EVENT_FIELDS, events, rows=n_events)


def open_scene_file(path: str | Path) -> SpatialScenesFile:
    """Open ``path`` as a scene file, after checking that it is one, in the schema version this code reads.

    Raises:
        DataError: a missing or unreadable file, a clip file or another format, another schema version.
    """
    path = Path(path)
    check_format(path, format_name=SCENE_FORMAT_NAME, version=SCENE_SCHEMA_VERSION)
    return SpatialScenesFile(path)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SpatialScenesFile(SplitFile):
    """Read access to one scene file (``SplitFile``: ``audio(i)``, ``column``, ``attrs``), with its frame labels and
    events.

    Example::

        scenes = SpatialScenesFile("data/scenes/test.h5")
        audio = scenes.audio(0)              # (mics, samples) float32
        labels = scenes.labels(0)            # FrameLabels (frames, tracks)
        onsets = scenes.events(0)["onset_s"]
    """

    @property
    def hop_s(self) -> float:
        return float(self._h5().attrs["label_hop_s"])

    def labels(self, index: int) -> FrameLabels:
        """The frame labels of scene ``index`` ``(frames, tracks)``."""
        f = self._h5()
        start, count = int(f["frame_offsets"][index]), int(f["n_frames"][index])
        g = f["frames"]
        return FrameLabels(**{fl.name: np.asarray(g[fl.name][start : start + count], dtype=fl.dtype)
                              for fl in FRAME_FIELDS}, hop_s=self.hop_s)

    def all_frames(self) -> dict[str, np.ndarray]:
        """The ``frames/`` arrays of all scenes ``(total_frames, tracks)``."""
        g = self._h5()["frames"]
        return {fl.name: g[fl.name][()] for fl in FRAME_FIELDS}

    def events(self, index: int | None = None) -> dict[str, np.ndarray]:
        """The events table (of scene ``index`` only, if given); strings decoded to ``str``."""
        g = self._h5()["events"]
        rows = slice(None)
        if index is not None:
            scene = g["scene"][()]
            rows = np.nonzero(scene == index)[0]
        out = {}
        for fl in EVENT_FIELDS:
            data = g[fl.name][()][rows]
            if data.dtype.kind == "O":
                data = np.array([_text(d) for d in data], dtype=object)
            out[fl.name] = data
        return out


def describe_scene_schema() -> str:
    """Markdown tables of the per-scene, frame and event datasets (kept in docs/dataset.md)."""
    rows = []
    for title, fields, n in (("per scene", PER_SCENE_FIELDS, "n_scenes"), ("`frames/`", FRAME_FIELDS, "n_frames"),
                             ("`events/`", EVENT_FIELDS, "n_events")):
        rows += [f"| {title}: dataset | dtype | shape | meaning |", "|---|---|---|---|"]
        for fl in fields:
            shape = f"({n}" + "".join(f", {s}" for s in fl.shape) + ")"
            rows.append(f"| `{fl.name}` | {fl.dtype} | {shape} | {fl.doc} |")
        rows.append("")
    return "\n".join(rows).rstrip() + "\n"


__all__ += ["REQUIRED_SCENE_ATTRS", "SCENE_FIELD_NAMES", "describe_scene_schema", "open_scene_file", "string_array"]
