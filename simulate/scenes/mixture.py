"""The steps every scene renderer shares (simulated rooms in ``simulate.scenes.scene``, measured rooms in
``simulate.scenes.measured``): checking the scene arguments, drawing the clips and their schedule, adding an event's
image at its event-to-background ratio, the ambient noise, and the one output gain.

Each function draws from the ``rng`` it is given in a fixed order, so a renderer that calls them in the same order
draws the same values (the levels are defined in ``simulate.scenes.scene``'s module docstring).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from simulate.scenes.events import ScheduledEvent, sample_schedule
from simulate.scenes.noise import diffuse_noise, noise_from_folder
from simulate.sources import ClipRef, SourceSet

# A clip cut to the scene's or ``max_event_s``'s length fades out over its last 10 ms.
CUT_FADE_S = 0.01


def cut_clip(samples: np.ndarray, *, limit: int, fade: int) -> np.ndarray:
    """A dry clip ``(samples,)`` cut to at most ``limit`` samples; a cut clip ends in a half-Hann fade-out of
    ``fade`` samples (or its whole length if shorter), so the cut makes no click. Uncut clips are returned as
    they are."""
    if samples.shape[0] <= limit:
        return samples
    out = samples[:limit].astype(np.float64)
    n = min(fade, limit)
    if n > 0:
        out[limit - n :] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(n) + 1) / n)
    return out


def check_scene_arguments(*, duration_s: float, n_events: tuple[int, int], clips: Sequence[ClipRef],
                          ranges: Mapping[str, tuple[float, float]], rir_step_s: float, sample_rate: int,
                          peak: float) -> int:
    """Check the arguments every scene has; the cross-fade step in samples.

    Raises:
        ValueError: a bad length, event count, range (``(low, high)`` with ``low <= high``), step or peak, or no
            clips.
    """
    if not (duration_s > 0 and np.isfinite(duration_s)):
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if not 1 <= n_events[0] <= n_events[1]:
        raise ValueError(f"n_events must be (low, high) with 1 <= low <= high, got {tuple(n_events)}")
    for name, value in ranges.items():
        if not value[0] <= value[1]:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {tuple(value)}")
    if not clips:
        raise ValueError("a scene needs a non-empty pool of clips")
    step = round(rir_step_s * sample_rate)
    if step < 1:
        raise ValueError(f"rir_step_s {rir_step_s} is under one sample at {sample_rate} Hz")
    if peak <= 0:
        raise ValueError(f"peak must be > 0, got {peak}")
    return step


def kind_table(weights: Mapping[str, float], kinds: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The kinds of positive weight (in the order of ``kinds``) and their probabilities ``(kinds,)``.

    Raises:
        ValueError: a kind not in ``kinds``, a negative weight, or all weights zero.
    """
    unknown = sorted(set(weights) - set(kinds))
    if unknown or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"trajectory_weights must give non-negative weights to {', '.join(kinds)} "
                         f"(not all zero), got {dict(weights)}")
    chosen = [k for k in kinds if weights.get(k, 0.0) > 0]
    return chosen, np.array([weights[k] for k in chosen]) / sum(weights[k] for k in chosen)


def draw_clips_and_schedule(rng: np.random.Generator, *, source: SourceSet, clips: Sequence[ClipRef],
                            sample_rate: int, total: int, limit: int, n_events: tuple[int, int],
                            max_polyphony: int, tries: int
                            ) -> tuple[list[ClipRef], list[np.ndarray], list[ScheduledEvent]]:
    """Draw the event count, the clips (uniformly, with replacement), load and cut them to ``limit`` samples, and
    schedule them in a scene of ``total`` samples; the clips' refs, their dry signals ``(samples,)`` and the
    schedule (``sample_schedule``).

    Raises:
        ScheduleError: fewer than ``n_events[0]`` events fit under the cap.
        SourceError: a clip cannot be loaded.
    """
    count = int(rng.integers(n_events[0], n_events[1] + 1))
    refs = [clips[int(i)] for i in rng.integers(len(clips), size=count)]
    dry = [cut_clip(source.load(ref, sample_rate=sample_rate), limit=limit, fade=round(CUT_FADE_S * sample_rate))
           for ref in refs]
    schedule = sample_schedule(rng, total_samples=total, clip_samples=[d.size for d in dry],
                               max_polyphony=max_polyphony, min_events=n_events[0], tries=tries)
    return refs, dry, schedule


def add_event(mix: np.ndarray, wet: np.ndarray, *, span: int, onset: int, ebr_db: float, what: str) -> float:
    """Add an event's image ``wet`` ``(mics, samples)`` to ``mix`` ``(mics, total)`` from ``onset``, scaled so
    that its mean power over its first ``span`` samples (the event without its tail) is ``10^(ebr_db / 10)``;
    the scale.

    Raises:
        RuntimeError: the image is silent or not finite (``what`` names the clip).
    """
    power = float(np.mean(wet[:, :span] ** 2))
    if not (np.isfinite(power) and power > 0):
        raise RuntimeError(f"{what}: its image at the mics is silent or not finite (power {power})")
    gain = float(np.sqrt(10.0 ** (ebr_db / 10.0) / power))
    end = min(onset + wet.shape[1], mix.shape[1])
    mix[:, onset:end] += gain * wet[:, : end - onset]
    return gain


def ambient(rng: np.random.Generator, *, mic_positions: np.ndarray, samples: int, sample_rate: int,
            speed_of_sound: float, noise_files: Sequence[str | os.PathLike] | None = None) -> np.ndarray:
    """The background ``(mics, samples)`` at unit mean power per mic: an excerpt of one of ``noise_files``, or
    without them a diffuse field for the mics at ``mic_positions`` ``(mics, 3)`` (``diffuse_noise``).

    Raises:
        ValueError: a recording that does not fit the scene (named), or a silent excerpt.
    """
    if noise_files:
        noise = noise_from_folder(rng, files=noise_files, samples=samples, sample_rate=sample_rate,
                                  mics=mic_positions.shape[0])
        level = float(np.sqrt(np.mean(noise**2)))
        if not level > 0:
            raise ValueError("the ambient noise excerpt is silent")
        return noise / level
    return diffuse_noise(rng, mic_positions=mic_positions, samples=samples, sample_rate=sample_rate,
                         speed_of_sound=speed_of_sound)


def peak_gain(mix: np.ndarray, *, peak: float) -> float:
    """The one scale that brings the peak of ``mix`` ``(mics, samples)`` over all mics to ``peak``."""
    return peak / float(np.max(np.abs(mix)))
