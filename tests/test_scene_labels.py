"""Frame labels on hand-built events: activity by the frame-centre rule, class and direction of the right
event on the right track, NaN and -1 where inactive, polyphony counts and fractions."""

from __future__ import annotations

import numpy as np
import pytest

from simulate.scenes.events import EventSpec
from simulate.scenes.labels import frame_count, frame_labels, polyphony, polyphony_fractions
from simulate.scenes.trajectory import Trajectory

CENTER = np.array([2.0, 2.0, 1.5])


def _event(onset: float, duration: float, cls: int, track: int, trajectory: Trajectory) -> EventSpec:
    return EventSpec(onset_s=onset, duration_s=duration, class_index=cls, clip=cls, track=track,
                     trajectory=trajectory, ebr_db=0.0)


def _static(offset: list[float], duration: float) -> Trajectory:
    return Trajectory(kind="static", start=CENTER + np.array(offset), array_center=CENTER, duration_s=duration)


def test_labels_of_hand_built_events():
    east = _static([1.0, 0.0, 0.0], 0.3)  # azimuth 0, elevation 0, 1 m
    north_up = _static([0.0, 2.0, 2.0], 0.6)  # azimuth 90, elevation 45, 2.83 m
    arc = Trajectory(kind="arc", start=CENTER + np.array([1.5, 0.0, 0.0]), array_center=CENTER, duration_s=0.5,
                     angular_speed_deg=90.0)
    events = [
        _event(0.0, 0.3, 4, 0, east),  # covers centres 0.05, 0.15, 0.25 -> frames 0-2
        _event(0.12, 0.6, 7, 1, north_up),  # centres 0.15 .. 0.65 -> frames 1-6 (0.72 > 0.65, < 0.75)
        _event(0.34, 0.5, 2, 0, arc),  # centres 0.35 .. 0.75 -> frames 3-7 (0.84 > 0.75, < 0.85)
    ]
    labels = frame_labels(events, duration_s=1.0, hop_s=0.1, max_tracks=3)
    assert labels.active.shape == (10, 3) and labels.frames == 10 and labels.tracks == 3
    expected_active = np.zeros((10, 3), dtype=bool)
    expected_active[0:3, 0] = True
    expected_active[1:7, 1] = True
    expected_active[3:8, 0] = True
    np.testing.assert_array_equal(labels.active, expected_active)
    assert labels.class_index.dtype == np.int16 and labels.azimuth_deg.dtype == np.float32
    np.testing.assert_array_equal(labels.class_index[:, 0], [4, 4, 4, 2, 2, 2, 2, 2, -1, -1])
    np.testing.assert_array_equal(labels.class_index[:, 1], [-1, 7, 7, 7, 7, 7, 7, -1, -1, -1])
    assert np.all(labels.class_index[:, 2] == -1)
    np.testing.assert_allclose(labels.azimuth_deg[0:3, 0], 0.0, atol=1e-5)
    np.testing.assert_allclose(labels.distance_m[0:3, 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(labels.azimuth_deg[1:7, 1], 90.0, rtol=1e-6)
    np.testing.assert_allclose(labels.elevation_deg[1:7, 1], 45.0, rtol=1e-6)
    np.testing.assert_allclose(labels.distance_m[1:7, 1], np.sqrt(8.0), rtol=1e-6)
    # The arc turns 90 deg/s from azimuth 0 at its onset 0.34 s: at frame centre t it is at 90 (t - 0.34).
    centres = labels.frame_centres()[3:8]
    np.testing.assert_allclose(labels.azimuth_deg[3:8, 0], 90.0 * (centres - 0.34), atol=1e-4)
    np.testing.assert_allclose(labels.distance_m[3:8, 0], 1.5, rtol=1e-6)
    inactive = ~labels.active
    for values in (labels.azimuth_deg, labels.elevation_deg, labels.distance_m):
        assert np.all(np.isnan(values[inactive])) and not np.any(np.isnan(values[labels.active]))
    np.testing.assert_array_equal(polyphony(labels), [1, 2, 2, 2, 2, 2, 2, 1, 0, 0])
    np.testing.assert_allclose(polyphony_fractions(labels), [0.2, 0.2, 0.6, 0.0])


def test_frame_count_and_hop():
    assert frame_count(5.0, hop_s=0.1) == 50
    assert frame_count(5.01, hop_s=0.1) == 51
    assert frame_count(60.0, hop_s=0.1) == 600
    labels = frame_labels([], duration_s=2.0, hop_s=0.5, max_tracks=2)
    assert labels.active.shape == (4, 2) and not labels.active.any()
    np.testing.assert_allclose(polyphony_fractions(labels), [1.0, 0.0, 0.0])


def test_bad_tracks_and_overlaps_are_errors():
    east = _static([1.0, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match=r"event 0 is on track 3; tracks are 0 .. 2"):
        frame_labels([_event(0.0, 1.0, 0, 3, east)], duration_s=1.0, max_tracks=3)
    with pytest.raises(ValueError, match=r"event 1 \(onset 0.5 s\) overlaps another event on track 0 in frame 5"):
        frame_labels([_event(0.0, 1.0, 0, 0, east), _event(0.5, 0.5, 1, 0, east)], duration_s=1.0, max_tracks=3)
