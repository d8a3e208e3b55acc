"""Scenes in measured rooms: tiny SOFA files written with ``sofar`` (12 positions on a circle at 1.5 m around the
circular4 array, IRs = Gaussian pulses delayed by the geometry, 16 kHz), rendered by ``simulate scenes`` with
``backend.name=sofa``. Labels are the measured directions, a moving event steps between neighbouring positions, the
audio's time differences of arrival (GCC-PHAT) are those of the labelled direction, any worker count gives the same
bytes, and a file that does not fit the config is a clear error that leaves no scene file."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import sofar

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.backends.sofa import SofaError
from simulate.cli import main
from simulate.scenes.measured import open_measured_room, render_sofa_scene
from simulate.scenes.measured_path import MeasuredPath
from simulate.sources.synthetic import SyntheticSource

C = 343.0
FS = 16000
N = 128
POSITIONS = 12
RADIUS = 1.5
MICS = ARRAY_PRESETS["circular4"]
TINY = Path(__file__).resolve().parents[1] / "configs" / "simulate" / "scenes-tiny.yaml"


def circle(n: int, radius: float) -> np.ndarray:
    """``(n, 3)`` points on a horizontal circle about the origin, point 0 on +x, counter-clockwise."""
    a = 2 * np.pi * np.arange(n) / n
    return np.stack([radius * np.cos(a), radius * np.sin(a), np.zeros(n)], axis=1)


def write_sofa(path: Path, *, mics: np.ndarray = MICS, fs: int = FS, positions: int = POSITIONS) -> Path:
    """A ``SingleRoomSRIR`` file: the array at ``(2, 3, 1.5)`` facing +x, ``positions`` sources on a circle of
    1.5 m around it; IR ``(M, R, N)``: a Gaussian pulse (sigma 1.5 samples) at the propagation delay, amplitude 1/d."""
    centre = np.array([2.0, 3.0, 1.5])
    sources = centre + circle(positions, RADIUS)
    d = np.linalg.norm(sources[:, None, :] - (centre + mics)[None], axis=-1)  # (M, R)
    n = np.arange(N)
    s = sofar.Sofa("SingleRoomSRIR")
    s.Data_IR = np.exp(-0.5 * ((n - d[..., None] / C * fs) / 1.5) ** 2) / d[..., None]
    s.Data_SamplingRate = fs
    s.SourcePosition = sources
    s.SourcePosition_Type, s.SourcePosition_Units = "cartesian", "metre"
    s.ListenerPosition = np.tile(centre, (positions, 1))
    s.ListenerView = np.array([[1.0, 0.0, 0.0]])
    s.ReceiverPosition = mics[:, :, None]
    s.ReceiverPosition_Type, s.ReceiverPosition_Units = "cartesian", "metre"
    s.ReceiverView = np.tile([1.0, 0.0, 0.0], (len(mics), 1))[:, :, None]
    s.ReceiverUp = np.tile([0.0, 0.0, 1.0], (len(mics), 1))[:, :, None]
    s.MeasurementDate = np.zeros(positions)
    s.Data_Delay = np.zeros((1, len(mics)))
    s.delete("ReceiverDescriptions")
    s.delete("EmitterDescriptions")
    sofar.write_sofa(str(path), s)
    return path


@pytest.fixture(scope="module")
def room_file(tmp_path_factory) -> Path:
    return write_sofa(tmp_path_factory.mktemp("sofa") / "circle.sofa")


def build(room_file: Path, out: Path, *extra: str) -> int:
    return main(["scenes", "--config", str(TINY), "--out", str(out), "--no-progress", "backend.name=sofa",
                 f"backend.sofa.path={room_file}", "backend.sofa.seconds_per_position=0.2", *extra])


@pytest.fixture(scope="module")
def built(room_file: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scenes")
    assert build(room_file, out) == 0
    return out


def measured_azimuths() -> np.ndarray:
    return np.degrees(np.arctan2(circle(POSITIONS, RADIUS)[:, 1], circle(POSITIONS, RADIUS)[:, 0]))


def test_scene_files_hold_measured_directions(built: Path, room_file: Path) -> None:
    for split, count in (("train", 6), ("test", 3)):
        with h5py.File(built / f"{split}.h5", "r") as f:
            assert f.attrs["backend"] == "sofa" and f.attrs["n_scenes"] == count
            version = str(f.attrs["backend_version"])
            assert f"sofar {sofar.__version__}" in version and room_file.name in version
            assert np.all(np.isnan(f["room_dims"][()])) and np.all(np.isnan(f["rt60_target"][()]))
            assert np.all(np.isnan(f["array_center"][()]))
            np.testing.assert_allclose(f.attrs["mic_offsets"], MICS)
            active = f["frames/active"][()]
            az, el, dist = (f[f"frames/{k}"][()][active] for k in ("azimuth_deg", "elevation_deg", "distance_m"))
            kinds = set(f["events/trajectory"].asstr()[()])
        assert active.any() and kinds <= {"static", "measured"}
        # every labelled direction is one of the measured ones (float32 labels)
        gap = np.abs((az[:, None] - measured_azimuths()[None, :] + 180.0) % 360.0 - 180.0).min(axis=1)
        assert gap.max() < 1e-4
        np.testing.assert_allclose(el, 0.0, atol=1e-4)
        np.testing.assert_allclose(dist, RADIUS, rtol=1e-6)
    with h5py.File(built / "train.h5", "r") as f:
        assert "measured" in set(f["events/trajectory"].asstr()[()])


def test_moving_events_step_between_neighbouring_positions(built: Path) -> None:
    steps = 0
    for split in ("train", "test"):
        with h5py.File(built / f"{split}.h5", "r") as f:
            frame0, kinds = f["frame_offsets"][()], f["events/trajectory"].asstr()[()]
            scene, onset, duration, track = (f[f"events/{k}"][()] for k in ("scene", "onset_s", "duration_s", "track"))
            az = f["frames/azimuth_deg"][()]
        for i in np.flatnonzero(kinds == "measured"):
            centres = (np.arange(100) + 0.5) * 0.1
            frames = np.flatnonzero((centres >= onset[i]) & (centres < onset[i] + duration[i]))
            path = az[frame0[scene[i]] + frames, track[i]].astype(np.float64)
            changes = (np.diff(path) + 180.0) % 360.0 - 180.0
            moved = changes[np.abs(changes) > 1e-3]
            np.testing.assert_allclose(np.abs(moved), 30.0, atol=1e-3)  # the circle's neighbours
            if moved.size > 1:  # it keeps going one way round: no position is visited twice
                assert np.all(np.sign(moved) == np.sign(moved[0]))
            # one position per 0.2 s: a change every two 0.1 s frames at most
            assert moved.size <= (frames.size + 1) // 2
            steps += moved.size
    assert steps > 0


def gcc_phat_tdoa(x: np.ndarray, y: np.ndarray, *, upsample: int = 32) -> float:
    """Delay of ``x`` relative to ``y`` in samples (> 0: ``x`` later), by GCC-PHAT with spectral upsampling."""
    n = x.size + y.size
    spectrum = np.fft.rfft(x, n) * np.conj(np.fft.rfft(y, n))
    cc = np.fft.irfft(spectrum / np.maximum(np.abs(spectrum), 1e-12), n * upsample)
    lag = int(np.argmax(cc))
    if lag > cc.size // 2:
        lag -= cc.size
    return lag / upsample


def test_static_event_time_differences_match_its_labelled_direction(room_file: Path) -> None:
    source = SyntheticSource(seed=0, splits={"test": 4}, min_duration=0.5, max_duration=1.0)
    room = open_measured_room(room_file, offsets=MICS, sample_rate=FS)
    for seed in range(3):
        scene = render_sofa_scene(np.random.default_rng(seed), room=room, source=source,
                                  clips=source.splits()["test"], sample_rate=FS, duration_s=1.5, n_events=(1, 1),
                                  trajectory_weights={"static": 1.0}, ambient_noise=False)
        (event,) = scene.events
        frames = np.flatnonzero(scene.labels.active[:, event.track])
        az, el, dist = (float(getattr(scene.labels, k)[frames[0], event.track])
                        for k in ("azimuth_deg", "elevation_deg", "distance_m"))
        a, e = np.radians(az), np.radians(el)
        point = dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
        delays = np.linalg.norm(point - MICS, axis=1) / C * FS  # (mics,) samples
        for i, j in ((0, 2), (1, 3), (0, 1)):
            assert gcc_phat_tdoa(scene.audio[i], scene.audio[j]) == pytest.approx(delays[i] - delays[j], abs=0.1)


def test_any_worker_count_gives_the_same_bytes(room_file: Path, built: Path, tmp_path: Path) -> None:
    # train holds static and moving events (test_scene_files_hold_measured_directions)
    assert build(room_file, tmp_path, "--workers", "2", "--splits", "train") == 0
    assert (tmp_path / "train.h5").read_bytes() == (built / "train.h5").read_bytes()


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"mics": ARRAY_PRESETS["circular4"][:3]}, "3 receivers, expected 4"),
    ({"fs": 24000}, "sample rate 24000 Hz, expected 16000 Hz"),
    ({"mics": ARRAY_PRESETS["circular4"] * 1.5}, "are not the scene's array"),
    ({"positions": 4}, "the file has 4"),
])
def test_a_file_that_does_not_fit_is_a_clear_error_and_leaves_no_scene_file(tmp_path: Path, capsys, kwargs,
                                                                           words: str) -> None:
    bad = write_sofa(tmp_path / "bad.sofa", **kwargs)
    out = tmp_path / "out"
    assert build(bad, out) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and words in err
    assert not list(out.rglob("*.h5"))


def test_measured_path_holds_each_position_for_its_time() -> None:
    angles = np.array([[0.0, 0.0, 1.5], [30.0, 0.0, 1.5], [60.0, 0.0, 1.5]])
    path = MeasuredPath(kind="measured", indices=np.array([0, 1, 2]), points=np.zeros((3, 3)), angles=angles,
                        seconds_per_position=0.2, duration_s=0.55)
    np.testing.assert_array_equal(path.current([0.0, 0.19, 0.2, 0.39, 0.4, 0.55, 9.0]), [0, 0, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(path.directions([0.1, 0.3])[:, 0], [0.0, 30.0])
    with pytest.raises(ValueError, match="one position"):
        MeasuredPath(kind="static", indices=np.array([0, 1]), points=np.zeros((2, 3)), angles=angles[:2],
                     seconds_per_position=0.2, duration_s=0.5)


def test_a_file_whose_receivers_are_not_the_array_names_the_file(room_file: Path) -> None:
    with pytest.raises(SofaError, match=str(room_file.name)):
        open_measured_room(room_file, offsets=ARRAY_PRESETS["circular4"][[1, 0, 2, 3]], sample_rate=FS)


def test_static_only_scenes_need_no_path_of_positions(tmp_path: Path) -> None:
    # 4 positions are too few for a moving event of 1 s at 0.2 s per position, not for static events
    few = write_sofa(tmp_path / "few.sofa", positions=4)
    assert build(few, tmp_path / "out", "scene.trajectories.arc=0", "scene.trajectories.line=0",
                 "--splits", "test") == 0
    with h5py.File(tmp_path / "out" / "test.h5", "r") as f:
        assert set(f["events/trajectory"].asstr()[()]) == {"static"}
        az = f["frames/azimuth_deg"][()][f["frames/active"][()]]
    gap = np.abs((az[:, None] - np.array([0.0, 90.0, 180.0, -90.0])[None, :] + 180.0) % 360.0 - 180.0)
    assert az.size and gap.min(axis=1).max() < 1e-4


def test_a_build_from_another_sofa_file_is_not_taken_for_this_one(tmp_path: Path, capsys) -> None:
    path = write_sofa(tmp_path / "room.sofa", positions=6)
    args = ("--splits", "test", "scene.trajectories.arc=0", "scene.trajectories.line=0")
    assert build(path, tmp_path / "out", *args) == 0
    assert build(path, tmp_path / "out", *args) == 0  # same file: already built
    assert "already built" in capsys.readouterr().out
    write_sofa(path, positions=8)  # same path and config, other measurements
    assert build(path, tmp_path / "out", *args) == 2
    assert "built from a different config" in capsys.readouterr().err
