"""DOA-only error of a multi-ACCDOA model given the oracle activity, measured like the classical baselines'
(:func:`mcsimclr.classical.scenes.evaluate_scenes`), so the two can share a table.

For every frame with 1 or 2 labelled events, the number of events ``p`` is taken from the labels; the model's
``p`` directions are its ``p`` longest output vectors (any track, any class), where a vector within ``unify_deg``
of an already chosen one of the same class is skipped (ADPIT duplicates a lone event of a class on all three
tracks, and :func:`mcsimclr.seld.accdoa.decode` merges such tracks alike). Their azimuths are matched to the
labelled ones by the Hungarian algorithm on the circular difference (``matched_errors``). Class and activity
threshold play no part: this row measures direction only, as SRP-PHAT's does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mcsimclr.classical.scenes import SCORED_POLYPHONY, matched_errors
from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.seld.accdoa import TRACKS, UNIFY_DEG

__all__ = ["oracle_azimuths", "oracle_doa_errors"]


def oracle_azimuths(output: np.ndarray, *, n_sources: int, unify_deg: float = UNIFY_DEG) -> np.ndarray:
    """Azimuths ``(n_sources,)`` in degrees of one frame's ``n_sources`` longest distinct output vectors.

    Args:
        output: one frame ``(tracks, coords, classes)`` of multi-ACCDOA output (coords 3 or 4; x, y, z first).
        n_sources: how many directions to return (the oracle count), 1 .. tracks x classes.
        unify_deg: a vector this close to a chosen one of the same class is the same event (skipped).

    Raises:
        ValueError: a wrong shape or ``n_sources`` out of range.
    """
    output = np.asarray(output, dtype=np.float64)
    if output.ndim != 3 or output.shape[0] != TRACKS or output.shape[1] < 3:
        raise ValueError(f"output must be one frame ({TRACKS}, coords >= 3, classes), got {output.shape}")
    n_classes = output.shape[2]
    if not 1 <= n_sources <= TRACKS * n_classes:
        raise ValueError(f"n_sources must be in 1 .. {TRACKS * n_classes}, got {n_sources}")
    vectors = output[:, :3, :].transpose(0, 2, 1).reshape(-1, 3)  # (tracks * classes, 3), row = track * C + class
    classes = np.tile(np.arange(n_classes), TRACKS)
    norms = np.linalg.norm(vectors, axis=1)
    cos_unify = math.cos(math.radians(unify_deg))
    chosen: list[int] = []
    for i in np.argsort(-norms, kind="stable"):
        if norms[i] == 0:
            continue
        same = [j for j in chosen if classes[j] == classes[i]
                and vectors[j] @ vectors[i] >= cos_unify * norms[j] * norms[i]]
        if not same:
            chosen.append(int(i))
        if len(chosen) == n_sources:
            break
    while len(chosen) < n_sources:  # fewer distinct non-zero vectors than sources: repeat the longest one
        chosen.append(int(np.argmax(norms)))
    v = vectors[chosen]
    return np.degrees(np.arctan2(v[:, 1], v[:, 0]))


def oracle_doa_errors(outputs: Sequence[np.ndarray], references: Sequence[FrameLabels], *,
                      unify_deg: float = UNIFY_DEG) -> dict:
    """Azimuth error at polyphony 1 and 2 of multi-ACCDOA outputs against the labels (module docstring).

    Args:
        outputs: per scene ``(frames, tracks, coords, classes)`` model output.
        references: per scene the labels (same frames).

    Returns:
        ``{1: {...}, 2: {...}}`` with ``n_frames``, ``n_estimates``, ``azimuth_error_mean`` and
        ``azimuth_error_median`` (degrees; NaN without frames), the keys of ``evaluate_scenes``'s ``polyphony``.

    Raises:
        ValueError: a different number of scenes, or an output whose frames differ from its labels'.
    """
    if len(outputs) != len(references):
        raise ValueError(f"{len(outputs)} outputs for {len(references)} scenes")
    errors: dict[int, list[np.ndarray]] = {p: [] for p in SCORED_POLYPHONY}
    for index, (out, ref) in enumerate(zip(outputs, references, strict=True)):
        out = np.asarray(out)
        if out.ndim != 4 or out.shape[0] != ref.frames:
            raise ValueError(f"scene {index}: output {out.shape} is not ({ref.frames}, tracks, coords, classes)")
        polyphony = ref.active.sum(axis=1)
        for frame in np.flatnonzero(np.isin(polyphony, SCORED_POLYPHONY)):
            p = int(polyphony[frame])
            reference = ref.azimuth_deg[frame][ref.active[frame]].astype(np.float64)
            predicted = oracle_azimuths(out[frame], n_sources=p, unify_deg=unify_deg)
            errors[p].append(matched_errors(predicted, reference))
    result = {}
    for p in SCORED_POLYPHONY:
        e = np.concatenate(errors[p]) if errors[p] else np.zeros(0)
        result[p] = {"n_frames": len(errors[p]), "n_estimates": int(e.size),
                     "azimuth_error_mean": float(e.mean()) if e.size else math.nan,
                     "azimuth_error_median": float(np.median(e)) if e.size else math.nan}
    return result
