"""DOA-only error of SRP-PHAT or MUSIC on a scene file, given the oracle activity (no learning).

For every frame of every scene with 1 or 2 active events, the number of sources is taken from the labels (the
oracle activity), that many azimuths are estimated from an audio window centred on the frame's centre (where a
moving source is labelled), and they are matched to the labelled azimuths by the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) on the circular azimuth difference. Errors are reported at polyphony 1
and 2 separately; frames with no event or with more than 2 are counted but not scored.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.optimize
import torch

from mcsimclr.classical.doa import Method, estimate_azimuths
from mcsimclr.classical.files import mic_positions_of, open_scene_file
from mcsimclr.core.errors import DataError
from mcsimclr.metrics import azimuth_error_deg

__all__ = ["SCORED_POLYPHONY", "evaluate_scenes", "frame_window", "matched_errors"]

SCORED_POLYPHONY = (1, 2)


def frame_window(frame: int, *, hop_s: float, window_frames: int, sample_rate: int, n_samples: int) -> slice:
    """Samples of the window of ``window_frames`` label hops centred on the centre of ``frame``.

    Near the scene's start or end the window is shifted inside the audio (same length), so every frame is scored
    on equally long windows.

    Raises:
        DataError: a scene shorter than the window.
    """
    length = round(window_frames * hop_s * sample_rate)
    if length > n_samples:
        raise DataError(f"a window of {window_frames} frame(s) ({length} samples) is longer than the scene "
                        f"({n_samples} samples)")
    start = round((frame + 0.5) * hop_s * sample_rate - length / 2)
    start = min(max(start, 0), n_samples - length)
    return slice(start, start + length)


def matched_errors(predicted_deg: np.ndarray, reference_deg: np.ndarray) -> np.ndarray:
    """Circular errors ``(n,)`` of the assignment of ``predicted_deg (n,)`` to ``reference_deg (n,)`` that minimises
    their sum (Hungarian algorithm on the ``(n, n)`` matrix of circular differences), in reference order."""
    pred = torch.as_tensor(np.asarray(predicted_deg, dtype=np.float64))
    ref = torch.as_tensor(np.asarray(reference_deg, dtype=np.float64))
    cost = azimuth_error_deg(pred[:, None], ref[None, :]).numpy()  # (predicted, reference)
    rows, cols = scipy.optimize.linear_sum_assignment(cost)
    out = np.empty(len(ref))
    out[cols] = cost[rows, cols]
    return out


def evaluate_scenes(path: str | Path, *, method: Method = "srp-phat", window_frames: int = 1, nfft: int = 512,
                    freq_range: tuple[float, float] | None = None, grid_deg: float = 1.0,
                    speed_of_sound: float = 343.0) -> dict:
    """DOA error at polyphony 1 and 2 over every scene of ``path``.

    Args:
        path: a scene file (``simulate scenes``, schema 2).
        method: ``srp-phat`` or ``music``.
        window_frames: analysis window in label hops, centred on the frame centre (1: 100 ms at the usual hop).
        nfft, freq_range, grid_deg, speed_of_sound: as :func:`mcsimclr.classical.doa.estimate_azimuths`.

    Returns:
        ``method``, ``window_s``, ``n_scenes``, ``n_frames`` (all frames), ``n_frames_by_polyphony``
        (``{p: frames}`` for every polyphony present, 0 included), and ``polyphony``: ``{1: {...}, 2: {...}}`` each
        with ``n_frames``, ``n_estimates`` (= p x frames), ``azimuth_error_mean`` and ``azimuth_error_median``
        (degrees over all matched sources; NaN without frames) and ``n_unresolved`` (frames whose spatial spectrum
        had fewer peaks than sources).
    """
    if window_frames < 1:
        raise ValueError(f"window_frames must be >= 1, got {window_frames}")
    errors: dict[int, list[np.ndarray]] = {p: [] for p in SCORED_POLYPHONY}
    unresolved = dict.fromkeys(SCORED_POLYPHONY, 0)
    by_polyphony: dict[int, int] = {}
    with open_scene_file(path) as scenes:
        mics, rate, hop_s = mic_positions_of(scenes), scenes.sample_rate, scenes.hop_s
        n_frames_total = 0
        for index in range(len(scenes)):
            labels = scenes.labels(index)
            audio = scenes.audio(index)
            n_frames_total += labels.frames
            polyphony = labels.active.sum(axis=1)
            for p, count in zip(*np.unique(polyphony, return_counts=True), strict=True):
                by_polyphony[int(p)] = by_polyphony.get(int(p), 0) + int(count)
            for frame in np.flatnonzero(np.isin(polyphony, SCORED_POLYPHONY)):
                p = int(polyphony[frame])
                reference = labels.azimuth_deg[frame][labels.active[frame]].astype(np.float64)
                try:
                    window = frame_window(int(frame), hop_s=hop_s, window_frames=window_frames, sample_rate=rate,
                                          n_samples=audio.shape[1])
                except DataError as err:
                    raise DataError(f"{scenes.path}: scene {index}: {err}") from err
                try:
                    predicted = estimate_azimuths(audio[:, window], mic_positions=mics, sample_rate=rate,
                                                  method=method, num_src=p, nfft=nfft, freq_range=freq_range,
                                                  grid_deg=grid_deg, speed_of_sound=speed_of_sound)
                except ValueError as err:  # GeometryError too: name the file, scene and frame
                    raise DataError(f"{scenes.path}: scene {index} frame {int(frame)}: {err}") from err
                unresolved[p] += int(p > 1 and np.unique(predicted).size < p)
                errors[p].append(matched_errors(predicted, reference))
        n_scenes = len(scenes)
    out = {}
    for p in SCORED_POLYPHONY:
        e = np.concatenate(errors[p]) if errors[p] else np.zeros(0)
        out[p] = {"n_frames": len(errors[p]), "n_estimates": int(e.size),
                  "azimuth_error_mean": float(e.mean()) if e.size else math.nan,
                  "azimuth_error_median": float(np.median(e)) if e.size else math.nan, "n_unresolved": unresolved[p]}
    return {"method": method, "window_s": window_frames * hop_s, "n_scenes": n_scenes, "n_frames": n_frames_total,
            "n_frames_by_polyphony": dict(sorted(by_polyphony.items())), "polyphony": out}
