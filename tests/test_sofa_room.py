"""Measured rooms from SOFA files: tiny files written with ``sofar``, with pulses delayed by the geometry."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import sofar

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.backends.sofa import SofaError, SofaRoom
from simulate.backends.sofa_coordinates import listener_axes

C = 343.0
FS = 48000
N = 320
SIGMA = 2.0  # samples: Gaussian pulse width
MICS = ARRAY_PRESETS["tetrahedral"]


def pulses(sources: np.ndarray, mics: np.ndarray) -> np.ndarray:
    """IRs ``(M, R, N)``: a Gaussian pulse per source-mic pair, centred on the propagation delay, amplitude 1/d.

    Its centroid ``sum(n h) / sum(h)`` is exactly the delay (the pulse is far from both ends of the IR).
    """
    d = np.linalg.norm(sources[:, None, :] - mics[None, :, :], axis=-1)  # (M, R)
    tau = d / C * FS
    n = np.arange(N)
    return np.exp(-0.5 * ((n - tau[..., None]) / SIGMA) ** 2) / d[..., None]


def centroid(ir: np.ndarray) -> np.ndarray:
    """Delay in samples ``(..., )`` of pulses ``(..., N)``."""
    return (ir * np.arange(ir.shape[-1])).sum(-1) / ir.sum(-1)


def circle(n: int, radius: float, height: float = 0.0) -> np.ndarray:
    """``(n, 3)`` points on a horizontal circle, point 0 on +x, counter-clockwise."""
    a = 2 * np.pi * np.arange(n) / n
    return np.stack([radius * np.cos(a), radius * np.sin(a), np.full(n, height)], axis=1)


def write_room(path: Path, *, local_sources: np.ndarray, convention: str = "SingleRoomSRIR",
               listener: tuple[float, float, float] = (2.0, 3.0, 1.5), view: tuple[float, float, float] = (1, 0, 0),
               up: tuple[float, float, float] = (0, 0, 1), receivers: np.ndarray = MICS, fs: int = FS,
               spherical: bool = False, delay: float = 0.0, relative_sources: bool = False,
               stored_receivers: np.ndarray | None = None) -> tuple[Path, np.ndarray]:
    """A measured room: sources at ``local_sources`` ``(M, 3)`` in the listener's frame, mics ``receivers``.

    The file stores global source positions (``ListenerPosition`` + rotation by ``ListenerView``/``Up``), as
    SOFA defines them, and IRs computed in global coordinates. Returns the path and the IRs ``(M, R, N)``.
    ``relative_sources`` stores ``local_sources`` as they are and ``stored_receivers`` replaces the receivers
    written, as SpatialScaper's conversions of TAU-SRIR and METU do (the IRs still follow the true geometry).
    """
    axes = listener_axes(np.array(view, float), np.array(up, float))  # rows: local axes in global coordinates
    centre = np.array(listener, float)
    sources = centre + local_sources @ axes
    mics = centre + receivers @ axes
    irs = pulses(sources, mics)
    m, r = len(sources), len(receivers)
    if relative_sources:
        sources = local_sources
    if stored_receivers is not None:
        receivers = stored_receivers
    s = sofar.Sofa(convention)
    s.Data_IR = irs[..., None] if convention == "SingleRoomMIMOSRIR" else irs
    s.Data_SamplingRate = fs
    if spherical:
        rel = sources  # spherical about the global origin
        az = np.degrees(np.arctan2(rel[:, 1], rel[:, 0]))
        el = np.degrees(np.arctan2(rel[:, 2], np.hypot(rel[:, 0], rel[:, 1])))
        s.SourcePosition = np.stack([az, el, np.linalg.norm(rel, axis=1)], axis=1)
        s.SourcePosition_Type, s.SourcePosition_Units = "spherical", "degree, degree, metre"
    else:
        s.SourcePosition = sources
        s.SourcePosition_Type, s.SourcePosition_Units = "cartesian", "metre"
    s.ListenerView = np.array([view], float)
    if hasattr(s, "ListenerUp"):
        s.ListenerUp = np.array([up], float)
    elif up != (0, 0, 1):  # GeneralFIR has no ListenerUp unless added
        s.add_variable("ListenerUp", np.array([up], float), "double", "IC")
    if convention == "GeneralFIR":
        s.ListenerPosition = centre[None, :]
        s.ReceiverPosition = receivers
        s.Data_Delay = np.full((1, r), delay)
    else:
        s.ListenerPosition = np.tile(centre, (m, 1))
        s.ReceiverPosition = receivers[:, :, None]
        s.ReceiverView = np.tile([1.0, 0.0, 0.0], (r, 1))[:, :, None]
        s.ReceiverUp = np.tile([0.0, 0.0, 1.0], (r, 1))[:, :, None]
        s.MeasurementDate = np.zeros(m)
        s.Data_Delay = np.full((1, r), delay)
        s.delete("ReceiverDescriptions")
        s.delete("EmitterDescriptions")
    s.ReceiverPosition_Type, s.ReceiverPosition_Units = "cartesian", "metre"
    sofar.write_sofa(str(path), s)
    return path, irs


@pytest.mark.parametrize("convention", ["SingleRoomSRIR", "GeneralFIR", "SingleRoomMIMOSRIR"])
def test_reading_gives_back_positions_receivers_and_irs(tmp_path: Path, convention: str) -> None:
    local = circle(8, 1.5, height=0.3)
    path, irs = write_room(tmp_path / "room.sofa", local_sources=local, convention=convention)
    room = SofaRoom(path, n_mics=4, sample_rate=FS)
    assert room.convention == convention and room.n_positions == 8 and room.n_samples == N
    np.testing.assert_allclose(room.positions(), local, atol=1e-12)
    np.testing.assert_allclose(room.receivers(), MICS, atol=1e-12)
    np.testing.assert_array_equal(room.rir(5), irs[5])
    assert room.rir(5).shape == (4, N) and room.rir(5).dtype == np.float64
    np.testing.assert_array_equal(room.rirs([7, 2, 7]), irs[[7, 2, 7]])


def test_delays_match_the_geometry_in_the_array_frame(tmp_path: Path) -> None:
    # The listener faces +y and is tilted; the IRs were made in global coordinates. The delays must match the
    # distances between the positions and receivers SofaRoom returns, which are both in the array's frame.
    rng = np.random.default_rng(0)
    unit = rng.standard_normal((12, 3))
    local = unit / np.linalg.norm(unit, axis=1, keepdims=True) * rng.uniform(1.0, 1.8, (12, 1))  # pulses fit in N
    path, _ = write_room(tmp_path / "rotated.sofa", local_sources=local, view=(0.0, 1.0, 0.2), up=(0.1, 0.0, 1.0))
    room = SofaRoom(path, n_mics=4, sample_rate=FS)
    irs = room.rirs(range(room.n_positions))
    expected = np.linalg.norm(room.positions()[:, None, :] - room.receivers()[None], axis=-1) / C * FS
    np.testing.assert_allclose(centroid(irs), expected, atol=1e-6)
    # The time differences between mics are what a direction estimator sees: up to 2 * 4.2 cm / c = 11.8 samples.
    assert np.ptp(expected, axis=1).max() > 5


def test_listener_view_sets_the_front(tmp_path: Path) -> None:
    # Listener facing +y: a source on global +y is in front (azimuth 0), one on global -x is on the left (90).
    listener = np.array([2.0, 3.0, 1.5])
    s = sofar.Sofa("GeneralFIR")
    s.Data_IR = np.ones((2, 4, 16))
    s.Data_SamplingRate = FS
    s.SourcePosition = listener + np.array([[0.0, 2.0, 0.0], [-1.0, 0.0, 1.0]])
    s.SourcePosition_Type, s.SourcePosition_Units = "cartesian", "metre"
    s.ListenerPosition = listener[None, :]
    s.ListenerView = np.array([[0.0, 1.0, 0.0]])
    s.ReceiverPosition = MICS
    s.Data_Delay = np.zeros((1, 4))
    sofar.write_sofa(str(tmp_path / "a.sofa"), s)
    angles = SofaRoom(tmp_path / "a.sofa", n_mics=4, sample_rate=FS).angles()
    np.testing.assert_allclose(angles, [[0.0, 0.0, 2.0], [90.0, 45.0, np.sqrt(2)]], atol=1e-9)


def test_spherical_source_positions(tmp_path: Path) -> None:
    local = circle(6, 2.0, height=-0.5)
    path, _ = write_room(tmp_path / "sph.sofa", local_sources=local, spherical=True, listener=(1.0, -2.0, 0.5))
    room = SofaRoom(path, n_mics=4, sample_rate=FS)
    np.testing.assert_allclose(room.positions(), local, atol=1e-9)
    angles = room.angles()
    np.testing.assert_allclose(angles[:, 0], [0.0, 60.0, 120.0, 180.0, -120.0, -60.0], atol=1e-9)
    np.testing.assert_allclose(angles[:, 1], np.degrees(np.arctan2(-0.5, 2.0)), atol=1e-9)
    np.testing.assert_allclose(angles[:, 2], np.hypot(2.0, 0.5), atol=1e-12)


def test_wrong_receiver_count_names_the_file(tmp_path: Path) -> None:
    path, _ = write_room(tmp_path / "eight_mics.sofa", local_sources=circle(4, 1.5),
                         receivers=ARRAY_PRESETS["circular8"])
    with pytest.raises(SofaError, match=r"eight_mics\.sofa: 8 receivers, expected 4 \(the mics of the array\)"):
        SofaRoom(path, n_mics=4, sample_rate=FS)
    assert SofaRoom(path, n_mics=8, sample_rate=FS).receivers().shape == (8, 3)


def test_wrong_sample_rate_names_the_file(tmp_path: Path) -> None:
    path, _ = write_room(tmp_path / "at48k.sofa", local_sources=circle(4, 1.5))
    with pytest.raises(SofaError, match=r"at48k\.sofa: sample rate 48000 Hz, expected 24000 Hz; measured impulse "
                                        r"responses are not resampled"):
        SofaRoom(path, n_mics=4, sample_rate=24000)


def test_other_bad_files(tmp_path: Path) -> None:
    with pytest.raises(SofaError, match=r"missing\.sofa: SOFA file not found"):
        SofaRoom(tmp_path / "missing.sofa", n_mics=4, sample_rate=FS)
    (tmp_path / "junk.sofa").write_bytes(b"not a netCDF file")
    with pytest.raises(SofaError, match=r"junk\.sofa: cannot read SOFA file"):
        SofaRoom(tmp_path / "junk.sofa", n_mics=4, sample_rate=FS)
    path, _ = write_room(tmp_path / "delayed.sofa", local_sources=circle(4, 1.5), delay=3.0)
    with pytest.raises(SofaError, match=r"delayed\.sofa: non-zero Data\.Delay \[3\.0\] samples"):
        SofaRoom(path, n_mics=4, sample_rate=FS)
    sofar.write_sofa(str(tmp_path / "hrir.sofa"), sofar.Sofa("SimpleFreeFieldHRIR"))
    with pytest.raises(SofaError, match=r"hrir\.sofa: SOFA convention 'SimpleFreeFieldHRIR' is not read; expected one "
                                        r"of SingleRoomSRIR, SingleRoomMIMOSRIR, GeneralFIR"):
        SofaRoom(tmp_path / "hrir.sofa", n_mics=2, sample_rate=FS)
    path, _ = write_room(tmp_path / "centre.sofa", local_sources=np.array([[1.0, 0, 0], [0.0, 0, 0]]))
    with pytest.raises(SofaError, match=r"centre\.sofa: measurement 1 has its source at the array centre"):
        SofaRoom(path, n_mics=4, sample_rate=FS)


def test_nearest_direction(tmp_path: Path) -> None:
    path, _ = write_room(tmp_path / "room.sofa", local_sources=circle(8, 1.5))
    room = SofaRoom(path, n_mics=4, sample_rate=FS)
    assert room.nearest([1.0, 0.0, 0.0]) == 0
    assert room.nearest([0.0, 5.0, 0.0]) == 2  # 90 degrees; the length does not matter
    assert room.nearest([-1.0, -1.1, 0.3]) == 5  # about -132 degrees: nearest measured -135
    with pytest.raises(ValueError, match="non-zero"):
        room.nearest([0.0, 0.0, 0.0])


def test_neighbour_path_moves_one_neighbour_at_a_time(tmp_path: Path) -> None:
    path, _ = write_room(tmp_path / "room.sofa", local_sources=circle(8, 1.5))
    room = SofaRoom(path, n_mics=4, sample_rate=FS)
    directions = set()
    for seed in range(12):
        walk = room.neighbour_path(np.random.default_rng(seed), start=3, steps=7)
        assert walk[0] == 3 and len(walk) == 8 and sorted(walk.tolist()) == list(range(8))  # each position once
        moves = (np.diff(walk) + 8) % 8
        assert moves.tolist() in ([1] * 7, [7] * 7)  # always to the adjacent azimuth, in one direction
        directions.add(int(moves[0]))
    assert directions == {1, 7}  # both directions are drawn
    # One step between neighbours on the circle: 2 r sin(22.5 deg).
    pos = room.positions()[room.neighbour_path(np.random.default_rng(0), start=0, steps=7)]
    np.testing.assert_allclose(np.linalg.norm(np.diff(pos, axis=0), axis=1), 2 * 1.5 * np.sin(np.pi / 8))
    with pytest.raises(ValueError, match=r"steps must be in \[0, 7\]"):
        room.neighbour_path(np.random.default_rng(0), start=0, steps=8)


def test_neighbour_path_stops_at_a_gap(tmp_path: Path) -> None:
    # Two rings, 1 m and 3 m: after the inner ring the nearest unvisited position is 2 m away.
    path, _ = write_room(tmp_path / "rings.sofa", local_sources=np.concatenate([circle(6, 1.0), circle(6, 3.0)]))
    room = SofaRoom(path, n_mics=4, sample_rate=FS)
    assert set(room.neighbour_path(np.random.default_rng(0), start=0, steps=5, max_step_m=1.01).tolist()) == set(
        range(6))
    with pytest.raises(ValueError, match=r"rings\.sofa: the path .* cannot go on: the nearest unvisited position to "
                                         r"\d+ is 2\.000 m away, more than max_step_m=1\.01"):
        room.neighbour_path(np.random.default_rng(0), start=0, steps=6, max_step_m=1.01)


def test_room_pickles_and_reads_after(tmp_path: Path) -> None:
    path, irs = write_room(tmp_path / "room.sofa", local_sources=circle(8, 1.5))
    room = pickle.loads(pickle.dumps(SofaRoom(path, n_mics=4, sample_rate=FS)))
    np.testing.assert_array_equal(room.rir(0), irs[0])


def test_spatialscaper_style_file_needs_to_be_told(tmp_path: Path) -> None:
    # SourcePosition relative to the array while ListenerPosition is the mic's place in the room, and every
    # receiver at the centre: read as such only when asked (source_frame="array", mic_positions).
    local = circle(8, 1.5, height=-0.2)
    path, _ = write_room(tmp_path / "tau_like.sofa", local_sources=local, listener=(3.0, 4.0, 1.2),
                         relative_sources=True, stored_receivers=np.zeros((4, 3)))
    with pytest.raises(SofaError, match=r"tau_like\.sofa: every ReceiverPosition is at the array centre.*pass "
                                        r"mic_positions"):
        SofaRoom(path, n_mics=4, sample_rate=FS)
    room = SofaRoom(path, n_mics=4, sample_rate=FS, source_frame="array", mic_positions=MICS)
    np.testing.assert_allclose(room.positions(), local, atol=1e-12)
    np.testing.assert_array_equal(room.receivers(), MICS)
    expected = np.linalg.norm(room.positions()[:, None, :] - room.receivers()[None], axis=-1) / C * FS
    np.testing.assert_allclose(centroid(room.rirs(range(8))), expected, atol=1e-6)
    # Read by the standard, the same file puts the sources around the room's origin instead: not the geometry.
    standard = SofaRoom(path, n_mics=4, sample_rate=FS, mic_positions=MICS)
    assert np.max(np.abs(standard.positions() - local)) > 1.0


def test_mic_positions_must_agree_with_the_file(tmp_path: Path) -> None:
    path, _ = write_room(tmp_path / "room.sofa", local_sources=circle(4, 1.5))
    np.testing.assert_array_equal(SofaRoom(path, n_mics=4, sample_rate=FS, mic_positions=MICS).receivers(), MICS)
    with pytest.raises(SofaError, match=r"room\.sofa: ReceiverPosition .* differs from mic_positions"):
        SofaRoom(path, n_mics=4, sample_rate=FS, mic_positions=ARRAY_PRESETS["circular4"])
    with pytest.raises(ValueError, match=r"mic_positions must be finite \(n_mics=4, 3\)"):
        SofaRoom(path, n_mics=4, sample_rate=FS, mic_positions=ARRAY_PRESETS["circular6"])
