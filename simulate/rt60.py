"""Reverberation time measured from an impulse response by Schroeder backward integration.

The energy decay curve EDC(t) = integral_t^inf h^2 (Schroeder 1965), in dB relative to its start, is fit
by least squares over a decay range and extrapolated to -60 dB (ISO 3382-2): T20 uses -5 to -25 dB, T30
-5 to -35 dB. Where the curve does not fall far enough (a short, order-capped RIR), the widest range it
does cover is used down to T10 (-5 to -15 dB); below that, the RT60 is not measurable and NaN is returned.
"""

from __future__ import annotations

import numpy as np

DECAY_RANGES_DB: tuple[tuple[float, float], ...] = ((-5.0, -35.0), (-5.0, -25.0), (-5.0, -15.0))


def energy_decay_curve_db(rir: np.ndarray) -> np.ndarray:
    """Schroeder EDC in dB, 0 dB at the first sample: ``(..., samples)`` -> ``(..., samples)``."""
    energy = np.asarray(rir, dtype=np.float64) ** 2
    edc = np.cumsum(energy[..., ::-1], axis=-1)[..., ::-1]
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(edc / edc[..., :1])


def measure_rt60(rir: np.ndarray, *, sample_rate: int, decay_db: float | None = None) -> float:
    """RT60 (s) of one impulse response ``(samples,)`` from its Schroeder decay.

    Args:
        rir: the impulse response; leading silence (propagation delay) is skipped.
        sample_rate: Hz.
        decay_db: fit range -5 dB to ``-5 - decay_db``; ``None`` takes the widest of T30, T20, T10 the
            decay covers.

    Returns:
        RT60 in seconds, or NaN if the decay never reaches the lower end of the range.
    """
    rir = np.asarray(rir, dtype=np.float64)
    if rir.ndim != 1:
        raise ValueError(f"expected one impulse response (samples,), got shape {rir.shape}")
    nonzero = np.flatnonzero(rir)
    if nonzero.size == 0:
        return float("nan")
    rir = rir[nonzero[0] :]
    edc = energy_decay_curve_db(rir)
    ranges = DECAY_RANGES_DB if decay_db is None else ((-5.0, -5.0 - decay_db),)
    for hi, lo in ranges:
        below = np.flatnonzero(edc <= lo)
        if below.size == 0:
            continue
        start = int(np.flatnonzero(edc <= hi)[0])
        stop = int(below[0])
        if stop - start < 2:
            continue
        t = np.arange(start, stop + 1) / sample_rate
        slope, _ = np.polyfit(t, edc[start : stop + 1], 1)
        if slope >= 0:
            continue
        return float(-60.0 / slope)
    return float("nan")


def measure_rt60_mics(rirs: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """RT60 (s) of each impulse response ``(mics, samples)`` -> ``(mics,)`` (NaN where not measurable)."""
    return np.array([measure_rt60(r, sample_rate=sample_rate) for r in rirs])
