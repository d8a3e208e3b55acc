"""Render one multi-event scene in a measured room: the impulse responses of a SOFA file (``SofaRoom``) instead of
a simulated room.

The scene is drawn as in ``simulate.scenes.scene`` (same levels, schedule, noise and output gain, from the shared
steps of ``simulate.scenes.mixture``), in a fixed order: event count, clips, schedule, then per event its kind, its
path and its level, then the noise. Events stand at measured positions only:

- ``static``: one measured position, drawn uniformly.
- ``measured`` (moving): ``SofaRoom.neighbour_path`` from a uniformly drawn start, one measured position every
  ``seconds_per_position`` (``positions_needed`` of them); rendered with the block cross-fade of
  ``simulate.scenes.moving.render_moving``, the RIR of each block being that of the position current at the block
  centre (``MeasuredPath.current``), so the audio and the labels change position at the same instants.

Labels are the file's measured directions (``SofaRoom.angles``) of the position current at each frame centre. The
ambient diffuse field is made for the file's receivers (``SofaRoom.receivers``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.signal import fftconvolve

from simulate.backends.sofa import SofaError, SofaRoom
from simulate.geometry import Scene
from simulate.scenes.events import MAX_POLYPHONY, EventSpec
from simulate.scenes.labels import frame_labels
from simulate.scenes.measured_path import MEASURED_KINDS, MeasuredPath, positions_needed
from simulate.scenes.mixture import (
    add_event,
    ambient,
    check_scene_arguments,
    draw_clips_and_schedule,
    kind_table,
    peak_gain,
)
from simulate.scenes.moving import block_times, render_moving
from simulate.scenes.scene import RenderedScene
from simulate.sources import ClipRef, SourceSet

# How far (metres) a file's receivers may be from the config's array and still count as that array.
ARRAY_TOLERANCE_M = 1e-3


def open_measured_room(path: str | os.PathLike, *, offsets: np.ndarray, sample_rate: int,
                       source_frame: str = "global", mic_positions: np.ndarray | None = None,
                       tolerance_m: float = ARRAY_TOLERANCE_M) -> SofaRoom:
    """The measured room of ``path``, checked against the scene's array: ``offsets`` ``(mics, 3)`` (the config's
    ``mic_offsets``) must be the file's receivers (or ``mic_positions``, for files whose receivers are all at the
    centre) within ``tolerance_m`` metres, mic by mic, and the file's sample rate must be ``sample_rate``.

    Raises:
        SofaError: a file that cannot be read, with another receiver count or sample rate, or whose receivers are
            not the array's; the message starts with the file's path.
    """
    offsets = np.asarray(offsets, dtype=np.float64)
    room = SofaRoom(path, n_mics=offsets.shape[0], sample_rate=sample_rate, source_frame=source_frame,
                    mic_positions=mic_positions)
    gap = np.linalg.norm(room.receivers() - offsets, axis=1)
    if np.max(gap) > tolerance_m:
        worst = int(np.argmax(gap))
        raise SofaError(f"{room.path}: its receivers {room.receivers().round(4).tolist()} m are not the scene's array "
                        f"{offsets.round(4).tolist()} m (mic {worst} is {gap[worst]:.4f} m off, tolerance "
                        f"{tolerance_m:g} m); set array.geometry to the file's array, or backend.sofa.mic_positions "
                        "for a file without receiver positions")
    return room


def measured_weights(trajectories: Mapping[str, float]) -> dict[str, float]:
    """The ``static`` / ``measured`` weights of a measured room from the config's ``scene.trajectories``: static
    stays static, and the moving kinds (``arc``, ``line``) together become ``measured``."""
    return {"static": float(trajectories.get("static", 0.0)),
            "measured": float(trajectories.get("arc", 0.0)) + float(trajectories.get("line", 0.0))}


def measured_room_scene(room: SofaRoom) -> Scene:
    """The ``Scene`` a measured room stands for in a scene file: no simulated room (dimensions, RT60s,
    absorption and array centre NaN: the file's positions are relative to the array), the file's receivers as
    the mic positions ``(mics, 3)`` (offsets from the array centre)."""
    nan3 = np.full(3, np.nan)
    return Scene(room_dims=nan3, rt60_target=float("nan"), rt60_sabine=float("nan"), absorption=float("nan"),
                 source_pos=nan3.copy(), array_center=nan3.copy(), mic_positions=room.receivers())


def sample_measured_path(rng: np.random.Generator, *, room: SofaRoom, kind: str, duration_s: float,
                         seconds_per_position: float, max_step_m: float | None = None) -> MeasuredPath:
    """Draw an event's path among ``room``'s measured positions (module docstring).

    Raises:
        ValueError: an unknown kind, or a moving event that needs more positions than the file has (named).
    """
    if kind not in MEASURED_KINDS:
        raise ValueError(f"unknown measured path kind {kind!r}; choose one of {', '.join(MEASURED_KINDS)}")
    start = int(rng.integers(room.n_positions))
    if kind == "static":
        indices = np.array([start], dtype=np.int64)
    else:
        steps = positions_needed(duration_s, seconds_per_position=seconds_per_position) - 1
        if steps >= room.n_positions:
            raise ValueError(f"{room.path}: a moving event of {duration_s:g} s at {seconds_per_position:g} s per "
                             f"position needs {steps + 1} measured positions, the file has {room.n_positions}")
        indices = room.neighbour_path(rng, start=start, steps=steps, max_step_m=max_step_m)
    return MeasuredPath(kind=kind, indices=indices, points=room.positions()[indices],
                        angles=room.angles()[indices], seconds_per_position=seconds_per_position,
                        duration_s=duration_s)


def render_sofa_scene(rng: np.random.Generator, *, room: SofaRoom, source: SourceSet, clips: Sequence[ClipRef],
                      sample_rate: int, duration_s: float = 5.0, n_events: tuple[int, int] = (1, 6),
                      max_polyphony: int = MAX_POLYPHONY, max_event_s: float | None = None,
                      trajectory_weights: Mapping[str, float] | None = None, seconds_per_position: float = 0.5,
                      max_step_m: float | None = None, ebr_range_db: tuple[float, float] = (6.0, 30.0),
                      ambient_noise: bool = True, noise_files: Sequence[str | os.PathLike] | None = None,
                      speed_of_sound: float = 343.0, rir_step_s: float = 0.05, window: str = "hann",
                      hop_s: float = 0.1, peak: float = 0.5, schedule_tries: int = 100) -> RenderedScene:
    """Draw and render one scene in the measured room ``room``.

    Args:
        rng: the scene's own generator; the only source of randomness.
        room: the measured room; its sample rate must be ``sample_rate`` (``SofaRoom`` checks it).
        source, clips: load the dry clips / the pool the events are drawn from (uniformly, with replacement).
        trajectory_weights: relative frequency of ``static`` and ``measured`` paths (default: equal).
        seconds_per_position: how long a moving event stays at each measured position.
        max_step_m: a moving path may not jump farther than this between positions (default: no limit).
        speed_of_sound: m/s, for the diffuse noise's coherence.
        Others: as ``simulate.scenes.scene.render_scene``.

    Returns:
        A ``RenderedScene`` whose ``room`` is ``measured_room_scene(room)`` and whose events' trajectories are
        ``MeasuredPath`` s; audio ``(mics, samples)``.

    Raises:
        ScheduleError: fewer than ``n_events[0]`` of the drawn events fit under the cap.
        SofaError: the file cannot be read.
        SourceError: a clip cannot be loaded.
        ValueError: a bad argument, or a moving event longer than the file's positions allow.
    """
    if room.sample_rate != sample_rate:
        raise ValueError(f"{room.path}: the measured room is read at {room.sample_rate} Hz, the scene is at "
                         f"{sample_rate} Hz")
    if not seconds_per_position > 0:
        raise ValueError(f"seconds_per_position must be > 0, got {seconds_per_position}")
    step = check_scene_arguments(duration_s=duration_s, n_events=n_events, clips=clips, rir_step_s=rir_step_s,
                                 sample_rate=sample_rate, peak=peak, ranges={"ebr_range_db": ebr_range_db})
    weights = dict(trajectory_weights) if trajectory_weights is not None else dict.fromkeys(MEASURED_KINDS, 1.0)
    kinds, p_kinds = kind_table(weights, MEASURED_KINDS)
    total = round(duration_s * sample_rate)
    limit = total if max_event_s is None else min(total, round(max_event_s * sample_rate))

    refs, dry, schedule = draw_clips_and_schedule(
        rng, source=source, clips=clips, sample_rate=sample_rate, total=total, limit=limit, n_events=n_events,
        max_polyphony=max_polyphony, tries=schedule_tries)
    geometry = measured_room_scene(room)
    mix = np.zeros((room.n_mics, total))
    events, gains = [], []
    for slot in schedule:
        kind = kinds[int(rng.choice(len(kinds), p=p_kinds))]
        path = sample_measured_path(rng, room=room, kind=kind, duration_s=slot.length / sample_rate,
                                    seconds_per_position=seconds_per_position, max_step_m=max_step_m)
        ebr_db = float(rng.uniform(*ebr_range_db))
        signal = dry[slot.clip].astype(np.float64)
        if kind == "static":
            wet = fftconvolve(signal[None, :], room.rir(int(path.indices[0])), axes=1)
        else:
            times = block_times(signal.size, step_samples=step, sample_rate=sample_rate)
            rirs = room.rirs(path.indices[path.current(times)])  # (blocks, mics, N), one file read
            wet = render_moving(signal, rirs, step_samples=step, window=window)
        gains.append(add_event(mix, wet, span=signal.size, onset=slot.onset, ebr_db=ebr_db,
                               what=refs[slot.clip].source_id))
        events.append(EventSpec(onset_s=slot.onset / sample_rate, duration_s=slot.length / sample_rate,
                                class_index=refs[slot.clip].label, clip=refs[slot.clip], track=slot.track,
                                trajectory=path, ebr_db=ebr_db))
    if ambient_noise:
        mix += ambient(rng, mic_positions=geometry.mic_positions, samples=total, sample_rate=sample_rate,
                       speed_of_sound=speed_of_sound, noise_files=noise_files)
    out_gain = peak_gain(mix, peak=peak)
    labels = frame_labels(events, duration_s=total / sample_rate, hop_s=hop_s, max_tracks=max_polyphony)
    return RenderedScene(audio=mix * out_gain, labels=labels, events=events, room=geometry, gain=out_gain,
                         event_gains=np.asarray(gains))
