"""Ambient noise: the diffuse field's measured coherence is sinc(2 pi f d / c) for every mic pair; SNR scaling
is exact; recorded noise with the wrong format is a clear error naming the file."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import csd, welch

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.scenes.noise import diffuse_noise, noise_from_folder, scale_to_snr, sinc_coherence

FS = 16000
C = 343.0


def _coherence(x: np.ndarray, y: np.ndarray, *, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Real part of the complex coherence ``S_xy / sqrt(S_xx S_yy)`` (Welch estimates) and its frequencies."""
    f, sxy = csd(x, y, fs=FS, nperseg=nperseg)
    _, sxx = welch(x, fs=FS, nperseg=nperseg)
    _, syy = welch(y, fs=FS, nperseg=nperseg)
    return f, np.real(sxy) / np.sqrt(sxx * syy)


ARRAYS = {
    **{name: ARRAY_PRESETS[name] for name in ("circular4", "tetrahedral")},
    # A wide pair (0.5 m) whose sinc goes through several zeros in the band: the coherence must follow it.
    "wide_pair": np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.2, 0.1]]),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_diffuse_noise_coherence_follows_sinc(name):
    mics = ARRAYS[name]
    noise = diffuse_noise(np.random.default_rng(0), mic_positions=mics, samples=10 * FS, sample_rate=FS,
                          speed_of_sound=C)
    assert noise.shape == (mics.shape[0], 10 * FS)
    np.testing.assert_allclose(noise.var(axis=1), 1.0, rtol=0.03)
    for m, n in itertools.combinations(range(mics.shape[0]), 2):
        f, measured = _coherence(noise[m], noise[n], nperseg=1024)
        band = (f > 50) & (f < 7500)
        d = np.linalg.norm(mics[m] - mics[n])
        target = np.sinc(2.0 * f[band] * d / C)
        error = np.abs(measured[band] - target)
        assert error.mean() < 0.05, (name, m, n, d, error.mean())
        assert error.max() < 0.2, (name, m, n, d, error.max())
        # the imaginary part of the coherence vanishes (no preferred direction)
        _, sxy = csd(noise[m], noise[n], fs=FS, nperseg=1024)
        assert np.mean(np.abs(np.imag(sxy[band]))) < 0.1 * np.mean(np.abs(np.real(sxy[band])) + 1e-3)


def test_diffuse_noise_is_reproducible_and_spectrally_white():
    a = diffuse_noise(np.random.default_rng(3), mic_positions=ARRAY_PRESETS["circular4"], samples=FS,
                      sample_rate=FS, speed_of_sound=C)
    b = diffuse_noise(np.random.default_rng(3), mic_positions=ARRAY_PRESETS["circular4"], samples=FS,
                      sample_rate=FS, speed_of_sound=C)
    np.testing.assert_array_equal(a, b)
    _, psd = welch(a[0], fs=FS, nperseg=256)
    assert psd[5:-5].max() / psd[5:-5].min() < 2.0  # flat within the Welch estimate's scatter


def test_scale_to_snr_sets_the_power_ratio():
    rng = np.random.default_rng(4)
    signal, noise = 0.3 * rng.standard_normal((4, 5000)), rng.standard_normal((4, 5000))
    for snr in (-6.0, 0.0, 12.5, 30.0):
        scaled = scale_to_snr(signal, noise, snr_db=snr)
        ratio = 10.0 * np.log10(np.mean(signal**2) / np.mean(scaled**2))
        assert ratio == pytest.approx(snr, abs=1e-9)
    with pytest.raises(ValueError, match="cannot set an SNR: signal power 0"):
        scale_to_snr(np.zeros(10), noise, snr_db=10.0)


def test_noise_from_folder_reads_an_excerpt_and_rejects_wrong_formats(tmp_path):
    data = np.random.default_rng(5).uniform(-0.5, 0.5, size=(FS, 4))
    good = tmp_path / "ambience.wav"
    sf.write(good, data, FS, subtype="FLOAT")
    out = noise_from_folder(np.random.default_rng(0), files=[good], samples=4000, sample_rate=FS, mics=4)
    assert out.shape == (4, 4000)
    start = int(np.flatnonzero(np.isclose(data[:, 0], out[0, 0]))[0])
    np.testing.assert_allclose(out, data[start : start + 4000].T.astype(np.float32), rtol=1e-6)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, data[:, :2], FS)
    with pytest.raises(ValueError, match=r"stereo.wav: noise recording has 2 channels, the array has 4 mics"):
        noise_from_folder(np.random.default_rng(0), files=[stereo], samples=100, sample_rate=FS, mics=4)
    with pytest.raises(ValueError, match=r"ambience.wav: noise recording is at 16000 Hz, the scene at 24000 Hz"):
        noise_from_folder(np.random.default_rng(0), files=[good], samples=100, sample_rate=24000, mics=4)
    with pytest.raises(ValueError, match=r"ambience.wav: noise recording has 16000 frames, the scene needs 20000"):
        noise_from_folder(np.random.default_rng(0), files=[good], samples=20000, sample_rate=FS, mics=4)


def test_sinc_coherence_matrices_are_the_formula():
    shift = np.array([[0.0, 0.0, 0.0], [0.01, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.2, 0.0]])
    mics = ARRAY_PRESETS["tetrahedral"] + shift  # distinct spacings, and the diagonal
    f = np.linspace(0.0, 8000.0, 33)
    gamma = sinc_coherence(mics, f, speed_of_sound=C)
    for m, n in itertools.product(range(4), repeat=2):
        d = np.linalg.norm(mics[m] - mics[n])
        np.testing.assert_array_equal(gamma[:, m, n], np.sinc(2.0 * f * d / C))
