"""Azimuth of one or more sources from a multichannel recording, by SRP-PHAT or MUSIC of ``pyroomacoustics.doa``.

No learning and no re-implementation: the STFT is ``scipy.signal.stft`` (Hann window, 50 % overlap), laid out
``(mics, freq, frames)`` as ``pyroomacoustics.doa.DOA.locate_sources`` expects, and the search is
``pyroomacoustics.doa.algorithms['SRP' | 'MUSIC']`` on a circle of candidate azimuths (``dim=2``, far field).

Planar arrays only (e.g. ``circular4``): the candidates lie in the array's plane, which is the room's horizontal
plane for the presets, so the estimate is an azimuth; elevation is not estimated. A source above or below the plane
only shrinks the in-plane delays by ``cos(elevation)``, which moves no peak. pyroomacoustics' azimuth is measured
counter-clockwise from +x in radians, in ``[0, 2 pi)``; here it is returned in the project's convention, degrees in
``(-180, 180]`` (docs/dataset.md), checked by a simulated room in tests/test_classical.py.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyroomacoustics as pra
import scipy.signal

from mcsimclr.core.errors import GeometryError

__all__ = ["METHODS", "Method", "default_freq_range", "estimate_azimuths", "wrap_deg"]

Method = Literal["srp-phat", "music"]
METHODS: dict[str, str] = {"srp-phat": "SRP", "music": "MUSIC"}  # our name -> pyroomacoustics.doa.algorithms key
PLANAR_TOLERANCE_M = 1e-6


def default_freq_range(sample_rate: int) -> tuple[float, float]:
    """300 Hz to 3.5 kHz, or to ``0.45 sample_rate`` when that is lower (a margin below Nyquist)."""
    return 300.0, min(3500.0, 0.45 * sample_rate)


def wrap_deg(angle_deg: np.ndarray) -> np.ndarray:
    """Angles in degrees mapped to ``(-180, 180]`` (same shape)."""
    wrapped = np.remainder(np.asarray(angle_deg, dtype=np.float64) + 180.0, 360.0) - 180.0
    return np.where(wrapped == -180.0, 180.0, wrapped)


def estimate_azimuths(audio: np.ndarray, *, mic_positions: np.ndarray, sample_rate: int, method: Method = "srp-phat",
                      num_src: int = 1, nfft: int = 512, freq_range: tuple[float, float] | None = None,
                      grid_deg: float = 1.0, speed_of_sound: float = 343.0) -> np.ndarray:
    """Azimuths of the ``num_src`` strongest sources in ``audio``, degrees in ``(-180, 180]``, strongest first.

    Args:
        audio: ``(mics, samples)``, at least ``nfft`` samples.
        mic_positions: ``(mics, 3)`` metres, mic i of ``audio`` at row i (offsets from the array centre or room
            coordinates: only differences matter in the far field). All mics at one height (a planar array).
        sample_rate: Hz.
        method: ``"srp-phat"`` (pyroomacoustics ``SRP``) or ``"music"`` (``MUSIC``).
        num_src: sources to find (the oracle count; MUSIC's signal subspace has this dimension).
        nfft: STFT frame length (hop ``nfft // 2``).
        freq_range: ``(low, high)`` Hz searched; default :func:`default_freq_range`.
        grid_deg: spacing of the candidate azimuths (360 / grid_deg of them, from 0).
        speed_of_sound: m/s.

    Returns:
        ``(num_src,)`` float64. When the spatial spectrum has fewer than ``num_src`` local maxima, the sources are
        not resolved: the missing entries repeat the strongest peak (each reference then gets the error of that
        peak, never a made-up direction).

    Raises:
        ValueError: a bad shape, method, count, range or grid.
        GeometryError: a non-planar array.
    """
    audio = np.asarray(audio)
    mic_positions = np.asarray(mic_positions, dtype=np.float64)
    if audio.ndim != 2 or mic_positions.shape != (audio.shape[0], 3) or audio.shape[0] < 2:
        raise ValueError(f"estimate_azimuths needs audio (mics, samples) and mic_positions (mics, 3) with mics >= 2, "
                         f"got {audio.shape} and {mic_positions.shape}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not 1 <= num_src < audio.shape[0]:
        raise ValueError(f"num_src must be in 1..{audio.shape[0] - 1} (fewer than the {audio.shape[0]} mics), "
                         f"got {num_src}")
    if audio.shape[1] < nfft:
        raise ValueError(f"audio of {audio.shape[1]} samples is shorter than one STFT frame (nfft={nfft})")
    low, high = default_freq_range(sample_rate) if freq_range is None else freq_range
    if not 0 <= low < high <= sample_rate / 2:
        raise ValueError(f"freq_range must satisfy 0 <= low < high <= {sample_rate / 2:g} Hz, got ({low}, {high})")
    n_grid = round(360.0 / grid_deg)
    if grid_deg <= 0 or abs(n_grid * grid_deg - 360.0) > 1e-9:
        raise ValueError(f"grid_deg must divide 360, got {grid_deg}")
    heights = mic_positions[:, 2]
    if np.ptp(heights) > PLANAR_TOLERANCE_M:
        raise GeometryError(f"estimate_azimuths searches azimuth in the horizontal plane (dim=2) and needs a planar, "
                            f"horizontal array; mic heights span {np.ptp(heights):.4f} m ({heights.tolist()})")
    centred = mic_positions - mic_positions.mean(axis=0)
    # (mics, freq, frames): the layout of DOA.locate_sources; float64 for the covariances.
    _, _, stft = scipy.signal.stft(audio.astype(np.float64), fs=sample_rate, window="hann", nperseg=nfft,
                                   noverlap=nfft // 2, axis=-1)
    doa = pra.doa.algorithms[METHODS[method]](centred[:, :2].T, sample_rate, nfft, c=speed_of_sound,
                                              num_src=num_src, dim=2, n_grid=n_grid)
    doa.locate_sources(stft, num_src=num_src, freq_range=[low, high])
    # find_peaks returns the k largest local maxima in ascending order of power.
    found = np.degrees(np.asarray(doa.azimuth_recon, dtype=np.float64))[::-1]
    if found.size == 0:
        raise ValueError(f"the {method} spatial spectrum has no peak (silent or constant audio of {audio.shape[1]} "
                         "samples?)")
    if found.size < num_src:
        found = np.concatenate([found, np.full(num_src - found.size, found[0])])
    return wrap_deg(found)
