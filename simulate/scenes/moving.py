"""A moving source: RIRs at a fixed time step along its path, block convolution with cross-fades.

The dry signal ``x`` is cut into blocks by windows ``w_p`` centred on the block centres ``p * step`` (the times
at which the RIRs ``h_p`` are computed) whose sum is 1 at every sample, and::

    y = sum_p h_p * (w_p x)                      (overlap-add of the convolved, windowed blocks)

For a static source (all ``h_p = h``) this is ``h * x`` exactly, by linearity; for a moving one it cross-fades
from one RIR to the next over one step (the time-varying filter of e.g. the DCASE synthetic data generator
and SpatialScaper). Windows: ``hann`` (``0.5 + 0.5 cos(pi k / step)`` for ``|k| < step``) or ``linear``
(``1 - |k| / step``), both summing to 1 at 50 % overlap; the first window is 1 before the first centre and
the last window 1 after the last centre.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.signal import fftconvolve

from simulate.backends import RIRBackend
from simulate.geometry import Scene

WINDOWS = ("hann", "linear")


def block_count(samples: int, *, step_samples: int) -> int:
    """Number of RIR positions (block centres ``0, step, 2 step, ...``) that cover ``samples`` samples."""
    if samples < 1 or step_samples < 1:
        raise ValueError(f"need samples >= 1 and step_samples >= 1, got {samples} and {step_samples}")
    return (samples - 1) // step_samples + 1 + (1 if (samples - 1) % step_samples else 0)


def block_times(samples: int, *, step_samples: int, sample_rate: int) -> np.ndarray:
    """The block centres in seconds from the first sample ``(block_count,)``: where to compute the RIRs."""
    return np.arange(block_count(samples, step_samples=step_samples)) * step_samples / sample_rate


def crossfade_window(step_samples: int, *, window: str = "hann") -> np.ndarray:
    """One block's window ``(2 step - 1,)`` for offsets ``k = -(step - 1) .. step - 1`` from its centre."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; choose one of {', '.join(WINDOWS)}")
    k = np.arange(-(step_samples - 1), step_samples) / step_samples
    if window == "hann":
        return 0.5 + 0.5 * np.cos(np.pi * k)
    return 1.0 - np.abs(k)


def render_moving(dry: np.ndarray, rirs: np.ndarray, *, step_samples: int, window: str = "hann") -> np.ndarray:
    """Convolve a dry signal with RIRs that change along its path, cross-faded block by block.

    Args:
        dry: the mono signal ``(samples,)``.
        rirs: ``(positions, mics, rir_samples)``: the RIRs at the block centres ``block_times``,
            ``positions = block_count(samples, step_samples)``.
        step_samples: the spacing of the RIR positions (the hop between blocks).
        window: ``hann`` or ``linear`` cross-fade.

    Returns:
        ``(mics, samples + rir_samples - 1)`` float64.
    """
    dry = np.asarray(dry, dtype=np.float64)
    rirs = np.asarray(rirs, dtype=np.float64)
    if dry.ndim != 1 or dry.size == 0:
        raise ValueError(f"dry must be a non-empty mono signal (samples,), got shape {dry.shape}")
    if rirs.ndim != 3:
        raise ValueError(f"rirs must be (positions, mics, rir_samples), got shape {rirs.shape}")
    n, (positions, mics, length) = dry.size, rirs.shape
    expected = block_count(n, step_samples=step_samples)
    if positions != expected:
        raise ValueError(f"{n} samples at a step of {step_samples} need {expected} RIR positions "
                         f"(block_times), got {positions}")
    w = crossfade_window(step_samples, window=window)
    out = np.zeros((mics, n + length - 1))
    for p in range(positions):
        centre = p * step_samples
        lo, hi = max(centre - step_samples + 1, 0), min(centre + step_samples, n)
        weights = w[lo - centre + step_samples - 1 : hi - centre + step_samples - 1].copy()
        if p == 0:
            weights[: centre - lo] = 1.0
        if p == positions - 1:
            weights[centre - lo :] = 1.0
        block = dry[lo:hi] * weights
        out[:, lo : hi + length - 1] += fftconvolve(block[None, :], rirs[p], axes=1)
    return out


def trajectory_rirs(backend: RIRBackend, scene: Scene, positions: np.ndarray) -> np.ndarray:
    """The RIRs of ``scene``'s room and array for a source at each of ``positions`` ``(n, 3)``.

    One ``Scene`` per position (``scene`` with ``source_pos`` replaced), computed in one ``backend.rirs`` call
    (GPU backends batch them); RIRs shorter than the longest are zero-padded.

    Returns:
        ``(n, mics, rir_samples)`` float64.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3 or positions.shape[0] == 0:
        raise ValueError(f"positions must be (n >= 1, 3), got shape {positions.shape}")
    scenes = [dataclasses.replace(scene, source_pos=p.copy()) for p in positions]
    rirs = [r for r, _ in backend.rirs(scenes)]
    length = max(r.shape[1] for r in rirs)
    out = np.zeros((len(rirs), rirs[0].shape[0], length))
    for i, r in enumerate(rirs):
        out[i, :, : r.shape[1]] = r
    return out
