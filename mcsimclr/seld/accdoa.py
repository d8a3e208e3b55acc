"""Multi-ACCDOA: the output coding of SELD (Shimada et al., ICASSP 2022; the DCASE 2022-2024 baselines).

Per frame, track ``t`` (3 tracks) and class ``c``, the model outputs a Cartesian vector whose direction is the DOA
and whose length is the activity (active when the length exceeds ``ACTIVITY_THRESHOLD`` = 0.5), plus, with distance,
one value: the distance divided by ``distance_scale`` (metres), also multiplied by the activity. Three tracks let
up to three events of one class be active at once. Output layout ``(batch, frames, tracks, coords, classes)`` with
``coords`` = 3 (x, y, z) or 4 (x, y, z, distance); flattened, ``tracks * coords * classes`` values per frame.

Directions follow the project's convention (docs/dataset.md, = DCASE): azimuth counter-clockwise from +x, elevation
up; ``x = cos(el) cos(az)``, ``y = cos(el) sin(az)``, ``z = sin(el)``.

Training targets are built for ADPIT (``mcsimclr.seld.adpit``): per frame and class, the events of that class
(``(frames, classes, 3 slots, coords)`` with a count), not a fixed track order.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mcsimclr.core.frame_labels import FrameLabels

TRACKS = 3
ACTIVITY_THRESHOLD = 0.5
UNIFY_DEG = 15.0  # the baseline merges tracks of one class whose directions are closer than this


def unit_vectors(azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Unit vectors ``(..., 3)`` of directions in degrees (docstring convention)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def class_events(labels: FrameLabels, *, n_classes: int, with_distance: bool,
                 distance_scale: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """The ADPIT targets of one scene: per frame and class the (up to 3) events of that class.

    Returns:
        ``events (frames, classes, 3, coords)`` float32 (unit vector, then distance / ``distance_scale`` if
        ``with_distance``; slots beyond the count are 0) and ``count (frames, classes)`` int64 in 0..3.

    Raises:
        ValueError: more than 3 events of one class in a frame, a class outside ``0 .. n_classes - 1``, or missing
            distances while ``with_distance``.
    """
    coords = 4 if with_distance else 3
    frames = labels.frames
    events = np.zeros((frames, n_classes, TRACKS, coords), dtype=np.float32)
    count = np.zeros((frames, n_classes), dtype=np.int64)
    f_idx, t_idx = np.nonzero(labels.active)
    cls = labels.class_index[f_idx, t_idx].astype(np.int64)
    if cls.size and (cls.min() < 0 or cls.max() >= n_classes):
        raise ValueError(f"class index {int(cls.max())} outside 0 .. {n_classes - 1}")
    vec = unit_vectors(labels.azimuth_deg[f_idx, t_idx], labels.elevation_deg[f_idx, t_idx])
    dist = labels.distance_m[f_idx, t_idx]
    if with_distance and not np.all(np.isfinite(dist)):
        raise ValueError("with_distance needs a distance for every active event")
    for f, c, v, d in zip(f_idx, cls, vec, dist, strict=True):
        slot = count[f, c]
        if slot >= TRACKS:
            raise ValueError(f"frame {f}: more than {TRACKS} events of class {c} at once")
        events[f, c, slot, :3] = v
        if with_distance:
            events[f, c, slot, 3] = d / distance_scale
        count[f, c] += 1
    return events, count


def decode(output: torch.Tensor | np.ndarray, *, n_classes: int, with_distance: bool, hop_s: float,
           distance_scale: float = 10.0, threshold: float = ACTIVITY_THRESHOLD,
           unify_deg: float = UNIFY_DEG) -> FrameLabels:
    """One scene's multi-ACCDOA output ``(frames, tracks * coords * classes)`` -> predicted frame labels.

    A track-class is active when its vector is longer than ``threshold``; two active tracks of one class whose
    directions are closer than ``unify_deg`` are one event (their mean direction), as in the DCASE baseline. The
    predicted events of a frame fill the tracks of the result in class order (``tracks`` = the most in any frame).
    """
    out = torch.as_tensor(output).detach().float().cpu().numpy()
    coords = 4 if with_distance else 3
    frames = out.shape[0]
    out = out.reshape(frames, TRACKS, coords, n_classes)
    per_frame: list[list[tuple[int, np.ndarray, float]]] = []
    cos_unify = math.cos(math.radians(unify_deg))
    for f in range(frames):
        found = []
        for c in range(n_classes):
            vecs = out[f, :, :3, c]  # (tracks, 3)
            norms = np.linalg.norm(vecs, axis=1)
            tracks = [t for t in range(TRACKS) if norms[t] > threshold]
            groups: list[list[int]] = []
            for t in tracks:
                for g in groups:
                    if float(vecs[g[0]] @ vecs[t]) / (norms[g[0]] * norms[t]) >= cos_unify:
                        g.append(t)
                        break
                else:
                    groups.append([t])
            for g in groups:
                direction = sum(vecs[t] / norms[t] for t in g)
                dist = float(np.mean([out[f, t, 3, c] for t in g])) * distance_scale if with_distance else np.nan
                found.append((c, direction / np.linalg.norm(direction), dist))
        per_frame.append(found)
    n_tracks = max([len(p) for p in per_frame] + [1])
    empty = FrameLabels.empty(n_frames=frames, n_tracks=n_tracks, hop_s=hop_s)
    arrays = {name: getattr(empty, name).copy() for name in
              ("active", "class_index", "azimuth_deg", "elevation_deg", "distance_m")}
    for f, found in enumerate(per_frame):
        for t, (c, v, d) in enumerate(found):
            arrays["active"][f, t] = True
            arrays["class_index"][f, t] = c
            arrays["azimuth_deg"][f, t] = math.degrees(math.atan2(v[1], v[0]))
            arrays["elevation_deg"][f, t] = math.degrees(math.asin(max(-1.0, min(1.0, float(v[2])))))
            arrays["distance_m"][f, t] = d
    return FrameLabels(**arrays, hop_s=hop_s)
