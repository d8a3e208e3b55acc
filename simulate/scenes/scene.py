"""Render one multi-event scene: a room, an array, events on trajectories under a polyphony cap, ambient noise.

Every draw comes from the ``rng`` passed in, in a fixed order (room and array, event count, clips, schedule,
then per event its trajectory kind, path and level, then the noise), so a per-scene generator (e.g.
``simulate.spatialize.clip_rng``) gives bit-identical scenes in any worker, shard or resumed run.

**Levels**: the background is the ambient noise, at unit mean power per mic. Each event's image at the mics,
over its own span (``[onset, onset + duration)``, without its reverberant tail), is scaled to the mean power
``10^(ebr_db / 10)``, i.e. its event-to-background ratio is ``ebr_db`` (drawn uniform in ``ebr_range_db``).
Without ambient noise the events keep the same levels (relative to a unit reference). The mixture is then
scaled once so that its peak over all mics is ``peak`` (never per mic: that would change the spatial cues).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from simulate.backends import RIRBackend
from simulate.config import RoomConfig
from simulate.geometry import Scene, sample_scene
from simulate.scenes.events import MAX_POLYPHONY, EventSpec
from simulate.scenes.labels import FrameLabels, frame_labels
from simulate.scenes.mixture import (
    CUT_FADE_S,
    add_event,
    ambient,
    check_scene_arguments,
    cut_clip,
    draw_clips_and_schedule,
    kind_table,
    peak_gain,
)
from simulate.scenes.moving import block_times, render_moving, trajectory_rirs
from simulate.scenes.trajectory import TRAJECTORY_KINDS, sample_trajectory
from simulate.sources import ClipRef, SourceSet

__all__ = ["CUT_FADE_S", "RenderedScene", "cut_clip", "render_scene"]


@dataclass(frozen=True)
class RenderedScene:
    """One rendered scene.

    Attributes:
        audio: ``(mics, samples)`` float64, peak ``peak`` over all mics.
        labels: the frame labels ``(frames, tracks)``.
        events: the events, sorted by onset.
        room: the room and array (``room.source_pos`` is unused: each event has its own trajectory).
        gain: the one scale applied to the mixture for the output peak.
        event_gains: the scale of each event's image before ``gain`` ``(events,)``, to reach its ``ebr_db``.
    """

    audio: np.ndarray
    labels: FrameLabels
    events: list[EventSpec]
    room: Scene
    gain: float
    event_gains: np.ndarray


def render_scene(rng: np.random.Generator, *, room: RoomConfig, offsets: np.ndarray, source: SourceSet,
                 clips: Sequence[ClipRef], backend: RIRBackend, sample_rate: int, duration_s: float = 5.0,
                 n_events: tuple[int, int] = (1, 6), max_polyphony: int = MAX_POLYPHONY,
                 max_event_s: float | None = None,
                 trajectory_weights: Mapping[str, float] | None = None,
                 angular_speed_range: tuple[float, float] = (10.0, 40.0),
                 line_speed_range: tuple[float, float] = (0.2, 1.0),
                 ebr_range_db: tuple[float, float] = (6.0, 30.0), ambient_noise: bool = True,
                 noise_files: Sequence[str | os.PathLike] | None = None, rir_step_s: float = 0.05,
                 window: str = "hann", hop_s: float = 0.1, peak: float = 0.5,
                 schedule_tries: int = 100) -> RenderedScene:
    """Draw and render one scene.

    Args:
        rng: the scene's own generator; the only source of randomness.
        room: room ranges and margins (``sample_scene``; ``wall_margin``, ``min_source_distance``,
            ``source_height`` and ``placement_tries`` also bound every trajectory).
        offsets: mic offsets from the array centre ``(mics, 3)``.
        source: loads the dry clips; ``clips``: the pool the events are drawn from (uniformly, with replacement).
        backend: computes the RIRs (one call per event: all positions of its path at once).
        sample_rate: Hz.
        duration_s: the scene's length (up to 60 s is the intended range).
        n_events: ``(low, high)``: the count drawn uniformly (inclusive); events that find no room under the cap
            are left out (``sample_schedule``), down to ``low``.
        max_polyphony: 1 .. 3 events at once at most.
        max_event_s: clips are cut to this length (and always to the scene's), with a ``CUT_FADE_S`` fade-out.
        trajectory_weights: relative frequency of ``static``, ``arc``, ``line`` (default: equal).
        angular_speed_range: deg/s of arcs; ``line_speed_range``: m/s of lines.
        ebr_range_db: event-to-background ratio range (module docstring).
        ambient_noise: add the background; ``noise_files``: use these recordings instead of a diffuse field.
        rir_step_s: the spacing in time of the RIRs along a moving path (the cross-fade block hop).
        window: the cross-fade (``simulate.scenes.moving``).
        hop_s: the label frame hop.
        peak: the output peak over all mics.

    Raises:
        GeometryError: the room cannot hold the array, or a trajectory cannot keep the margins.
        ScheduleError: fewer than ``n_events[0]`` of the drawn events fit under the cap.
        SourceError: a clip cannot be loaded.
        ValueError: a bad argument.
    """
    step = check_scene_arguments(
        duration_s=duration_s, n_events=n_events, clips=clips, rir_step_s=rir_step_s, sample_rate=sample_rate,
        peak=peak, ranges={"angular_speed_range": angular_speed_range, "line_speed_range": line_speed_range,
                           "ebr_range_db": ebr_range_db})
    weights = dict(trajectory_weights) if trajectory_weights is not None else dict.fromkeys(TRAJECTORY_KINDS, 1.0)
    kinds, p_kinds = kind_table(weights, TRAJECTORY_KINDS)
    total = round(duration_s * sample_rate)
    limit = total if max_event_s is None else min(total, round(max_event_s * sample_rate))

    geometry = sample_scene(rng, room, offsets)
    refs, dry, schedule = draw_clips_and_schedule(
        rng, source=source, clips=clips, sample_rate=sample_rate, total=total, limit=limit, n_events=n_events,
        max_polyphony=max_polyphony, tries=schedule_tries)
    mix = np.zeros((offsets.shape[0], total))
    events, gains = [], []
    for slot in schedule:
        kind = kinds[int(rng.choice(len(kinds), p=p_kinds))]
        trajectory = sample_trajectory(
            rng, kind=kind, room_dims=geometry.room_dims, array_center=geometry.array_center,
            mic_positions=geometry.mic_positions, duration=slot.length / sample_rate,
            wall_margin=room.wall_margin, min_source_distance=room.min_source_distance,
            source_height=room.source_height, angular_speed_range=angular_speed_range,
            line_speed_range=line_speed_range, tries=room.placement_tries)
        ebr_db = float(rng.uniform(*ebr_range_db))
        signal = dry[slot.clip].astype(np.float64)
        if kind == "static":
            (rir, _), = backend.rirs([dataclasses.replace(geometry, source_pos=trajectory.start)])
            wet = fftconvolve(signal[None, :], rir, axes=1)
        else:
            times = block_times(signal.size, step_samples=step, sample_rate=sample_rate)
            wet = render_moving(signal, trajectory_rirs(backend, geometry, trajectory.positions(times)),
                                step_samples=step, window=window)
        gain = add_event(mix, wet, span=signal.size, onset=slot.onset, ebr_db=ebr_db,
                         what=refs[slot.clip].source_id)
        gains.append(gain)
        events.append(EventSpec(onset_s=slot.onset / sample_rate, duration_s=slot.length / sample_rate,
                                class_index=refs[slot.clip].label, clip=refs[slot.clip], track=slot.track,
                                trajectory=trajectory, ebr_db=ebr_db))
    if ambient_noise:
        mix += ambient(rng, mic_positions=geometry.mic_positions, samples=total, sample_rate=sample_rate,
                       speed_of_sound=room.speed_of_sound, noise_files=noise_files)
    out_gain = peak_gain(mix, peak=peak)
    labels = frame_labels(events, duration_s=total / sample_rate, hop_s=hop_s, max_tracks=max_polyphony)
    return RenderedScene(audio=mix * out_gain, labels=labels, events=events, room=geometry, gain=out_gain,
                         event_gains=np.asarray(gains))
