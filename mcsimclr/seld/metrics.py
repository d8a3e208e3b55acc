"""The DCASE Task 3 SELD metrics: the frame-level 2024 set (F20, DOAE_CD, RDE_CD) and the 1 s segment 2023 set
(ER20, F20, LE_CD, LR_CD), on :class:`~mcsimclr.core.frame_labels.FrameLabels`.

The rules are those of the official baselines (``SELD_evaluation_metrics.py`` of partha2409/DCASE2024_seld_baseline,
class ``SELDMetrics``, and of sharathadavanne/seld-dcase2023, class ``SELDMetrics``; Mesaros et al., WASPAA 2019;
Politis et al., IEEE/ACM TASLP 2020). ``tests/fixtures/seld_official.json`` holds the official code's outputs on
stored arrays and the tests match them to 1e-6; written from the rules below, not from that code.

Common to both sets
-------------------
- Directions: azimuth counter-clockwise from +x, elevation up, in degrees (as DCASE). A direction becomes the unit
  vector ``(cos el cos az, cos el sin az, sin el)``; the angular error of two directions is the great-circle angle
  ``atan2(|u x v|, u . v)`` in degrees. (The official code uses ``arccos`` of the dot product of vectors divided
  by ``sqrt(|v|^2 + 1e-10)``; that reads ``8.1e-4`` degrees for two equal directions and differs from the exact
  angle by about ``1e-10 / tan(angle)`` rad, under 1e-6 degrees for errors above 1 degree. It also reads an error
  of exactly 20 degrees a hair above 20, so the official 2024 code counts such a pair outside the threshold; here
  it is inside. The 2023 code uses the spherical-law-of-cosines ``arccos``, exact to about 1e-6 degrees.)
- Per class, within a frame, the references and predictions of that class are matched by the Hungarian assignment
  (``scipy.optimize.linear_sum_assignment``) on their angular errors (references as rows, both in ascending track
  order): ``K = min(P, R)`` pairs. The assignment is per class, not per track: a prediction on any track may match
  a reference on any track. Distances never take part in the matching.
- Counts per class ``c``: ``TP`` (matched and within the thresholds), ``FP_spatial`` (matched but outside a
  threshold), ``FP`` (predictions beyond the references: ``max(0, P - R)``, and every prediction of a class with
  no reference there), ``FN`` (references beyond the predictions: ``max(0, R - P)``, and every reference of a
  class with no prediction there). A threshold is passed when the error is at most the threshold.
- ``F20_c = TP / (TP + FP_spatial + (FP + FN) / 2)`` (0 when that is 0/0). ``LR_CD_c = K_total / (K_total + FN)``
  (localisation recall: matched pairs, thresholds ignored, over matched plus missed references).
- ``ER20 = (S + D + I) / N_ref`` over all classes at once: per frame (2024) or segment (2023), with
  ``loc_FP`` = FP + FP_spatial and ``loc_FN`` = FN summed over classes, ``S = min(loc_FP, loc_FN)``,
  ``D = max(0, loc_FN - loc_FP)``, ``I = max(0, loc_FP - loc_FN)``. With no reference at all ER20 is 0 when
  nothing was predicted and ``inf`` otherwise (the official code divides by ``eps`` there).
- Macro averaging: every per-class value is computed from counts summed over all recordings, then averaged over
  **all** ``n_classes`` classes. A class that never occurs in the references counts: its F20 and LR_CD are 0
  (so ``n_classes`` changes the result). Its localisation error has no matched pair: in 2024 it is NaN and left
  out of the mean (``nanmean``; NaN when no class has a pair), in 2023 it is 180 degrees and kept in the mean.
- ``SELD_score``, per class then averaged over classes: 2024 with distance ``nanmean(1 - F20, DOAE_CD / 180,
  RDE_CD)``; 2024 without distance ``nanmean(ER20, 1 - F20, DOAE_CD / 180, 1 - LR_CD)``; 2023
  ``mean(ER20, 1 - F20, LE_CD / 180, 1 - LR_CD)``.

DCASE 2024 (:func:`seld_metrics_2024`), frame level
---------------------------------------------------
Every 100 ms frame is matched on its own. A matched pair is a TP when its angular error is at most
``doa_threshold_deg`` (20) and, with ``use_distance``, its relative distance error ``|d_pred - d_ref| / d_ref`` is
at most ``distance_threshold`` (1.0). ``DOAE_CD_c`` is the mean angular error of all matched pairs of the class
(no threshold), ``DE_CD_c`` the mean absolute distance error in metres and ``RDE_CD_c`` the mean relative distance
error, over the same pairs.

DCASE 2023 (:func:`seld_metrics_2023`), 1 s segments
----------------------------------------------------
Frames are grouped into segments of ``segment_frames`` (10) frames, the last one possibly shorter. Per segment
and class: ``R`` (``P``) is the largest number of references (predictions) of the class in one frame of the
segment. In each frame where both occur, the Hungarian assignment matches them; a reference is known by its rank
among the class's references in that frame (ascending track order), and for each rank the angular errors of its
matches are averaged over the segment's frames. Each rank with a match is one matched pair (``K`` = their number):
a TP if its mean error is at most ``doa_threshold_deg``, else an FP_spatial; its mean error adds to ``LE_CD``.
Then ``FP += max(0, P - R)`` or ``FN += max(0, R - P)``. Two rules of the official code are kept as they are: when
the class occurs in both but never in the same frame of the segment, it counts ``P`` false negatives (not ``R``
false negatives and ``P`` false positives); and ``N_ref`` adds ``R`` per segment. ``LE_CD_c`` is the mean of the
matched pairs' mean errors.

Input rules: ``predictions[i]`` and ``references[i]`` are one recording, with the same number of frames and hop
(the track counts may differ). The official wrapper reads a recording's length from its reference CSV file as the
largest frame index with an event, so it ignores the last labelled frame and every frame after it; here the
length is the number of frames of the labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from mcsimclr.core.frame_labels import FrameLabels

__all__ = ["angular_error_deg", "seld_metrics_2023", "seld_metrics_2024", "unit_vectors"]


def unit_vectors(*, azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Unit vectors ``(..., 3)`` of directions ``(...)`` in degrees (azimuth from +x counter-clockwise, elevation
    up), float64."""
    az = np.deg2rad(np.asarray(azimuth_deg, dtype=np.float64))
    el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def angular_error_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle angle in degrees between unit vectors ``u (..., 3)`` and ``v (..., 3)`` (broadcast), in [0, 180];
    ``atan2(|u x v|, u . v)`` stays exact near 0 and 180 degrees, where ``arccos`` does not."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.sum(u * v, axis=-1)))


class _Counts:
    """Per-class sums over recordings ``(n_classes,)`` and the scalar S, D, I of the error rate."""

    def __init__(self, n_classes: int) -> None:
        self.tp, self.fp_spatial, self.fp, self.fn, self.matched, self.n_ref, self.sum_doa, self.sum_dist, \
            self.sum_rel_dist = np.zeros((9, n_classes), dtype=np.float64)
        self.s = self.d = self.i = 0

    def close_block(self, *, loc_fp: int, loc_fn: int) -> None:
        """Substitutions, deletions and insertions of one frame (2024) or segment (2023)."""
        self.s += min(loc_fp, loc_fn)
        self.d += max(0, loc_fn - loc_fp)
        self.i += max(0, loc_fp - loc_fn)

    def error_rate(self) -> float:
        n_ref = float(self.n_ref.sum())
        errors = self.s + self.d + self.i
        if n_ref == 0:
            return 0.0 if errors == 0 else math.inf
        return errors / n_ref

    def f_score(self) -> np.ndarray:
        denominator = self.tp + self.fp_spatial + 0.5 * (self.fp + self.fn)
        return np.divide(self.tp, denominator, out=np.zeros_like(self.tp), where=denominator > 0)

    def recall(self) -> np.ndarray:
        denominator = self.matched + self.fn
        return np.divide(self.matched, denominator, out=np.zeros_like(self.matched), where=denominator > 0)

    def mean_over_matched(self, total: np.ndarray, *, none: float) -> np.ndarray:
        """``total / matched`` per class, ``none`` where a class has no matched pair."""
        return np.divide(total, self.matched, out=np.full_like(total, none), where=self.matched > 0)


def _nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """``np.nanmean`` that gives NaN for an all-NaN slice without a RuntimeWarning."""
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    return np.divide(total, count, out=np.full_like(np.asarray(total, dtype=np.float64), np.nan), where=count > 0)


def _check_inputs(*, predictions: Sequence[FrameLabels], references: Sequence[FrameLabels], n_classes: int,
                  use_distance: bool) -> None:
    if not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references: expected one per recording")
    if len(references) == 0:
        raise ValueError("no recordings: expected at least one (prediction, reference) pair")
    for index, (pred, ref) in enumerate(zip(predictions, references, strict=True)):
        for role, labels in (("prediction", pred), ("reference", ref)):
            if not isinstance(labels, FrameLabels):
                raise ValueError(f"{role} {index} is a {type(labels).__name__}, expected FrameLabels")
            bad = np.argwhere(labels.active & (labels.class_index >= n_classes))
            if len(bad):
                frame, track = bad[0]
                raise ValueError(f"{role} {index}: class_index {labels.class_index[frame, track]} at frame {frame}, "
                                 f"track {track}; expected 0 <= class_index < n_classes = {n_classes}")
            if use_distance:
                distance = labels.distance_m
                ok = np.isfinite(distance) & (distance > 0) if role == "reference" else np.isfinite(distance)
                bad = np.argwhere(labels.active & ~ok)
                if len(bad):
                    frame, track = bad[0]
                    expected = "a finite distance > 0 m" if role == "reference" else "a finite distance"
                    raise ValueError(f"{role} {index}: distance_m {distance[frame, track]} at frame {frame}, track "
                                     f"{track}; use_distance=True expects {expected} for every active event")
        if pred.n_frames != ref.n_frames:
            raise ValueError(f"recording {index}: prediction has {pred.n_frames} frames, reference {ref.n_frames}; "
                             "expected the same frames")
        if pred.hop_s != ref.hop_s:
            raise ValueError(f"recording {index}: prediction hop {pred.hop_s} s, reference hop {ref.hop_s} s; "
                             "expected the same hop")


def _events_by_frame(labels: FrameLabels) -> list[dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Per frame, per active class: unit vectors ``(k, 3)`` and distances ``(k,)`` of its events, in ascending track
    order."""
    vectors = unit_vectors(azimuth_deg=labels.azimuth_deg, elevation_deg=labels.elevation_deg)
    distances = labels.distance_m.astype(np.float64)
    frames: list[dict[int, tuple[np.ndarray, np.ndarray]]] = []
    for frame in range(labels.n_frames):
        tracks = np.flatnonzero(labels.active[frame])
        classes = labels.class_index[frame, tracks]
        frames.append({int(c): (vectors[frame, tracks[classes == c]], distances[frame, tracks[classes == c]])
                       for c in np.unique(classes)})
    return frames


def _assign(ref_vectors: np.ndarray, pred_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian matching of references ``(R, 3)`` to predictions ``(P, 3)`` on angular error: reference rows
    ``(K,)``, prediction columns ``(K,)`` and their errors in degrees ``(K,)``, ``K = min(R, P)``."""
    cost = angular_error_deg(ref_vectors[:, None, :], pred_vectors[None, :, :])
    rows, cols = linear_sum_assignment(cost)
    return rows, cols, cost[rows, cols]


def _scores(counts: _Counts, *, doa: np.ndarray, extra: dict[str, np.ndarray], seld_terms: list[np.ndarray],
            doa_key: str, doa_mean: float, nan_aware: bool) -> dict[str, Any]:
    er = counts.error_rate()
    f = counts.f_score()
    lr = counts.recall()
    terms = np.stack([np.broadcast_to(t, f.shape) for t in seld_terms])
    seld = _nanmean(terms, axis=0) if nan_aware else terms.mean(axis=0)
    per_class = {"F20": f, doa_key: doa, **extra, "LR_CD": lr, "SELD_score": seld}
    result: dict[str, Any] = {"ER20": er, "F20": float(f.mean()), doa_key: doa_mean}
    result.update({key: float(_nanmean(value)) for key, value in extra.items()})
    result.update({"LR_CD": float(lr.mean()), "SELD_score": float(seld.mean()), "per_class": per_class})
    return result


def seld_metrics_2024(predictions: Sequence[FrameLabels], references: Sequence[FrameLabels], *, n_classes: int,
                      use_distance: bool, doa_threshold_deg: float = 20.0,
                      distance_threshold: float = 1.0) -> dict[str, Any]:
    """The DCASE 2024 frame-level SELD metrics, macro-averaged over ``n_classes`` classes (rules: module docstring).

    Args:
        predictions: one :class:`FrameLabels` per recording, ``(frames, tracks)`` arrays.
        references: the reference labels of the same recordings, the same frames (tracks may differ).
        n_classes: number of classes (every class counts in the macro average, also one that never occurs).
        use_distance: evaluate distances (DCASE 2024): every active event needs a distance, references > 0 m.
        doa_threshold_deg: a matched pair is a TP only if its angular error is at most this.
        distance_threshold: with ``use_distance``, also only if ``|d_pred - d_ref| / d_ref`` is at most this.

    Returns:
        ``F20``, ``DOAE_CD`` (degrees, NaN when no class has a matched pair), with ``use_distance`` ``DE_CD``
        (metres) and ``RDE_CD``, and ``ER20``, ``LR_CD``, ``SELD_score`` as floats; ``per_class``: the same names
        (less ER20) as arrays ``(n_classes,)``, NaN for a class without matched pairs.
    """
    _check_inputs(predictions=predictions, references=references, n_classes=n_classes, use_distance=use_distance)
    if not doa_threshold_deg > 0 or not distance_threshold > 0:
        raise ValueError(f"thresholds must be > 0, got doa_threshold_deg={doa_threshold_deg}, "
                         f"distance_threshold={distance_threshold}")
    counts = _Counts(n_classes)
    for pred, ref in zip(predictions, references, strict=True):
        for pred_frame, ref_frame in zip(_events_by_frame(pred), _events_by_frame(ref), strict=True):
            loc_fp = loc_fn = 0
            for c in sorted(set(pred_frame) | set(ref_frame)):
                ref_vectors, ref_dist = ref_frame.get(c, (np.zeros((0, 3)), np.zeros(0)))
                pred_vectors, pred_dist = pred_frame.get(c, (np.zeros((0, 3)), np.zeros(0)))
                n_ref, n_pred = len(ref_vectors), len(pred_vectors)
                counts.n_ref[c] += n_ref
                if n_ref and n_pred:
                    rows, cols, doa_err = _assign(ref_vectors, pred_vectors)
                    outside = doa_err > doa_threshold_deg
                    if use_distance:
                        dist_err = np.abs(pred_dist[cols] - ref_dist[rows])
                        rel_err = dist_err / ref_dist[rows]
                        outside |= rel_err > distance_threshold
                        counts.sum_dist[c] += dist_err.sum()
                        counts.sum_rel_dist[c] += rel_err.sum()
                    n_outside = int(outside.sum())
                    counts.sum_doa[c] += doa_err.sum()
                    counts.matched[c] += len(rows)
                    counts.tp[c] += len(rows) - n_outside
                    counts.fp_spatial[c] += n_outside
                    counts.fp[c] += n_pred - len(rows)
                    counts.fn[c] += n_ref - len(rows)
                    loc_fp += n_pred - len(rows) + n_outside
                    loc_fn += n_ref - len(rows)
                elif n_ref:
                    counts.fn[c] += n_ref
                    loc_fn += n_ref
                else:
                    counts.fp[c] += n_pred
                    loc_fp += n_pred
            counts.close_block(loc_fp=loc_fp, loc_fn=loc_fn)
    doa = counts.mean_over_matched(counts.sum_doa, none=np.nan)
    extra: dict[str, np.ndarray] = {}
    if use_distance:
        extra = {"DE_CD": counts.mean_over_matched(counts.sum_dist, none=np.nan),
                 "RDE_CD": counts.mean_over_matched(counts.sum_rel_dist, none=np.nan)}
        terms = [1.0 - counts.f_score(), doa / 180.0, extra["RDE_CD"]]
    else:
        terms = [np.asarray(counts.error_rate()), 1.0 - counts.f_score(), doa / 180.0, 1.0 - counts.recall()]
    return _scores(counts, doa=doa, extra=extra, seld_terms=terms, doa_key="DOAE_CD", doa_mean=float(_nanmean(doa)),
                   nan_aware=True)


def seld_metrics_2023(predictions: Sequence[FrameLabels], references: Sequence[FrameLabels], *, n_classes: int,
                      doa_threshold_deg: float = 20.0, segment_frames: int = 10) -> dict[str, Any]:
    """The DCASE 2023 SELD metrics on segments of ``segment_frames`` frames (1 s), macro-averaged over
    ``n_classes`` classes (rules: module docstring). Distances are ignored.

    Args:
        predictions: one :class:`FrameLabels` per recording, ``(frames, tracks)`` arrays.
        references: the reference labels of the same recordings, the same frames (tracks may differ).
        n_classes: number of classes (every class counts in the macro average, also one that never occurs).
        doa_threshold_deg: a matched reference is a TP only if its mean angular error over the segment is at most
            this.
        segment_frames: frames per segment (10 frames of 100 ms in DCASE).

    Returns:
        ``ER20``, ``F20``, ``LE_CD`` (degrees; 180 for a class without matched pairs), ``LR_CD``, ``SELD_score``
        as floats; ``per_class``: ``F20``, ``LE_CD``, ``LR_CD``, ``SELD_score`` as arrays ``(n_classes,)``.
    """
    _check_inputs(predictions=predictions, references=references, n_classes=n_classes, use_distance=False)
    if not doa_threshold_deg > 0:
        raise ValueError(f"doa_threshold_deg must be > 0, got {doa_threshold_deg}")
    if not isinstance(segment_frames, int) or segment_frames < 1:
        raise ValueError(f"segment_frames must be a positive int, got {segment_frames!r}")
    counts = _Counts(n_classes)
    for pred, ref in zip(predictions, references, strict=True):
        pred_frames, ref_frames = _events_by_frame(pred), _events_by_frame(ref)
        for start in range(0, ref.n_frames, segment_frames):
            pred_seg, ref_seg = pred_frames[start:start + segment_frames], ref_frames[start:start + segment_frames]
            loc_fp = loc_fn = 0
            for c in sorted(set().union(*pred_seg, *ref_seg)):
                n_ref = max((len(frame[c][0]) for frame in ref_seg if c in frame), default=0)
                n_pred = max((len(frame[c][0]) for frame in pred_seg if c in frame), default=0)
                counts.n_ref[c] += n_ref
                if n_ref and n_pred:
                    error_sum: dict[int, float] = {}
                    error_count: dict[int, int] = {}
                    for pred_frame, ref_frame in zip(pred_seg, ref_seg, strict=True):
                        if c in ref_frame and c in pred_frame:
                            rows, _, doa_err = _assign(ref_frame[c][0], pred_frame[c][0])
                            for rank, err in zip(rows.tolist(), doa_err.tolist(), strict=True):
                                error_sum[rank] = error_sum.get(rank, 0.0) + err
                                error_count[rank] = error_count.get(rank, 0) + 1
                    if not error_sum:
                        # the official rule: P false negatives when the class never meets itself in a frame
                        counts.fn[c] += n_pred
                        loc_fn += n_pred
                        continue
                    for rank, total in error_sum.items():
                        mean_err = total / error_count[rank]
                        counts.sum_doa[c] += mean_err
                        counts.matched[c] += 1
                        if mean_err <= doa_threshold_deg:
                            counts.tp[c] += 1
                        else:
                            counts.fp_spatial[c] += 1
                            loc_fp += 1
                    counts.fp[c] += max(0, n_pred - n_ref)
                    counts.fn[c] += max(0, n_ref - n_pred)
                    loc_fp += max(0, n_pred - n_ref)
                    loc_fn += max(0, n_ref - n_pred)
                elif n_ref:
                    counts.fn[c] += n_ref
                    loc_fn += n_ref
                else:
                    counts.fp[c] += n_pred
                    loc_fp += n_pred
            counts.close_block(loc_fp=loc_fp, loc_fn=loc_fn)
    le = counts.mean_over_matched(counts.sum_doa, none=180.0)
    terms = [np.asarray(counts.error_rate()), 1.0 - counts.f_score(), le / 180.0, 1.0 - counts.recall()]
    return _scores(counts, doa=le, extra={}, seld_terms=terms, doa_key="LE_CD", doa_mean=float(le.mean()),
                   nan_aware=False)
