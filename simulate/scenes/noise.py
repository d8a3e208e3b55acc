"""Ambient noise of a scene: a spherically isotropic diffuse field at the array, or multichannel recordings.

Diffuse field (Habets & Gannot, "Generating sensor signals in isotropic noise fields", JASA 122(6), 2007):
between omnidirectional mics ``d`` apart, the spatial coherence of a spherically isotropic field is::

    Gamma(f) = sin(2 pi f d / c) / (2 pi f d / c) = np.sinc(2 f d / c)

Independent white noises ``N (mics,)`` per frequency bin are mixed by ``A(f) = V sqrt(L)`` from the
eigendecomposition ``Gamma(f) = V L V^T`` (eigenvalues below 0 from rounding set to 0), so that
``E[X X^H] = A A^T = Gamma``: ``X(f) = A(f) N(f)``. Unlike Habets' STFT version, the mixing is applied to
the whole signal's FFT (one bin per ``sample_rate / samples`` Hz): exact at every resolvable frequency, for
any spacing, with no frame overlap to undo; the cost is one batched ``(mics, mics)`` ``eigh`` per bin.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import soundfile as sf


def sinc_coherence(mic_positions: np.ndarray, frequencies: np.ndarray, *, speed_of_sound: float) -> np.ndarray:
    """The diffuse-field coherence matrices ``(freqs, mics, mics)``: ``np.sinc(2 f d_mn / c)``."""
    mics = np.asarray(mic_positions, dtype=np.float64)
    d = np.linalg.norm(mics[:, None, :] - mics[None, :, :], axis=2)
    # One sinc per distinct spacing (a uniform circle has few), then spread to the (mics, mics) matrices.
    spacings, which = np.unique(d, return_inverse=True)
    per_spacing = np.sinc(2.0 * np.asarray(frequencies, dtype=np.float64)[:, None] * spacings[None] / speed_of_sound)
    return per_spacing[:, which.reshape(d.shape)]


def diffuse_noise(rng: np.random.Generator, *, mic_positions: np.ndarray, samples: int, sample_rate: int,
                  speed_of_sound: float) -> np.ndarray:
    """Spherically isotropic diffuse white noise at the mics, unit variance per mic.

    Args:
        rng: the scene's generator.
        mic_positions: ``(mics, 3)`` metres (absolute or offsets: only the distances matter).
        samples: length.
        sample_rate: Hz.
        speed_of_sound: m/s.

    Returns:
        ``(mics, samples)`` float64 whose coherence between mics ``m, n`` is ``np.sinc(2 f d_mn / c)``.
    """
    mics = np.asarray(mic_positions, dtype=np.float64)
    if mics.ndim != 2 or mics.shape[1] != 3 or mics.shape[0] < 1:
        raise ValueError(f"mic_positions must be (mics, 3), got shape {mics.shape}")
    if samples < 1 or sample_rate <= 0 or speed_of_sound <= 0:
        raise ValueError(f"need samples >= 1, sample_rate > 0 and speed_of_sound > 0, got {samples}, "
                         f"{sample_rate}, {speed_of_sound}")
    white = np.fft.rfft(rng.standard_normal((mics.shape[0], samples)), axis=1)  # (mics, freqs)
    freqs = np.fft.rfftfreq(samples, d=1.0 / sample_rate)
    values, vectors = np.linalg.eigh(sinc_coherence(mics, freqs, speed_of_sound=speed_of_sound))
    mixing = vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]  # (freqs, mics, mics): V sqrt(L)
    mixed = np.einsum("fmk,kf->mf", mixing, white)
    return np.fft.irfft(mixed, n=samples, axis=1)


def scale_to_snr(signal: np.ndarray, noise: np.ndarray, *, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that ``10 log10(P_signal / P_noise) = snr_db``, powers the mean square over all
    mics and samples of the two arrays (any shapes).

    Raises:
        ValueError: the signal or the noise is silent or not finite.
    """
    p_signal = float(np.mean(np.square(signal, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if not (np.isfinite(p_signal) and np.isfinite(p_noise)) or p_signal == 0.0 or p_noise == 0.0:
        raise ValueError(f"cannot set an SNR: signal power {p_signal:g}, noise power {p_noise:g} "
                         "(both must be finite and > 0)")
    return np.asarray(noise, dtype=np.float64) * np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))


def noise_from_folder(rng: np.random.Generator, *, files: Sequence[str | os.PathLike], samples: int,
                      sample_rate: int, mics: int) -> np.ndarray:
    """A random excerpt of one of ``files`` (multichannel recordings of the scene's array), ``(mics, samples)``.

    The file and the start are drawn from ``rng``; the recording must have ``mics`` channels, ``sample_rate``
    and at least ``samples`` frames (no resampling, looping or channel mapping: those would change the
    spatial field silently).

    Raises:
        ValueError: no files, or a file with the wrong channel count, sample rate or length (named).
    """
    if not files:
        raise ValueError("noise_from_folder needs at least one recording")
    path = os.fspath(files[int(rng.integers(len(files)))])
    info = sf.info(path)
    if info.channels != mics:
        raise ValueError(f"{path}: noise recording has {info.channels} channels, the array has {mics} mics")
    if info.samplerate != sample_rate:
        raise ValueError(f"{path}: noise recording is at {info.samplerate} Hz, the scene at {sample_rate} Hz")
    if info.frames < samples:
        raise ValueError(f"{path}: noise recording has {info.frames} frames, the scene needs {samples}")
    start = int(rng.integers(info.frames - samples + 1))
    data, _ = sf.read(path, start=start, frames=samples, dtype="float64", always_2d=True)
    return data.T.copy()
