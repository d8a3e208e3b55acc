"""The event schedule of one scene: when each event starts, how long it lasts, and on which track.

Events are half-open spans ``[onset, onset + duration)`` on a grid of ``1 / sample_rate`` seconds (so the
renderer's sample spans are exactly the schedule's and the cap holds sample by sample). Each event gets a
track ``0 .. max_polyphony - 1`` that no other event uses during its span; with ``max_polyphony`` tracks, at
most ``max_polyphony`` events are active at any instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulate.scenes.measured_path import MeasuredPath
from simulate.scenes.trajectory import Trajectory

MAX_POLYPHONY = 3


class ScheduleError(ValueError):
    """A schedule that cannot be drawn (too many or too long events for the scene and the polyphony cap)."""


@dataclass(frozen=True)
class ScheduledEvent:
    """One event's place in time: ``onset`` and ``length`` in samples, its ``track`` and its clip (index into
    the ``clip_samples`` given to ``sample_schedule``)."""

    onset: int
    length: int
    track: int
    clip: int

    @property
    def end(self) -> int:
        """One past the last sample."""
        return self.onset + self.length


@dataclass(frozen=True)
class EventSpec:
    """One event of a scene, ready to render and label.

    Attributes:
        onset_s, duration_s: span ``[onset_s, onset_s + duration_s)`` in seconds from the scene's start.
        class_index: index into the source set's ``class_names``.
        clip: where the dry sound comes from (a ``ClipRef``, or an index into a clip list).
        track: ``0 .. max_polyphony - 1``, free for the event's whole span.
        trajectory: the source's path, times from the onset (a ``MeasuredPath`` in a measured room).
        ebr_db: event-to-background ratio, dB (see ``simulate.scenes.scene``).
    """

    onset_s: float
    duration_s: float
    class_index: int
    clip: object
    track: int
    trajectory: Trajectory | MeasuredPath
    ebr_db: float

    @property
    def offset_s(self) -> float:
        return self.onset_s + self.duration_s


def _free_onsets(busy: list[tuple[int, int]], *, length: int, total: int) -> list[tuple[int, int]]:
    """Integer onset ranges ``[a, b]`` (inclusive) at which ``[onset, onset + length)`` fits in ``[0, total)``
    without meeting any of the ``busy`` spans ``[s, e)`` of one track."""
    free, cursor = [], 0
    for s, e in sorted(busy):
        last = s - length  # the latest onset that ends at or before s
        if last >= cursor:
            free.append((cursor, last))
        cursor = max(cursor, e)
    if total - length >= cursor:
        free.append((cursor, total - length))
    return free


def sample_schedule(rng: np.random.Generator, *, total_samples: int, clip_samples: Sequence[int],
                    max_polyphony: int = MAX_POLYPHONY, min_events: int | None = None,
                    tries: int = 100) -> list[ScheduledEvent]:
    """Place one event per clip in a scene of ``total_samples``, at most ``max_polyphony`` at any instant.

    The events are placed in a random order, each at an onset uniform over the onsets where some track is free
    for its whole span (then the lowest free track). When an event finds no room, the whole schedule is
    redrawn, at most ``tries`` times. With ``min_events``, the attempt that placed the most events is kept
    when none placed them all, and the events without room are left out, as long as ``min_events`` remain.

    Args:
        rng: the scene's generator.
        total_samples: the scene's length.
        clip_samples: the length of each event in samples (``(events,)``), each ``1 .. total_samples``.
        max_polyphony: the cap, 1 .. 3.
        min_events: the fewest events to place (default: all of them).

    Returns:
        the events placed, sorted by onset (then track); ``clip`` says which entry of ``clip_samples`` each is.

    Raises:
        ScheduleError: fewer than ``min_events`` (default all) events fit under the cap (named with the numbers).
        ValueError: a bad argument.
    """
    if not 1 <= max_polyphony <= MAX_POLYPHONY:
        raise ValueError(f"max_polyphony must be 1 .. {MAX_POLYPHONY}, got {max_polyphony}")
    if total_samples < 1:
        raise ValueError(f"total_samples must be >= 1, got {total_samples}")
    lengths = [int(n) for n in clip_samples]
    for i, n in enumerate(lengths):
        if not 1 <= n <= total_samples:
            raise ScheduleError(f"event {i} lasts {n} samples; it must be 1 .. {total_samples} (the scene's length)")
    need = len(lengths) if min_events is None else min_events
    if not 0 <= need <= len(lengths):
        raise ValueError(f"min_events must be 0 .. {len(lengths)} (the events given), got {min_events}")
    shortest = sum(sorted(lengths)[:need])
    if shortest > max_polyphony * total_samples:
        what = f"{need} events" if need == len(lengths) else f"the {need} shortest of {len(lengths)} events"
        raise ScheduleError(
            f"{what} ({shortest} samples in all) cannot fit in a scene of {total_samples} samples "
            f"with at most {max_polyphony} at once (room for {max_polyphony * total_samples} samples)")
    best: list[ScheduledEvent] = []
    for _ in range(tries):
        placed = _try_schedule(rng, lengths=lengths, total=total_samples, tracks=max_polyphony)
        if len(placed) > len(best) or not best:
            best = placed
        if len(best) == len(lengths):
            break
    if len(best) < need:
        raise ScheduleError(
            f"found no schedule for {need} of {len(lengths)} events (lengths "
            f"{min(lengths, default=0)}-{max(lengths, default=0)} samples, {sum(lengths)} in all) in a scene of "
            f"{total_samples} samples with at most {max_polyphony} at once, in {tries} tries (best: {len(best)})")
    return sorted(best, key=lambda e: (e.onset, e.track))


def _try_schedule(rng: np.random.Generator, *, lengths: list[int], total: int,
                  tracks: int) -> list[ScheduledEvent]:
    """One attempt of ``sample_schedule``: the events placed (those that found no free span are left out)."""
    busy: list[list[tuple[int, int]]] = [[] for _ in range(tracks)]
    placed = []
    for clip in rng.permutation(len(lengths)):
        n = lengths[clip]
        per_track = [_free_onsets(b, length=n, total=total) for b in busy]
        # The union over tracks of the free onset ranges, drawn uniformly by their sizes.
        edges = sorted({(a, b) for ranges in per_track for a, b in ranges})
        union: list[list[int]] = []
        for a, b in edges:
            if union and a <= union[-1][1] + 1:
                union[-1][1] = max(union[-1][1], b)
            else:
                union.append([a, b])
        sizes = np.array([b - a + 1 for a, b in union], dtype=np.int64)
        if sizes.sum() == 0:
            continue
        k = int(rng.integers(sizes.sum()))
        which = int(np.searchsorted(np.cumsum(sizes), k, side="right"))
        onset = union[which][0] + k - int(np.cumsum(sizes)[which] - sizes[which])
        track = next(t for t, ranges in enumerate(per_track) if any(a <= onset <= b for a, b in ranges))
        busy[track].append((onset, onset + n))
        placed.append(ScheduledEvent(onset=onset, length=n, track=track, clip=int(clip)))
    return placed


def polyphony_at_samples(events: Sequence[ScheduledEvent], *, total_samples: int) -> np.ndarray:
    """How many events are active at each sample: ``(total_samples,)`` int (a difference array of the spans)."""
    count = np.zeros(total_samples + 1, dtype=np.int64)
    for e in events:
        count[e.onset] += 1
        count[e.end] -= 1
    return np.cumsum(count)[:-1]
