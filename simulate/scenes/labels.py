"""Frame labels of a scene: per frame and track, whether an event is active, its class and its direction.

Frames are ``[f hop, (f + 1) hop)`` for ``f = 0 .. ceil(duration / hop) - 1`` (the DCASE label resolution is
a 100 ms hop). **Activity rule**: an event is active in a frame when it covers the frame's centre
``(f + 0.5) hop`` (its span is half-open, ``[onset, onset + duration)``); its direction is the trajectory's
at that centre. Events on one track never overlap, so a track holds at most one event per frame, and the
number of active tracks of a frame never exceeds the schedule's cap. **Inactive entries**: ``class_index``
-1, ``azimuth_deg``, ``elevation_deg`` and ``distance_m`` NaN (so an inactive entry can never pass for a
source at 0 deg or 0 m).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mcsimclr.core.frame_labels import FrameLabels
from simulate.scenes.events import EventSpec


def frame_count(duration_s: float, *, hop_s: float) -> int:
    """Frames that cover ``duration_s`` (the last one may run past the end)."""
    # Rounding guard: 5.0 s at 0.1 s is 50 frames, not 51 from 5.0 / 0.1 = 50.000000000000004.
    return max(math.ceil(duration_s / hop_s - 1e-9), 0)


def frame_labels(events: Sequence[EventSpec], *, duration_s: float, hop_s: float = 0.1,
                 max_tracks: int) -> FrameLabels:
    """The frame labels of a scene's ``events`` (see the module docstring for the rules).

    Raises:
        ValueError: a bad hop or duration, a track outside ``0 .. max_tracks - 1``, or two events on one
            track in the same frame (the schedule overlaps).
    """
    if not (hop_s > 0 and math.isfinite(hop_s)):
        raise ValueError(f"hop_s must be > 0, got {hop_s}")
    if not (duration_s >= 0 and math.isfinite(duration_s)):
        raise ValueError(f"duration_s must be >= 0, got {duration_s}")
    if max_tracks < 1:
        raise ValueError(f"max_tracks must be >= 1, got {max_tracks}")
    frames = frame_count(duration_s, hop_s=hop_s)
    centres = (np.arange(frames) + 0.5) * hop_s
    active = np.zeros((frames, max_tracks), dtype=bool)
    class_index = np.full((frames, max_tracks), -1, dtype=np.int16)
    directions = np.full((3, frames, max_tracks), np.nan, dtype=np.float32)
    for i, event in enumerate(events):
        if not 0 <= event.track < max_tracks:
            raise ValueError(f"event {i} is on track {event.track}; tracks are 0 .. {max_tracks - 1}")
        covered = np.flatnonzero((centres >= event.onset_s) & (centres < event.offset_s))
        if covered.size == 0:
            continue
        if np.any(active[covered, event.track]):
            frame = int(covered[np.argmax(active[covered, event.track])])
            raise ValueError(f"event {i} (onset {event.onset_s:g} s) overlaps another event on track "
                             f"{event.track} in frame {frame}")
        active[covered, event.track] = True
        class_index[covered, event.track] = event.class_index
        directions[:, covered, event.track] = event.trajectory.directions(centres[covered] - event.onset_s).T
    return FrameLabels(hop_s=hop_s, active=active, class_index=class_index, azimuth_deg=directions[0],
                       elevation_deg=directions[1], distance_m=directions[2])


def polyphony(labels: FrameLabels) -> np.ndarray:
    """Number of active events in each frame ``(frames,)`` int."""
    return labels.active.sum(axis=1)


def polyphony_fractions(labels: FrameLabels) -> np.ndarray:
    """Fraction of frames with 0, 1, ..., ``tracks`` active events ``(tracks + 1,)`` (sums to 1; zeros when
    there are no frames)."""
    counts = np.bincount(polyphony(labels), minlength=labels.tracks + 1).astype(np.float64)
    return counts / max(labels.frames, 1)
