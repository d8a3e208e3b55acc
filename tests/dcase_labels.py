"""Test helpers shared by the DCASE tests: random labels on the CSV grid, and exact label comparison."""

from __future__ import annotations

import numpy as np

from mcsimclr.core.frame_labels import FrameLabels
from simulate.dcase.classes import STARSS23_CLASSES


def random_labels(rng: np.random.Generator, *, n_frames: int, n_tracks: int, with_distance: bool,
                  p_active: float = 0.4, n_classes: int = len(STARSS23_CLASSES)) -> FrameLabels:
    """Labels on the CSV grid: integer degrees, whole centimetres, random activity ``(n_frames, n_tracks)``."""
    labels = FrameLabels.empty(n_frames=n_frames, n_tracks=n_tracks)
    active = rng.random((n_frames, n_tracks)) < p_active
    k = int(active.sum())
    labels.active[active] = True
    labels.class_index[active] = rng.integers(0, n_classes, k)
    labels.azimuth_deg[active] = rng.integers(-179, 181, k)
    labels.elevation_deg[active] = rng.integers(-90, 91, k)
    if with_distance:
        labels.distance_m[active] = rng.integers(20, 900, k) / 100.0
    return labels


def assert_labels_equal(a: FrameLabels, b: FrameLabels) -> None:
    assert a.hop_s == b.hop_s
    for name in ("active", "class_index", "azimuth_deg", "elevation_deg", "distance_m"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)  # NaN == NaN here
