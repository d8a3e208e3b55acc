"""Trajectories: the sampled paths keep every margin at every point, move as their kind says, and report
directions with geometry.direction_of's conventions; impossible requests are clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from mcsimclr.core.array import ARRAY_PRESETS, direction_of
from mcsimclr.core.errors import GeometryError
from simulate.scenes.trajectory import Trajectory, TrajectoryError, path_violation, sample_trajectory

DIMS = np.array([6.0, 5.0, 3.0])
CENTER = np.array([3.0, 2.5, 1.2])
MICS = CENTER + ARRAY_PRESETS["circular4"]
MARGINS = dict(wall_margin=0.5, min_source_distance=0.5, source_height=(0.8, 2.0))


def _draw(seed: int, kind: str, duration: float = 4.0, **kw) -> Trajectory:
    return sample_trajectory(np.random.default_rng(seed), kind=kind, room_dims=DIMS, array_center=CENTER,
                             mic_positions=MICS, duration=duration, **MARGINS, **kw)


def _dense_ok(traj: Trajectory) -> None:
    """Every point of a dense sampling (1 ms) keeps the margins: a check independent of the analytic one."""
    p = traj.positions(np.linspace(0.0, traj.duration_s, int(traj.duration_s * 1000) + 1))
    assert np.all(p[:, :2] >= 0.5 - 1e-9) and np.all(p[:, :2] <= DIMS[:2] - 0.5 + 1e-9)
    assert np.all(p[:, 2] >= 0.8 - 1e-9) and np.all(p[:, 2] <= 2.0 + 1e-9)
    assert np.min(np.linalg.norm(p[:, None] - MICS[None], axis=2)) >= 0.5 - 1e-9


@pytest.mark.parametrize("kind", ["static", "arc", "line"])
def test_sampled_paths_keep_the_margins_at_every_point(kind):
    for seed in range(40):
        _dense_ok(_draw(seed, kind, angular_speed_range=(10.0, 40.0), line_speed_range=(0.2, 1.0)))


def test_arc_has_constant_radius_height_and_the_drawn_angular_speed():
    speeds = []
    for seed in range(20):
        traj = _draw(seed, "arc", angular_speed_range=(10.0, 40.0))
        t = np.linspace(0.0, traj.duration_s, 401)
        az, el, dist = traj.directions(t).T
        p = traj.positions(t)
        np.testing.assert_allclose(np.linalg.norm(p[:, :2] - CENTER[:2], axis=1),
                                   np.linalg.norm(traj.start[:2] - CENTER[:2]), rtol=1e-12)
        np.testing.assert_allclose(p[:, 2], traj.start[2], rtol=0, atol=0)
        np.testing.assert_allclose(dist, dist[0], rtol=1e-12)
        np.testing.assert_allclose(el, el[0], atol=1e-9)
        rate = np.diff(np.unwrap(np.radians(az))) / np.diff(t)
        np.testing.assert_allclose(np.degrees(rate), traj.angular_speed_deg, rtol=1e-9)
        assert 10.0 <= abs(traj.angular_speed_deg) <= 40.0
        speeds.append(traj.angular_speed_deg)
    assert min(speeds) < 0 < max(speeds)  # both directions are drawn


def test_line_moves_straight_at_constant_speed_and_holds_its_end_points():
    traj = _draw(3, "line", line_speed_range=(0.5, 0.5))
    t = np.linspace(0.0, traj.duration_s, 101)
    p = traj.positions(t)
    step = np.diff(p, axis=0)
    np.testing.assert_allclose(np.linalg.norm(step, axis=1) / np.diff(t), 0.5, rtol=1e-9)
    np.testing.assert_allclose(step, np.broadcast_to(step[0], step.shape), atol=1e-12)  # one direction: a straight line
    assert step[0, 2] == 0.0
    np.testing.assert_array_equal(traj.positions([-1.0, 99.0]), p[[0, -1]])


def test_directions_follow_geometry_direction_of():
    traj = _draw(5, "line")
    t = np.linspace(0.0, traj.duration_s, 17)
    expected = [direction_of(q, CENTER) for q in traj.positions(t)]
    np.testing.assert_allclose(traj.directions(t), expected, rtol=1e-12, atol=1e-12)
    # +y of the array centre is azimuth 90, straight up is elevation 90.
    up = Trajectory(kind="static", start=CENTER + np.array([0.0, 0.0, 1.0]), array_center=CENTER, duration_s=1.0)
    left = Trajectory(kind="static", start=CENTER + np.array([0.0, 2.0, 0.0]), array_center=CENTER, duration_s=1.0)
    np.testing.assert_allclose(up.directions([0.0])[0], [0.0, 90.0, 1.0])
    np.testing.assert_allclose(left.directions([0.0])[0], [90.0, 0.0, 2.0])


def test_path_violation_finds_an_arc_that_grazes_a_wall_between_its_end_points():
    # Radius 2.7 around x = 3 reaches x = 0.3 at azimuth 180 deg (inside the 0.5 m margin), while both end
    # points (azimuth 150 and 210 deg, x = 0.66) are inside the valid box.
    start = CENTER + 2.7 * np.array([np.cos(np.radians(150)), np.sin(np.radians(150)), 0.0])
    arc = Trajectory(kind="arc", start=start, array_center=CENTER, duration_s=3.0, angular_speed_deg=20.0)
    assert arc.positions([0.0, 3.0])[:, 0].min() > 0.5
    message = path_violation(arc, room_dims=DIMS, mic_positions=MICS, **MARGINS)
    assert message is not None and "leaves the box" in message
    # 0.3 s turns to 156 deg only: x = 0.53 there, inside the box.
    short = Trajectory(kind="arc", start=start, array_center=CENTER, duration_s=0.3, angular_speed_deg=20.0)
    assert path_violation(short, room_dims=DIMS, mic_positions=MICS, **MARGINS) is None


def test_path_violation_finds_a_line_through_the_array():
    line = Trajectory(kind="line", start=CENTER + np.array([-1.5, 0.0, 0.0]), array_center=CENTER, duration_s=3.0,
                      velocity=np.array([1.0, 0.0, 0.0]))
    message = path_violation(line, room_dims=DIMS, mic_positions=MICS, **MARGINS)
    assert message is not None and "from a mic" in message


def test_impossible_trajectories_name_room_duration_and_speed():
    with pytest.raises(TrajectoryError, match=r"line of 60 s at speed 1-2 m/s .*room \[6.0, 5.0, 3.0\]"):
        _draw(0, "line", duration=60.0, line_speed_range=(1.0, 2.0))
    tiny = dict(room_dims=np.array([2.2, 2.2, 3.0]), array_center=np.array([1.1, 1.1, 1.2]),
                mic_positions=np.array([1.1, 1.1, 1.2]) + ARRAY_PRESETS["circular4"])
    with pytest.raises(TrajectoryError, match=r"no arc trajectory of 30 s at angular speed 20-20 deg/s .*"
                                              r"room \[2.2, 2.2, 3.0\].*after 50 tries"):
        sample_trajectory(np.random.default_rng(0), kind="arc", duration=30.0, angular_speed_range=(20.0, 20.0),
                          tries=50, **tiny, wall_margin=0.5, min_source_distance=0.7, source_height=(1.2, 1.2))
    assert issubclass(TrajectoryError, GeometryError)
    with pytest.raises(ValueError, match="unknown trajectory kind 'spiral'"):
        _draw(0, "spiral")


def test_same_generator_state_gives_the_same_path():
    a, b = _draw(11, "arc"), _draw(11, "arc")
    np.testing.assert_array_equal(a.positions([0.0, 1.0, 2.0]), b.positions([0.0, 1.0, 2.0]))
