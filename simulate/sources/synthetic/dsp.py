"""Signal primitives of the synthetic generators: wavetables, shaped noise, filters, modulators."""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

from simulate.sources.synthetic.clip import _MOD_BITS, _N_HARMONICS, _PHASE_ONE, _TABLE_BITS, _TABLE_SIZE, _Clip

# ----------------------------------------------------------------------------------------------- helpers
# Arrays are float32 and updated in place where possible: at 5 s x 24 kHz every fresh temporary costs about
# as much in page faults as the arithmetic on it.


def _wavetable(amps: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """One cycle ``(_TABLE_SIZE,)`` float32 holding harmonic ``k`` (1-based) at ``amps[k-1]``, ``phases[k-1]``."""
    spec = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex64)
    spec[1 : amps.size + 1] = amps * np.exp(1j * phases) * (_TABLE_SIZE / 2)
    return sp_fft.irfft(spec, _TABLE_SIZE)


def _band_limit(amps: np.ndarray, f_max: float, clip: _Clip) -> np.ndarray:
    """Zero the harmonics ``k`` (1-based) whose frequency ``k * f_max`` would pass the Nyquist-safe limit."""
    k = np.arange(1, amps.size + 1)
    return np.where(k * f_max <= clip.nyquist_safe, amps, 0.0)


def _phase(freq: np.ndarray | float, clip: _Clip, start: float) -> np.ndarray:
    """Fixed-point phase ``(n,)`` int64 (units of 2**-32 cycle) of an oscillator at ``freq`` Hz.

    ``freq`` is a constant or an instantaneous frequency ``(n,)``; ``start`` is the initial phase in cycles.
    """
    scale = _PHASE_ONE / clip.sample_rate
    if isinstance(freq, float):
        acc = np.arange(clip.n, dtype=np.int64)
        acc *= round(freq * scale)
    else:
        acc = (freq * scale).astype(np.int64)
        np.cumsum(acc, out=acc)
    acc += int(start * _PHASE_ONE)
    return acc


def _index(phase: np.ndarray, bits: int = _TABLE_BITS) -> np.ndarray:
    """Turn a fixed-point phase ``(n,)`` int64 into indices of a ``2**bits`` table, in place."""
    phase >>= 32 - bits
    phase &= (1 << bits) - 1
    return phase


def _pulse_table(gamma: float) -> np.ndarray:
    """One cycle ``(2**_MOD_BITS,)`` float32 of the modulator ``(0.5 - 0.5 cos)**gamma``, in [0, 1]."""
    x = np.arange(1 << _MOD_BITS) * (2 * np.pi / (1 << _MOD_BITS))
    return ((0.5 - 0.5 * np.cos(x)) ** gamma).astype(np.float32)


def _periodic(table: np.ndarray, rate: float, clip: _Clip, start: float) -> np.ndarray:
    """A modulator ``(n,)`` float32: ``table`` (one cycle of ``2**_MOD_BITS``) repeated at ``rate`` Hz."""
    return np.take(table, _index(_phase(rate, clip, start), _MOD_BITS))


def _smooth_random(clip: _Clip, rate: float) -> np.ndarray:
    """Random curve ``(n,)`` float32, standard normal at knots ``1 / rate`` s apart, linear in between."""
    values = clip.rng.standard_normal(int(np.ceil(clip.duration * rate)) + 3).astype(np.float32)
    step = max(1, round(clip.sample_rate / rate))  # samples per segment
    rows = -(-clip.n // step)
    if rows + 1 > values.size:  # rounding of `step`; never more than a knot or two
        values = np.pad(values, (0, rows + 1 - values.size), mode="edge")
    ramp = np.arange(step, dtype=np.float32) / step
    curve = np.diff(values[: rows + 1])[:, None] * ramp
    curve += values[:rows, None]
    return curve.ravel()[: clip.n]


def _noise_spectrum(clip: _Clip) -> np.ndarray:
    """Random half spectrum ``(fft_size // 2 + 1,)`` complex64 of a real noise of ``fft_size`` samples.

    Uniform real and imaginary parts: the inverse transform is Gaussian by the central limit theorem, at a
    fraction of the cost of Gaussian draws.
    """
    spec = clip.noise.random(2 * (clip.fft_size // 2 + 1), dtype=np.float32)
    spec -= 0.5
    return spec.view(np.complex64)


def _to_time(spec: np.ndarray, clip: _Clip) -> np.ndarray:
    """Inverse of a half spectrum ``(fft_size // 2 + 1,)``, cut to the clip: ``(n,)`` float32."""
    return sp_fft.irfft(spec, clip.fft_size)[: clip.n]


def _log_band(clip: _Clip, centre: float, octaves: float) -> np.ndarray:
    """Log-Gaussian band gain ``(fft_size // 2 + 1,)`` float32: 1 at ``centre`` Hz, sd ``octaves`` octaves."""
    g = np.maximum(clip.bin_freqs, 1e-3 * centre)
    g *= 1.0 / centre
    np.log2(g, out=g)
    g *= 1.0 / octaves
    np.square(g, out=g)
    g *= -0.5
    return np.exp(g, out=g)


def _power_law(clip: _Clip, ref: float, exponent: float, low_cut: float) -> np.ndarray:
    """Gain ``(f / ref) ** exponent`` ``(fft_size // 2 + 1,)`` float32, zero at and below ``low_cut`` Hz."""
    g = np.maximum(clip.bin_freqs, max(low_cut, 1e-3 * ref))
    g *= 1.0 / ref
    np.log(g, out=g)
    g *= exponent
    np.exp(g, out=g)
    g[clip.bin_freqs <= low_cut] = 0.0
    return g


def _pass(clip: _Clip, cutoff: float, *, high: bool) -> np.ndarray:
    """Gentle low- or high-pass gain ``(fft_size // 2 + 1,)`` float32: ``1 / (1 + (f / cutoff)**(-+2))``."""
    r = np.maximum(clip.bin_freqs, 1e-3 * cutoff)
    r *= 1.0 / cutoff
    np.square(r, out=r)
    if high:
        np.reciprocal(r, out=r)
    r += 1.0
    return np.reciprocal(r, out=r)


def _energy(x: np.ndarray) -> float:
    """Sum of squares of a float32 or complex64 array (einsum, not BLAS: the same sum in every process)."""
    v = x.view(np.float32) if x.dtype == np.complex64 else x
    return float(np.einsum("i,i->", v, v))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(_energy(x) / max(x.size, 1)))


def _harmonic_amps(clip: _Clip, tilt: float) -> np.ndarray:
    """Amplitudes ``(_N_HARMONICS,)`` falling as ``k ** -tilt`` with +-3 dB random jitter per harmonic."""
    k = np.arange(1, _N_HARMONICS + 1)
    return k**-tilt * np.exp(clip.rng.uniform(-0.35, 0.35, _N_HARMONICS))


def _random_phases(clip: _Clip) -> np.ndarray:
    return clip.rng.uniform(0.0, 2 * np.pi, _N_HARMONICS)


def _keep_first(amps: np.ndarray, count: int) -> np.ndarray:
    out = amps.copy()
    out[count:] = 0.0
    return out


_SINE_TABLE = np.sin(np.arange(1 << _MOD_BITS) * (2 * np.pi / (1 << _MOD_BITS))).astype(np.float32)
_TRIANGLE_TABLE = (1.0 - 4.0 * np.abs(np.arange(1 << _MOD_BITS) / (1 << _MOD_BITS) - 0.5)).astype(np.float32)


def _lfo(clip: _Clip, rate: float, start: float, *, triangle: bool) -> np.ndarray:
    """A sine or triangle oscillator in [-1, 1] ``(n,)`` float32 at ``rate`` Hz (sub-audio)."""
    return _periodic(_TRIANGLE_TABLE if triangle else _SINE_TABLE, rate, clip, start)


def _sawtooth(clip: _Clip, rate: float) -> np.ndarray:
    """Position in the current cycle of a ``rate`` Hz oscillator, in [0, 1) ``(n,)`` float32."""
    phase = _phase(rate, clip, 0.0)
    phase &= _PHASE_ONE - 1
    phase >>= 8  # 24 bits: exact in float32, so u stays below 1
    u = phase.astype(np.float32)
    u *= 1.0 / (1 << 24)
    return u
