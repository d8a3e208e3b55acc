"""Read and write DCASE SELD label CSV files (one row per active event per 100 ms frame, no header).

Column layouts read (the DCASE 2024 baseline's ``load_output_format_file`` accepts the same four):

- 4 fields: ``frame,class,azimuth,elevation`` (no source index, no distance);
- 5 fields: ``frame,class,source_idx,azimuth,elevation`` (DCASE 2022-2023, STARSS22/23 without distance);
- 6 fields: ``frame,class,source_idx,azimuth,elevation,distance_cm`` (DCASE 2024);
- 7 fields: ``frame,class,source_idx,x,y,z,distance_cm`` (Cartesian direction, as the baseline writes its
  outputs; the direction is that of ``(x, y, z)``, which need not be a unit vector).

All fields are integers, except ``x, y, z`` of the 7-field layout (decimal numbers). Azimuth is counter-clockwise
from the front seen from above and elevation is up, in degrees; an azimuth of -180 is read as 180, the
project's range being (-180, 180].
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcsimclr.core.frame_labels import FrameLabels
from simulate.dcase.classes import check_class_names
from simulate.sources.base import SourceError

__all__ = ["DEFAULT_MAX_TRACKS", "read_dcase_csv", "write_dcase_csv"]

DEFAULT_MAX_TRACKS = 6
"""Tracks of the labels :func:`read_dcase_csv` returns by default: room for the polyphony of real recordings
(the DCASE synthetic sets have at most 3 overlapping events)."""

_LAYOUTS: dict[int, tuple[str, ...]] = {
    4: ("frame", "class", "azimuth", "elevation"),
    5: ("frame", "class", "source_idx", "azimuth", "elevation"),
    6: ("frame", "class", "source_idx", "azimuth", "elevation", "distance_cm"),
    7: ("frame", "class", "source_idx", "x", "y", "z", "distance_cm"),
}
_EXPECTED = ("4, 5, 6 or 7 comma-separated fields: frame,class,azimuth,elevation | "
             "frame,class,source_idx,azimuth,elevation[,distance_cm] | frame,class,source_idx,x,y,z,distance_cm")
_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class _Event:
    """One parsed row: an active event in one frame."""

    line: int
    frame: int
    class_index: int
    source_idx: int | None
    azimuth_deg: float
    elevation_deg: float
    distance_m: float  # NaN without a distance column


def read_dcase_csv(path: str | Path, *, class_names: Sequence[str], n_frames: int | None = None,
                   hop_s: float = 0.1, max_tracks: int = DEFAULT_MAX_TRACKS) -> FrameLabels:
    """Read a DCASE label CSV into :class:`FrameLabels` ``(frames, max_tracks)``.

    Track assignment. With a ``source_idx`` column an event is identified by ``(class, source_idx)``: an event
    that was active in the previous frame keeps its track; an event that starts takes track ``source_idx``
    when that track is free (so the files :func:`write_dcase_csv` writes read back to the same tracks), else
    the lowest free track. Without one (4 fields), the events of a frame take tracks 0, 1, ... in row order.

    Args:
        path: the CSV file.
        class_names: the classes, in class-index order; a class index ``>= len(class_names)`` is an error.
        n_frames: frames of the audio; a row with ``frame >= n_frames`` is an error (past the end of the
            audio), and the labels have ``n_frames`` frames. Default: the last labelled frame + 1.
        hop_s: frame hop in seconds, stored in the labels.
        max_tracks: tracks of the labels; more simultaneous events in a frame is an error.

    Raises:
        SourceError: missing file, bad field count (or a count that changes between rows), a field that is
            not an integer, a value out of range (unknown class, frame past the end of the audio, azimuth
            outside [-180, 180], elevation outside [-90, 90], negative distance), the same event twice in
            one frame, more events in a frame than ``max_tracks``. The message names the file and line.
        ValueError: a bad argument (``class_names``, ``n_frames``, ``max_tracks``).
    """
    names = check_class_names(class_names)
    if n_frames is not None and (isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 0):
        raise ValueError(f"n_frames must be a non-negative integer or None, got {n_frames!r}")
    if isinstance(max_tracks, bool) or not isinstance(max_tracks, int) or max_tracks < 1:
        raise ValueError(f"max_tracks must be a positive integer, got {max_tracks!r}")
    path = Path(path)
    events = _parse(path, n_classes=len(names), n_frames=n_frames, hop_s=hop_s)
    total = n_frames if n_frames is not None else (max(e.frame for e in events) + 1 if events else 0)
    shape = (total, max_tracks)
    active = np.zeros(shape, dtype=bool)
    class_index = np.full(shape, -1, dtype=np.int16)
    values = np.full((3, *shape), np.nan, dtype=np.float32)  # azimuth, elevation, distance
    for event, track in _assign_tracks(path, events, max_tracks=max_tracks):
        active[event.frame, track] = True
        class_index[event.frame, track] = event.class_index
        values[:, event.frame, track] = (event.azimuth_deg, event.elevation_deg, event.distance_m)
    return FrameLabels(active=active, class_index=class_index, azimuth_deg=values[0], elevation_deg=values[1],
                       distance_m=values[2], hop_s=hop_s)


def write_dcase_csv(path: str | Path, labels: FrameLabels) -> None:
    """Write ``labels`` as a DCASE label CSV: one row per active event per frame, frame by frame, track by track.

    Format: no header, integers, ``source_idx`` = the track. With distances (every active entry finite): the
    2024 6-field layout ``frame,class,source_idx,azimuth,elevation,distance_cm``; without (every active entry
    NaN): the 5-field layout of DCASE 2022-2023, so no distance is made up. Degrees and centimetres are
    rounded to the nearest integer (half to even); an azimuth that rounds to -180 is written as 180.
    Labels with no active event give an empty file.

    The file is written to a temporary name in the same folder and renamed when complete, so an interrupted
    write never leaves a file that looks complete.

    Raises:
        ValueError: labels where some active entries have a distance and others not.
    """
    path = Path(path)
    active = labels.active
    with_distance = np.isfinite(labels.distance_m[active])
    if with_distance.any() and not with_distance.all():
        raise ValueError(f"{path}: {int((~with_distance).sum())} of {int(active.sum())} active label entries have "
                         "no distance (NaN); a DCASE CSV has a distance for every row or for none")
    frames, tracks = np.nonzero(active)  # row-major: frame by frame, then track by track
    azimuth = np.rint(labels.azimuth_deg[frames, tracks].astype(np.float64)).astype(np.int64)
    azimuth[azimuth == -180] = 180
    elevation = np.rint(labels.elevation_deg[frames, tracks].astype(np.float64)).astype(np.int64)
    columns = [frames, labels.class_index[frames, tracks].astype(np.int64), tracks, azimuth, elevation]
    if with_distance.any():
        columns.append(np.rint(labels.distance_m[frames, tracks].astype(np.float64) * 100.0).astype(np.int64))
    text = "".join(",".join(str(int(v)) for v in row) + "\n" for row in zip(*columns, strict=True))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _parse(path: Path, *, n_classes: int, n_frames: int | None, hop_s: float) -> list[_Event]:
    """Every row of the file as an event, checked field by field."""
    if not path.is_file():
        raise SourceError(f"{path}: DCASE label CSV not found")
    events: list[_Event] = []
    first: tuple[int, int] | None = None  # (line, field count) of the first row
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for values in reader:
                line = reader.line_num
                if not any(v.strip() for v in values):
                    continue
                where = f"{path} line {line}"
                if len(values) not in _LAYOUTS:
                    raise SourceError(f"{where}: expected {_EXPECTED}; got {len(values)} fields: {','.join(values)}")
                if first is None:
                    first = (line, len(values))
                elif len(values) != first[1]:
                    raise SourceError(f"{where}: {len(values)} fields, but line {first[0]} has {first[1]}; "
                                      "a DCASE CSV uses one layout throughout")
                events.append(_parse_row(values, where=where, line=line, n_classes=n_classes,
                                         n_frames=n_frames, hop_s=hop_s))
    except (UnicodeDecodeError, csv.Error) as err:
        raise SourceError(f"{path}: not a readable UTF-8 CSV file: {err}") from err
    return events


def _parse_row(values: list[str], *, where: str, line: int, n_classes: int, n_frames: int | None,
               hop_s: float) -> _Event:
    fields = dict(zip(_LAYOUTS[len(values)], (v.strip() for v in values), strict=True))

    def integer(column: str, lo: int | None = None, hi: int | None = None) -> int:
        raw = fields[column]
        if not _INTEGER.fullmatch(raw):
            raise SourceError(f"{where}: {column} must be an integer, got {raw!r}")
        value = int(raw)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise SourceError(f"{where}: {column} {value} out of range, expected {bounds}")
        return value

    frame = integer("frame", 0)
    if n_frames is not None and frame >= n_frames:
        raise SourceError(f"{where}: frame {frame} is past the end of the audio ({n_frames} frames of {hop_s:g} s, "
                          f"frames 0 to {n_frames - 1})")
    class_index = integer("class", 0)
    if class_index >= n_classes:
        raise SourceError(f"{where}: unknown class index {class_index}; there are {n_classes} classes "
                          f"(0 to {n_classes - 1}) in class_names")
    source_idx = integer("source_idx", 0) if "source_idx" in fields else None
    if "x" in fields:
        azimuth, elevation = _cartesian_direction(fields, where=where)
    else:
        azimuth, elevation = float(integer("azimuth", -180, 180)), float(integer("elevation", -90, 90))
    if azimuth == -180.0:
        azimuth = 180.0
    distance = integer("distance_cm", 0) / 100.0 if "distance_cm" in fields else math.nan
    return _Event(line=line, frame=frame, class_index=class_index, source_idx=source_idx,
                  azimuth_deg=azimuth, elevation_deg=elevation, distance_m=distance)


def _cartesian_direction(fields: dict[str, str], *, where: str) -> tuple[float, float]:
    """Azimuth and elevation (degrees) of the 7-field layout's ``x, y, z``."""
    xyz = []
    for axis in ("x", "y", "z"):
        try:
            value = float(fields[axis])
        except ValueError:
            raise SourceError(f"{where}: {axis} must be a number, got {fields[axis]!r}") from None
        if not math.isfinite(value):
            raise SourceError(f"{where}: {axis} must be finite, got {fields[axis]!r}")
        xyz.append(value)
    x, y, z = xyz
    if x == y == z == 0.0:
        raise SourceError(f"{where}: direction (x, y, z) = (0, 0, 0) has no azimuth or elevation")
    return math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y)))


def _assign_tracks(path: Path, events: list[_Event], *, max_tracks: int) -> list[tuple[_Event, int]]:
    """The track of every event (rules in :func:`read_dcase_csv`)."""
    by_frame: dict[int, list[_Event]] = {}
    for event in events:
        by_frame.setdefault(event.frame, []).append(event)
    out: list[tuple[_Event, int]] = []
    previous: dict[tuple[int, int], int] = {}  # (class, source_idx) -> track, in the frame before
    previous_frame = -2
    for frame in sorted(by_frame):
        rows = by_frame[frame]
        if len(rows) > max_tracks:
            lines = ", ".join(str(e.line) for e in rows)
            raise SourceError(f"{path} frame {frame} (lines {lines}): {len(rows)} simultaneous events, more than "
                              f"max_tracks={max_tracks}")
        if rows[0].source_idx is None:
            out.extend((event, track) for track, event in enumerate(rows))
            continue
        carried = previous if previous_frame == frame - 1 else {}
        current: dict[tuple[int, int], int] = {}
        seen: dict[tuple[int, int], int] = {}
        for event in rows:
            key = _identity(event)
            if key in seen:
                raise SourceError(f"{path} line {event.line}: class {key[0]} source_idx {key[1]} appears twice in "
                                  f"frame {frame} (also line {seen[key]})")
            seen[key] = event.line
        for event in rows:  # continuing events first, so a starting one cannot take their track
            key = _identity(event)
            if key in carried:
                current[key] = carried[key]
        for event in rows:
            key = _identity(event)
            if key in current:
                continue
            used = set(current.values())
            preferred = key[1]
            current[key] = preferred if preferred < max_tracks and preferred not in used else min(
                t for t in range(max_tracks) if t not in used)
        out.extend((event, current[_identity(event)]) for event in rows)
        previous, previous_frame = current, frame
    return out


def _identity(event: _Event) -> tuple[int, int]:
    """``(class, source_idx)``: what identifies an event across frames."""
    assert event.source_idx is not None
    return event.class_index, event.source_idx
