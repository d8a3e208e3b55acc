"""Scene sampling: every constraint of the paper's room simulation holds, over many seeds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcsimclr.core.array import ARRAY_PRESETS, ArrayConfig, direction_of, mic_offsets
from mcsimclr.core.errors import GeometryError
from simulate.config import RoomConfig
from simulate.geometry import check_feasible, sabine_rt60, sample_scene


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), geometry=st.sampled_from(sorted(ARRAY_PRESETS)))
def test_scene_constraints_hold(seed, geometry):
    room = RoomConfig()
    offsets = mic_offsets(ArrayConfig(geometry=geometry))
    s = sample_scene(np.random.default_rng(seed), room, offsets)
    w, length, h = s.room_dims
    assert 3.0 <= w <= 10.0 and 3.0 <= length <= 10.0 and 2.5 <= h <= 4.0
    assert 0.1 <= s.rt60_target <= 1.0
    assert 0.5 <= s.source_pos[2] <= 2.0
    assert 0.5 <= s.array_center[2] <= 2.0
    for point in (s.source_pos, *list(s.mic_positions)):
        assert np.all(point >= 0.5 - 1e-9) and np.all(point <= s.room_dims - 0.5 + 1e-9)
    assert np.min(np.linalg.norm(s.mic_positions - s.source_pos, axis=1)) >= 0.5
    np.testing.assert_allclose(s.mic_positions - s.array_center, offsets, atol=1e-12)
    assert 0.0 < s.absorption <= room.max_absorption
    np.testing.assert_allclose(sabine_rt60(s.absorption, s.room_dims, speed_of_sound=343.0), s.rt60_sabine)
    assert s.rt60_sabine >= s.rt60_target * (1 - 1e-9)


def test_infeasible_rt60_is_clamped_and_recorded():
    room = RoomConfig(width=(10.0, 10.0), length=(10.0, 10.0), height=(4.0, 4.0), rt60=(0.1, 0.1))
    s = sample_scene(np.random.default_rng(0), room, mic_offsets(ArrayConfig()))
    assert s.absorption == room.max_absorption
    assert s.rt60_sabine > s.rt60_target  # as dry as the room can be, and the value used is recorded
    feasible = sample_scene(np.random.default_rng(0), RoomConfig(rt60=(0.8, 0.8)), mic_offsets(ArrayConfig()))
    assert feasible.rt60_sabine == pytest.approx(0.8)


def test_same_seed_same_scene():
    a = sample_scene(np.random.default_rng(7), RoomConfig(), ARRAY_PRESETS["circular4"])
    b = sample_scene(np.random.default_rng(7), RoomConfig(), ARRAY_PRESETS["circular4"])
    assert np.array_equal(a.source_pos, b.source_pos) and a.rt60_target == b.rt60_target


@pytest.mark.parametrize(
    ("room", "message"),
    [
        (RoomConfig(width=(0.9, 1.0)), "the array"),
        (RoomConfig(array_height=(0.1, 0.2)), "the array"),
        (RoomConfig(height=(1.0, 1.0), source_height=(0.8, 1.0), array_height=(0.1, 2.0)), "no source position"),
        (RoomConfig(width=(1.2, 1.2), length=(1.2, 1.2), height=(2.5, 2.5), source_height=(0.5, 0.6),
                    array_height=(0.5, 0.6), min_source_distance=1.0), "cannot be 1 m apart"),
    ],
)
def test_impossible_geometry_is_a_clear_error(room, message):
    with pytest.raises(GeometryError, match=message):
        check_feasible(room, ARRAY_PRESETS["circular4"])


def test_placement_gives_up_with_a_clear_error():
    room = RoomConfig(width=(1.2, 1.2), length=(1.2, 1.2), height=(2.5, 2.5), source_height=(0.5, 0.6),
                      array_height=(0.5, 0.6), min_source_distance=0.3, placement_tries=3)
    with pytest.raises(GeometryError, match="no placement"):
        sample_scene(np.random.default_rng(0), room, ARRAY_PRESETS["circular4"])


def test_azimuth_convention():
    c = np.array([2.0, 2.0, 1.0])
    assert direction_of(c + np.array([1, 0, 0]), c)[0] == pytest.approx(0.0)
    assert direction_of(c + np.array([0, 1, 0]), c)[0] == pytest.approx(90.0)
    assert direction_of(c + np.array([-1, 0, 0]), c)[0] == pytest.approx(180.0)
    assert direction_of(c + np.array([0, -1, 0]), c)[0] == pytest.approx(-90.0)
    az, el, dist = direction_of(c + np.array([1, 1, np.sqrt(2)]), c)
    assert (az, el, dist) == pytest.approx((45.0, 45.0, 2.0))


def test_presets():
    c4 = ARRAY_PRESETS["circular4"]
    np.testing.assert_allclose(np.linalg.norm(c4, axis=1), 0.05)
    np.testing.assert_allclose(c4[:, 2], 0.0)
    np.testing.assert_allclose(np.degrees(np.arctan2(c4[:, 1], c4[:, 0])), [0, 90, 180, -90], atol=1e-9)
    tet = ARRAY_PRESETS["tetrahedral"]
    np.testing.assert_allclose(np.linalg.norm(tet, axis=1), 0.042)
    custom = mic_offsets(ArrayConfig(geometry="custom", mic_positions=[(0.1, 0, 0), (-0.1, 0, 0)]))
    assert custom.shape == (2, 3)
