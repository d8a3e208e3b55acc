"""Moving sources: the cross-faded block convolution is exact for a static source, and in a real room the
inter-mic delays of a moving broadband source follow its labelled trajectory frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.backends import make_backend
from simulate.geometry import Scene, sabine_rt60
from simulate.scenes.moving import block_count, block_times, crossfade_window, render_moving, trajectory_rirs
from simulate.scenes.trajectory import Trajectory

FS = 16000
C = 343.0
DIMS = np.array([6.0, 5.0, 3.0])
CENTER = np.array([3.0, 2.5, 1.3])


def _scene(absorption: float = 0.9) -> Scene:
    rt60 = sabine_rt60(absorption, DIMS, speed_of_sound=C)
    return Scene(room_dims=DIMS, rt60_target=rt60, rt60_sabine=rt60, absorption=absorption,
                 source_pos=CENTER + np.array([1.5, 0.0, 0.0]), array_center=CENTER,
                 mic_positions=CENTER + ARRAY_PRESETS["circular4"])


@pytest.mark.parametrize("window", ["hann", "linear"])
@pytest.mark.parametrize(("samples", "step"), [(1, 7), (100, 7), (105, 7), (1000, 160), (999, 1)])
def test_windows_sum_to_one_at_every_sample(window, samples, step):
    # A unit impulse response of length 1 at every position turns render_moving into the sum of the windows.
    positions = block_count(samples, step_samples=step)
    out = render_moving(np.ones(samples), np.ones((positions, 1, 1)), step_samples=step, window=window)
    np.testing.assert_allclose(out[0], 1.0, rtol=0, atol=1e-12)
    assert block_times(samples, step_samples=step, sample_rate=FS)[-1] * FS >= samples - 1
    w = crossfade_window(step, window=window)
    assert w.shape == (2 * step - 1,) and w[step - 1] == 1.0


def test_static_trajectory_equals_the_static_convolution():
    rng = np.random.default_rng(0)
    dry = rng.standard_normal(4000)
    rir = rng.standard_normal((4, 900)) * np.exp(-np.arange(900) / 200.0)
    step = 256
    rirs = np.repeat(rir[None], block_count(dry.size, step_samples=step), axis=0)
    for window in ("hann", "linear"):
        moving = render_moving(dry, rirs, step_samples=step, window=window)
        static = fftconvolve(dry[None, :], rir, axes=1)
        assert moving.shape == static.shape == (4, 4000 + 900 - 1)
        np.testing.assert_allclose(moving, static, rtol=1e-10, atol=1e-12 * np.abs(static).max())


def test_static_trajectory_with_real_rirs_equals_the_static_convolution():
    backend = make_backend("pyroomacoustics", sample_rate=FS, max_order=3, speed_of_sound=C, tail=False)
    scene = _scene()
    traj = Trajectory(kind="static", start=scene.source_pos, array_center=CENTER, duration_s=0.5)
    dry = np.random.default_rng(1).standard_normal(8000)
    times = block_times(dry.size, step_samples=320, sample_rate=FS)
    rirs = trajectory_rirs(backend, scene, traj.positions(times))
    (rir, _), = backend.rirs([scene])
    np.testing.assert_array_equal(rirs[0], rir)
    np.testing.assert_allclose(render_moving(dry, rirs, step_samples=320), fftconvolve(dry[None], rir, axes=1),
                               rtol=1e-10, atol=1e-12)


def test_trajectory_rirs_are_the_backend_rirs_of_each_position_padded():
    backend = make_backend("pyroomacoustics", sample_rate=FS, max_order=2, speed_of_sound=C, tail=False)
    scene = _scene()
    positions = CENTER + np.array([[1.0, 0.0, 0.0], [2.4, 1.9, 0.5], [-0.8, 0.6, -0.2]])
    rirs = trajectory_rirs(backend, scene, positions)
    singles = [backend.rirs([Scene(**{**scene.__dict__, "source_pos": p})])[0][0] for p in positions]
    assert rirs.shape == (3, 4, max(r.shape[1] for r in singles))
    for got, single in zip(rirs, singles, strict=True):
        np.testing.assert_array_equal(got[:, : single.shape[1]], single)
        assert not np.any(got[:, single.shape[1]:])
    with pytest.raises(ValueError, match=r"positions must be \(n >= 1, 3\)"):
        trajectory_rirs(backend, scene, np.zeros((2, 2)))


def test_render_moving_rejects_a_wrong_number_of_positions():
    with pytest.raises(ValueError, match="1000 samples at a step of 100 need 11 RIR positions"):
        render_moving(np.ones(1000), np.ones((10, 2, 5)), step_samples=100)


def _tdoa(x: np.ndarray, y: np.ndarray, *, upsample: int = 16, max_lag: int = 8) -> float:
    """NumPy GCC-PHAT: the delay of ``y`` after ``x`` in samples, sub-sample by a zero-padded inverse FFT."""
    n = 2 * len(x)
    cross = np.conj(np.fft.rfft(x, n)) * np.fft.rfft(y, n)
    cc = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), n * upsample)
    lags = np.concatenate([cc[-max_lag * upsample:], cc[: max_lag * upsample + 1]])
    return (int(np.argmax(lags)) - max_lag * upsample) / upsample


def test_gcc_phat_delays_of_a_moving_source_follow_its_trajectory():
    """White noise on an arc (radius 1.5 m, 40 deg/s, 3 s: 120 deg) around circular4 in a real, dry room.

    Per 100 ms frame, the GCC-PHAT delay of the pairs (0, 2) (x axis) and (1, 3) (y axis) is within half a
    sample of the delay the labelled position at the frame centre implies (measured: 0.05 sample at most), and
    the azimuth from the two delays within a few degrees of the label (measured: median 0.2, max 0.8 deg). The
    delays of the start position differ from the labels by up to 7 samples, so the check sees the motion.
    """
    backend = make_backend("pyroomacoustics", sample_rate=FS, max_order=2, speed_of_sound=C, tail=False)
    scene = _scene(absorption=0.9)
    start = CENTER + 1.5 * np.array([np.cos(np.radians(-30.0)), np.sin(np.radians(-30.0)), 0.0])
    traj = Trajectory(kind="arc", start=start, array_center=CENTER, duration_s=3.0, angular_speed_deg=40.0)
    dry = np.random.default_rng(2).standard_normal(3 * FS)
    step = 320  # 20 ms
    rirs = trajectory_rirs(backend, scene, traj.positions(block_times(dry.size, step_samples=step, sample_rate=FS)))
    wet = render_moving(dry, rirs, step_samples=step)[:, : dry.size]
    frame = FS // 10
    centres = (np.arange(dry.size // frame) + 0.5) * 0.1
    positions = traj.positions(centres)
    mics = scene.mic_positions
    errors, az_errors, static_errors = [], [], []
    for f, (t, p) in enumerate(zip(centres, positions, strict=True)):
        seg = wet[:, f * frame : (f + 1) * frame]
        dist = np.linalg.norm(mics - p, axis=1) / C * FS
        expected = np.array([dist[2] - dist[0], dist[3] - dist[1]])
        measured = np.array([_tdoa(seg[0], seg[2]), _tdoa(seg[1], seg[3])])
        errors.append(np.abs(measured - expected).max())
        azimuth = np.degrees(np.arctan2(measured[1], measured[0]))
        label = traj.directions([t])[0, 0]
        az_errors.append(abs((azimuth - label + 180.0) % 360.0 - 180.0))
        held = np.linalg.norm(mics - traj.start, axis=1) / C * FS
        static_errors.append(np.abs(np.array([held[2] - held[0], held[3] - held[1]]) - expected).max())
    errors, az_errors = np.array(errors), np.array(az_errors)
    assert errors.max() <= 0.25, errors.round(3)
    assert np.median(az_errors) < 1.5 and az_errors.max() < 4.0, az_errors.round(1)
    assert np.max(static_errors) > 3.0  # the labels move by far more than the tolerance
