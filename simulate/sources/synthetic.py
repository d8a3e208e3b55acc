"""The built-in procedural source set: distinct sound classes, generated on the fly, no download needed.

Every clip is regenerated from ``(seed, split name, index)``, so ``simulate build`` workers need no shared state:
the same arguments give the same listing and bit-identical samples in every process (on another CPU, numpy's
vectorised float32 ``sin``/``exp`` may differ in the last bit). Split sizes are arguments, so one generator makes
a 20-clip test set and a full-size stand-in for FSDnoisy18k (``noisy_train`` 15,813 / ``clean_train`` 1,772 /
``test`` 947 clips; durations 0.3-5 s by default).

Classes (``SYNTHETIC_CLASSES``, indexed by ``ClipRef.label``; every range is drawn per clip):

===============  ===========================================================================================
class            how a clip is made
===============  ===========================================================================================
harmonic_tone    harmonic series, f0 80-1000 Hz, spectral tilt k^-0.6..k^-2, odd/even balance, random phases,
                 vibrato <= 0.3 semitone, timbre fading from bright to dull (time constant 0.05-3 s)
inharmonic_bell  5-8 partials at church-bell, free-bar, membrane or plate ratios (jittered 1.5 %) of a base
                 150-1200 Hz, higher partials decaying faster, noise strike at the onset
noise_band       noise through a log-Gaussian band, centre 150-6000 Hz, standard deviation 0.1-0.8 octave
click_train      6-50 clicks/s, timing jitter up to 30 % of a period; each click a damped resonance (400-5000 Hz,
                 2-15 ms decay) mixed with a noise burst, per-click level and pitch variation
chirp_up         repeated rising sweeps (0.25-3 s each, exponential or linear), from 120-1500 Hz over a 1.5-6x
                 range, 1-6 harmonics, every sweep faded in and out
chirp_down       the same, falling
am_tone          1-10 harmonics, f0 100-1500 Hz, amplitude-modulated at 3-40 Hz, depth 0.6-1, pulse shape
                 ``(0.5 - 0.5 cos)^gamma``, gamma 0.5-4
fm_tone          siren/warble: 1-6 harmonics, f0 200-2000 Hz, frequency-modulated at 0.7-12 Hz by +-1-7
                 semitones, sine or triangle
rain_texture     Poisson drops (300-6000 /s, log-normal levels) through a 0.5-1.5-octave band at 1-6 kHz,
                 plus high-passed hiss
engine_hum       pulse-like harmonic series at half the firing rate (firing 25-120 Hz, slowly drifting), low-pass
                 timbre (200-1500 Hz), uneven cylinders, rumble noise pulsing at the firing rate
wind_gusts       broad coloured noise band (centre 150-1500 Hz) under a slow random gust envelope (6-20 dB),
                 with a whistle whose pitch and level follow the gusts
vowel_voice      glottal-like source, f0 85-320 Hz with intonation, three formants, cross-fading between two
                 vowels, syllable-rate (2.5-7 Hz) amplitude modulation
===============  ===========================================================================================

Then every clip gets class-independent nuisances, so that no class can be told from its length or level:
a duration log-uniform in ``[min_duration, max_duration]``; a crest factor (peak over RMS) steered to a target
uniform in ``CREST_RANGE_DB`` by an envelope of one to four events (attack, exponential decay, release) and, for
noise-like classes that are too peaky, a soft limiter; background noise of random colour (1/f^beta, beta 0-1.5)
at an SNR uniform in ``SNR_RANGE_DB``; and a peak uniform in ``PEAK_RANGE``. Frequency ranges overlap across
classes. No partial exceeds 0.45 x the sample rate (no aliasing at any rate >= 8 kHz); below 2 kHz a clip sounds
the same at every rate. A 5 s clip at 24 kHz takes about 4-5 ms on one CPU core.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import fft as sp_fft

from simulate.sources.base import ClipRef, SourceError, SourceSet, check_waveform

SYNTHETIC_CLASSES: tuple[str, ...] = (
    "harmonic_tone",
    "inharmonic_bell",
    "noise_band",
    "click_train",
    "chirp_up",
    "chirp_down",
    "am_tone",
    "fm_tone",
    "rain_texture",
    "engine_hum",
    "wind_gusts",
    "vowel_voice",
)

MIN_SAMPLE_RATE = 8000
"""Lowest sample rate ``load`` accepts (Hz)."""
MIN_CLIP_DURATION = 0.05
"""Shortest ``min_duration`` accepted (s): shorter clips cannot hold an envelope or a period of most classes."""
PEAK_RANGE = (0.5, 0.9)
"""Each clip is scaled so that its peak is uniform in this range."""
SNR_RANGE_DB = (10.0, 40.0)
"""Signal-to-background-noise ratio of a clip, uniform in this range (dB, RMS over the clip)."""
CREST_RANGE_DB = (12.0, 20.0)
"""Each clip's crest factor (peak over RMS) is steered to a target uniform in this range (dB)."""
MAX_LIMITING_DB = 15.0
"""The soft limiter that brings peaky sounds down to their crest target lowers peaks by at most this (dB)."""

# Classes whose crest factor may be lowered by soft limiting, a waveform nonlinearity: noise-like sounds, whose
# distortion products are noise too. Tonal classes are never limited (their harmonics would alias).
_LIMITED_CLASSES = frozenset({"noise_band", "click_train", "rain_texture", "wind_gusts"})
_MAX_PARTIAL = 0.45  # highest partial allowed, as a fraction of the sample rate
_TABLE_BITS = 15  # single-cycle wavetables of 32768 samples: nearest-sample error < -40 dB at harmonic 64
_TABLE_SIZE = 1 << _TABLE_BITS
_MOD_BITS = 12  # modulator shapes (smooth, sub-audio): 4096 samples
_N_HARMONICS = 64  # harmonics drawn for every table, so the draw count never depends on the sample rate
_PHASE_ONE = 1 << 32  # fixed-point phase: one cycle
_LN10_20 = float(np.log(10.0) / 20.0)  # dB -> natural log of amplitude
_LN2_12 = float(np.log(2.0) / 12.0)  # semitones -> natural log of frequency
# Domain tags keep the label and clip seed sequences apart (SeedSequence([a, b]) == SeedSequence([a, b, 0])).
_TAG_LABELS = 0x5EED1AB
_TAG_CLIP = 0x5EEDC11


def _split_key(split: str) -> int:
    """A stable 32-bit key of a split name (Python's ``hash`` is salted per process)."""
    return zlib.crc32(split.encode("utf-8"))


@dataclass
class _Clip:
    """What a class generator needs: the clip's length and its two random streams.

    ``rng`` draws parameters and events; how many values it draws depends on the duration only, never on the
    sample rate, so a clip is the same sound at every rate. ``noise`` draws sample-level noise.
    """

    rng: np.random.Generator
    noise: np.random.Generator
    sample_rate: int
    duration: float
    n: int

    @cached_property
    def t(self) -> np.ndarray:
        """Sample times in seconds ``(n,)`` float32, for envelopes and sub-audio modulators (read-only)."""
        t = np.arange(self.n, dtype=np.float32)
        t *= 1.0 / self.sample_rate
        t.flags.writeable = False
        return t

    @property
    def nyquist_safe(self) -> float:
        """The highest frequency a partial may have (Hz)."""
        return _MAX_PARTIAL * self.sample_rate

    @cached_property
    def fft_size(self) -> int:
        """A fast real-FFT length >= ``n`` (an awkward ``n`` such as a large prime is 20x slower)."""
        return int(sp_fft.next_fast_len(self.n, real=True))

    @cached_property
    def bin_freqs(self) -> np.ndarray:
        """Frequencies (Hz) ``(fft_size // 2 + 1,)`` float32 of a real FFT of ``fft_size`` samples (read-only)."""
        f = np.arange(self.fft_size // 2 + 1, dtype=np.float32)
        f *= self.sample_rate / self.fft_size
        f.flags.writeable = False
        return f

    def loguniform(self, low: float, high: float) -> float:
        return float(np.exp(self.rng.uniform(np.log(low), np.log(high))))

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def integer(self, low: int, high: int) -> int:
        """Uniform integer in ``[low, high]``."""
        return int(self.rng.integers(low, high + 1))


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


# --------------------------------------------------------------------------------------------- the classes


def _harmonic_tone(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(80.0, 1000.0)
    tilt = clip.uniform(0.6, 2.0)
    even_gain = clip.uniform(0.15, 1.0)
    vib_rate, vib_depth, vib_start = clip.uniform(4.0, 7.0), clip.uniform(0.0, 0.3), clip.uniform(0.0, 1.0)
    fade = clip.loguniform(0.05, 3.0)  # s, time constant of bright -> dull
    start = clip.uniform(0.0, 1.0)
    amps = _harmonic_amps(clip, tilt)
    amps[1::2] *= even_gain
    phases = _random_phases(clip)
    f_max = f0 * 2 ** (vib_depth / 12)
    bright = _wavetable(_band_limit(amps, f_max, clip), phases)
    dull = _wavetable(_band_limit(amps * np.arange(1, _N_HARMONICS + 1) ** -1.5, f_max, clip), phases)
    freq = _lfo(clip, vib_rate, vib_start, triangle=False)
    freq *= vib_depth * _LN2_12
    np.exp(freq, out=freq)
    freq *= f0
    idx = _index(_phase(freq, clip, start))
    del freq
    y = np.take(bright, idx)
    lo = np.take(dull, idx)
    del idx
    y -= lo
    w = clip.t * (-1.0 / fade)
    y *= np.exp(w, out=w)
    y += lo
    return y


_BELL_RATIOS = (
    np.array([0.5, 1.0, 1.183, 1.506, 2.0, 2.514, 2.662, 3.011]),  # church bell
    np.array([1.0, 2.756, 5.404, 8.933, 13.34, 18.64, 24.81, 31.87]),  # free bar
    np.array([1.0, 1.594, 2.136, 2.296, 2.653, 2.918, 3.156, 3.501]),  # circular membrane
    np.array([1.0, 1.414, 1.732, 2.0, 2.236, 2.449, 2.646, 2.828]),  # plate-like sqrt series
)


def _inharmonic_bell(clip: _Clip) -> np.ndarray:
    family = _BELL_RATIOS[clip.integer(0, len(_BELL_RATIOS) - 1)]
    base = clip.loguniform(150.0, 1200.0)
    count = clip.integer(5, 8)
    ratios = family * np.exp(clip.rng.normal(0.0, 0.015, family.size))
    amps = clip.rng.uniform(0.2, 1.0, family.size) * ratios ** -clip.uniform(0.0, 1.0)
    phases = clip.rng.uniform(0.0, 2 * np.pi, family.size)
    # The lowest partial rings on past the clip (T60 1-8 durations): the overall decay is the envelope's.
    t60 = clip.duration * clip.loguniform(1.0, 8.0) * (ratios / ratios[0]) ** -clip.uniform(0.3, 1.0)  # s
    strike_gain, strike_decay = clip.uniform(0.0, 0.3), clip.loguniform(0.001, 0.01)
    freqs = base * ratios
    keep = (np.arange(family.size) < count) & (freqs <= clip.nyquist_safe)  # partial 0 (<= 1200 Hz) always
    freqs, amps, phases, t60 = freqs[keep], amps[keep], phases[keep], t60[keep]
    # sum_k a_k exp(s_k m) with s_k = -decay_k + j omega_k, evaluated in blocks m = block * q + r as a
    # product (rows, 2K) @ (2K, block) of real and imaginary parts: no per-sample transcendental functions.
    s = -3 * np.log(10.0) / (t60 * clip.sample_rate) + 2j * np.pi * freqs / clip.sample_rate
    block = 256
    rows = -(-clip.n // block)
    inner = np.exp(np.outer(np.arange(block), s))  # (block, K)
    outer = amps * np.exp(1j * phases) * np.exp(np.outer(np.arange(rows) * block, s))  # (rows, K)
    lhs = np.concatenate([outer.real, -outer.imag], axis=1).astype(np.float32)
    rhs = np.concatenate([inner.real, inner.imag], axis=1).T.astype(np.float32)
    y = np.einsum("qk,kb->qb", lhs, rhs).ravel()[: clip.n]  # einsum: no BLAS, same sums in every process
    n_strike = min(clip.n, int(8 * strike_decay * clip.sample_rate) + 1)
    strike = clip.noise.random(n_strike, dtype=np.float32) - 0.5
    strike *= np.exp(clip.t[:n_strike] * (-1.0 / strike_decay))
    strike *= 2 * strike_gain * float(np.abs(amps).sum())
    y[:n_strike] += strike
    return y


def _noise_band(clip: _Clip) -> np.ndarray:
    centre = min(clip.loguniform(150.0, 6000.0), 0.35 * clip.sample_rate)
    width = clip.uniform(0.1, 0.8)
    spec = _noise_spectrum(clip)
    spec *= _log_band(clip, centre, width)
    return _to_time(spec, clip)


def _click_train(clip: _Clip) -> np.ndarray:
    rate = clip.loguniform(6.0, 50.0)
    jitter = clip.uniform(0.0, 0.3)  # of a period
    centre = clip.loguniform(400.0, 5000.0)
    decay = clip.loguniform(0.002, 0.015)  # s
    noisiness = clip.uniform(0.0, 1.0)
    level_spread, pitch_spread = clip.uniform(0.0, 0.3), clip.uniform(0.0, 0.1)
    count = max(1, int(clip.duration * rate))
    slots = (np.arange(count) + 0.5 + clip.rng.uniform(-jitter, jitter, count)) / count
    levels = np.exp(clip.rng.normal(0.0, level_spread, count))
    pitches = np.minimum(centre * np.exp(clip.rng.normal(0.0, pitch_spread, count)), 0.4 * clip.sample_rate)
    length = int(5 * decay * clip.sample_rate) + 1
    tk = clip.t[:length] if length <= clip.n else np.arange(length, dtype=np.float32) / clip.sample_rate
    tone = np.outer((2 * np.pi) * pitches.astype(np.float32), tk)
    np.sin(tone, out=tone)
    tone *= 1.0 - noisiness
    burst = clip.noise.random((count, length), dtype=np.float32)
    burst -= 0.5
    tone += (2 * noisiness) * burst
    tone *= np.exp(tk * (-1.0 / decay))
    tone *= levels.astype(np.float32)[:, None]
    idx = np.round(np.clip(slots, 0.0, 1.0) * (clip.n - 1)).astype(np.int64)[:, None] + np.arange(length)
    inside = idx < clip.n
    return np.bincount(idx[inside], weights=tone[inside], minlength=clip.n).astype(np.float32)


def _chirp(clip: _Clip, *, rising: bool) -> np.ndarray:
    f_lo = clip.loguniform(120.0, 1500.0)
    ratio = clip.loguniform(1.5, 6.0)
    sweep = clip.loguniform(0.25, 3.0)  # s, nominal length of one sweep
    exponential = clip.uniform(0.0, 1.0) < 0.5
    n_harm = clip.integer(1, 6)
    tilt = clip.uniform(0.5, 2.0)
    fade_power = clip.uniform(0.15, 1.0)
    start = clip.uniform(0.0, 1.0)
    amps, phases = _harmonic_amps(clip, tilt), _random_phases(clip)
    f_hi = f_lo * ratio
    if f_hi > 0.42 * clip.sample_rate:  # keep the sweep audible at low rates: move it down, same shape
        f_lo, f_hi = f_lo * 0.42 * clip.sample_rate / f_hi, 0.42 * clip.sample_rate
    n_sweeps = max(1, round(clip.duration / sweep))
    u = _sawtooth(clip, n_sweeps / clip.duration)  # position in the current sweep
    freq = u * (1.0 if rising else -1.0)
    if not rising:
        freq += 1.0
    if exponential:
        freq *= float(np.log(ratio))
        np.exp(freq, out=freq)
        freq *= f_lo
    else:
        freq *= f_hi - f_lo
        freq += f_lo
    table = _wavetable(_band_limit(_keep_first(amps, n_harm), f_hi, clip), phases)
    y = np.take(table, _index(_phase(freq, clip, start)))
    del freq
    # sin(pi u)**p fades every sweep in and out (and hides the jump back); p < 1 keeps it mostly flat.
    u *= np.pi
    np.sin(u, out=u)
    np.maximum(u, 1e-6, out=u)
    np.log(u, out=u)
    u *= fade_power
    y *= np.exp(u, out=u)
    return y


def _chirp_up(clip: _Clip) -> np.ndarray:
    return _chirp(clip, rising=True)


def _chirp_down(clip: _Clip) -> np.ndarray:
    return _chirp(clip, rising=False)


def _am_tone(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(100.0, 1500.0)
    n_harm = clip.integer(1, 10)
    tilt = clip.uniform(0.5, 2.0)
    rate = clip.loguniform(3.0, 40.0)
    depth = clip.uniform(0.6, 1.0)
    gamma = clip.loguniform(0.5, 4.0)
    start, mod_start = clip.uniform(0.0, 1.0), clip.uniform(0.0, 1.0)
    amps, phases = _harmonic_amps(clip, tilt), _random_phases(clip)
    table = _wavetable(_band_limit(_keep_first(amps, n_harm), f0, clip), phases)
    y = np.take(table, _index(_phase(f0, clip, start)))
    mod = _periodic(_pulse_table(gamma), rate, clip, mod_start)
    mod *= depth
    mod += 1.0 - depth
    y *= mod
    return y


def _fm_tone(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(200.0, 2000.0)
    rate = clip.loguniform(0.7, 12.0)
    depth = clip.uniform(1.0, 7.0)  # semitones, peak deviation
    triangle = clip.uniform(0.0, 1.0) < 0.5
    n_harm = clip.integer(1, 6)
    tilt = clip.uniform(0.5, 2.0)
    start, lfo_start = clip.uniform(0.0, 1.0), clip.uniform(0.0, 1.0)
    amps, phases = _harmonic_amps(clip, tilt), _random_phases(clip)
    f_max = f0 * 2 ** (depth / 12)
    if f_max > 0.42 * clip.sample_rate:
        f0, f_max = f0 * 0.42 * clip.sample_rate / f_max, 0.42 * clip.sample_rate
    freq = _lfo(clip, rate, lfo_start, triangle=triangle)
    freq *= depth * _LN2_12
    np.exp(freq, out=freq)
    freq *= f0
    table = _wavetable(_band_limit(_keep_first(amps, n_harm), f_max, clip), phases)
    return np.take(table, _index(_phase(freq, clip, start)))


def _rain_texture(clip: _Clip) -> np.ndarray:
    rate = clip.loguniform(300.0, 6000.0)
    spread = clip.uniform(0.15, 0.6)
    centre = min(clip.loguniform(1000.0, 6000.0), 0.3 * clip.sample_rate)
    width = clip.uniform(0.5, 1.5)
    hiss = clip.uniform(0.1, 1.0)  # power relative to the drops
    hiss_cut = clip.loguniform(1500.0, 6000.0)
    count = max(1, int(clip.rng.poisson(rate * clip.duration)))
    drops = (clip.rng.random(count) * clip.n).astype(np.int64)
    levels = np.exp(clip.rng.normal(0.0, spread, count))
    impulses = np.bincount(drops, weights=levels, minlength=clip.fft_size).astype(np.float32)
    spec = sp_fft.rfft(impulses)
    del impulses
    spec *= _log_band(clip, centre, width)
    noise = _noise_spectrum(clip)
    noise *= _pass(clip, hiss_cut, high=True)
    # Parseval: scale the hiss so that its power is `hiss` times the drops' power.
    noise *= float(np.sqrt(hiss * _energy(spec) / max(_energy(noise), 1e-30)))
    spec += noise
    return _to_time(spec, clip)


def _engine_hum(clip: _Clip) -> np.ndarray:
    firing = clip.loguniform(25.0, 120.0)  # Hz
    drift, drift_rate = clip.uniform(0.02, 0.15), clip.loguniform(0.3, 2.0)  # log-frequency sd, knots per s
    cutoff = clip.loguniform(200.0, 1500.0)
    uneven = clip.uniform(0.0, 0.5)  # level of the half-order harmonics (uneven cylinders)
    rumble, rumble_cut = clip.uniform(0.1, 0.7), clip.loguniform(100.0, 800.0)
    start = clip.uniform(0.0, 1.0)
    phases = _random_phases(clip)
    jitter = np.exp(clip.rng.uniform(-0.35, 0.35, _N_HARMONICS))
    base = firing / 2  # the table's fundamental: its odd harmonics are the half orders
    k = np.arange(1, _N_HARMONICS + 1)
    amps = jitter / (1.0 + (k * base / cutoff) ** 2)
    amps[0::2] *= uneven
    table = _wavetable(_band_limit(amps, base * np.exp(3 * drift), clip), phases)
    freq = _smooth_random(clip, drift_rate)
    np.clip(freq, -3.0, 3.0, out=freq)
    freq *= drift
    np.exp(freq, out=freq)
    freq *= base
    idx = _index(_phase(freq, clip, start))
    del freq
    y = np.take(table, idx)
    idx >>= _TABLE_BITS - _MOD_BITS - 1  # twice the phase: the firing rate
    idx &= (1 << _MOD_BITS) - 1
    mod = np.take(_pulse_table(2.0), idx)
    del idx
    spec = _noise_spectrum(clip)
    spec *= _pass(clip, rumble_cut, high=False)
    noise = _to_time(spec, clip)
    del spec
    mod *= 1.6
    mod += 0.2
    noise *= mod
    noise *= rumble * _rms(y) / max(_rms(noise), 1e-30)
    y += noise
    return y


def _wind_gusts(clip: _Clip) -> np.ndarray:
    centre = min(clip.loguniform(150.0, 1500.0), 0.3 * clip.sample_rate)
    width = clip.uniform(0.8, 2.0)  # octaves
    beta = clip.uniform(0.5, 1.5)
    gust_rate, gust_db = clip.loguniform(0.3, 3.0), clip.uniform(6.0, 20.0)
    whistle = clip.uniform(0.0, 0.5)  # level relative to the body
    whistle_f = clip.loguniform(400.0, 2500.0)
    whistle_bend = clip.uniform(0.0, 0.5)  # octaves of pitch rise per +-1 sd of gust
    start = clip.uniform(0.0, 1.0)
    spec = _noise_spectrum(clip)
    spec *= _log_band(clip, centre, width)
    spec *= _power_law(clip, centre, -beta / 2, 0.0)
    y = _to_time(spec, clip)
    del spec
    gust = _smooth_random(clip, gust_rate)
    np.clip(gust, -2.5, 2.5, out=gust)
    # The whistle is a tone whose pitch and level rise with the gusts, as wind in a gap does.
    f_max = min(whistle_f * 2 ** (2.5 * whistle_bend), clip.nyquist_safe)
    freq = gust * (whistle_bend * float(np.log(2.0)))
    np.exp(freq, out=freq)
    freq *= whistle_f
    np.minimum(freq, f_max, out=freq)
    tone = np.take(_SINE_TABLE, _index(_phase(freq, clip, start), _MOD_BITS))
    del freq
    gust *= gust_db * _LN10_20 / 2  # +-2 sd spans gust_db
    np.exp(gust, out=gust)
    tone *= gust
    tone *= whistle * _rms(y) / max(_rms(tone), 1e-30)
    y += tone
    y *= gust
    return y


def _formant_gain(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude ``(K,)`` of a cascade of second-order resonances (``formants``, Hz) at ``freqs`` ``(K,)``."""
    f = freqs[:, None]
    gain = formants**2 / np.sqrt((formants**2 - f**2) ** 2 + (bandwidths * f) ** 2)
    return gain.prod(axis=1)


def _vowel_voice(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(85.0, 320.0)
    contour, contour_rate = clip.uniform(0.5, 3.0), clip.loguniform(2.0, 6.0)  # semitones (sd), knots per s
    declination = clip.uniform(-3.0, 0.0)  # semitones over the clip
    source_tilt = clip.uniform(1.0, 2.0)
    vowels = [
        np.array([clip.uniform(300.0, 850.0), clip.uniform(850.0, 2400.0), clip.uniform(2200.0, 3300.0)])
        for _ in range(2)
    ]
    bandwidths = clip.rng.uniform(60.0, 150.0, 3)
    morph_rate = clip.loguniform(1.0, 5.0)
    syllable_rate, syllable_depth = clip.loguniform(2.5, 7.0), clip.uniform(0.3, 1.0)
    start, syllable_start = clip.uniform(0.0, 1.0), clip.uniform(0.0, 1.0)
    phases = _random_phases(clip)
    k = np.arange(1, _N_HARMONICS + 1)
    f_max = f0 * 2 ** (3 * contour / 12)
    tables = [
        _wavetable(_band_limit(k**-source_tilt * _formant_gain(k * f0, v, bandwidths), f_max, clip), phases)
        for v in vowels
    ]
    freq = _smooth_random(clip, contour_rate)
    np.clip(freq, -3.0, 3.0, out=freq)
    freq *= contour
    freq += clip.t * (declination / clip.duration)
    freq *= _LN2_12
    np.exp(freq, out=freq)
    freq *= f0
    idx = _index(_phase(freq, clip, start))
    del freq
    y = np.take(tables[1], idx)
    a = np.take(tables[0], idx)
    del idx
    y -= a
    morph = _smooth_random(clip, morph_rate)
    np.tanh(morph, out=morph)
    morph *= 0.5
    morph += 0.5
    y *= morph
    y += a
    del a, morph
    syllables = _periodic(_pulse_table(1.0), syllable_rate, clip, syllable_start)
    syllables *= syllable_depth
    syllables += 1.0 - syllable_depth
    y *= syllables
    return y


_GENERATORS: dict[str, Callable[[_Clip], np.ndarray]] = {
    "harmonic_tone": _harmonic_tone,
    "inharmonic_bell": _inharmonic_bell,
    "noise_band": _noise_band,
    "click_train": _click_train,
    "chirp_up": _chirp_up,
    "chirp_down": _chirp_down,
    "am_tone": _am_tone,
    "fm_tone": _fm_tone,
    "rain_texture": _rain_texture,
    "engine_hum": _engine_hum,
    "wind_gusts": _wind_gusts,
    "vowel_voice": _vowel_voice,
}
if tuple(_GENERATORS) != SYNTHETIC_CLASSES:  # pragma: no cover - guards an edit that forgets one of them
    raise RuntimeError("_GENERATORS and SYNTHETIC_CLASSES disagree")


# ------------------------------------------------------------------------------------ shared nuisances


_KAPPAS = np.concatenate([[0.0], np.geomspace(0.02, 200.0, 48)])  # decays tried by the envelope (per event)


@dataclass
class _Envelope:
    """A class-independent amplitude envelope: one to four equal events, each a linear attack, an exponential
    decay ``exp(-kappa x)`` (``x`` in events after the attack) and a linear release; event levels +-2.6 dB.

    ``kappa`` is solved for the crest factor the envelope must add to a clip (``for_crest``).
    """

    levels: np.ndarray  # (events,)
    attack: float  # s
    release: float  # s

    @classmethod
    def draw(cls, clip: _Clip) -> _Envelope:
        several, n_several = clip.uniform(0.0, 1.0) < 0.5, clip.integer(2, 4)
        levels = np.exp(clip.rng.uniform(-0.3, 0.3, 4))[: n_several if several else 1]
        slot = clip.duration / levels.size
        attack = clip.loguniform(0.002, max(0.003, 0.3 * slot))
        release = clip.loguniform(0.005, max(0.006, 0.3 * slot))
        return cls(levels=levels, attack=attack, release=release)

    def crest_table(self, duration: float) -> np.ndarray:
        """Crest factor (dB) of the whole envelope for every decay in ``_KAPPAS``: ``(len(_KAPPAS),)``, rising.

        Evaluated on 200 points per event (the events are equal up to their level).
        """
        slot = duration / self.levels.size
        x = (np.arange(200) + 0.5) * (slot / 200)
        ramps = np.minimum(x / self.attack, 1.0) * np.minimum((slot - x) / self.release, 1.0)
        shape = ramps * np.exp(np.outer(_KAPPAS, -np.maximum(x - self.attack, 0.0) / max(slot - self.attack, 1e-6)))
        peak2 = np.max(self.levels) ** 2 * np.max(shape, axis=1) ** 2
        mean2 = np.mean(self.levels**2) * np.mean(shape * shape, axis=1)
        return np.maximum.accumulate(10 * np.log10(peak2 / mean2))

    def for_crest(self, crest_db: float, table: np.ndarray) -> float:
        """The decay ``kappa`` that gives a crest factor of ``crest_db`` (0 where the ramps alone give more)."""
        return float(np.interp(crest_db, table, _KAPPAS))

    def render(self, clip: _Clip, kappa: float) -> np.ndarray:
        """The envelope ``(n,)`` float32."""
        events = self.levels.size
        slot_n = -(-clip.n // events)
        slot = clip.duration / events
        n_attack = min(slot_n, max(1, round(self.attack * clip.sample_rate)))
        n_release = min(slot_n - n_attack, max(1, round(self.release * clip.sample_rate)))
        env = clip.t[:slot_n] - self.attack
        np.maximum(env, 0.0, out=env)
        env *= -kappa / max(slot - self.attack, 1e-6)
        np.exp(env, out=env)
        env[:n_attack] *= np.arange(n_attack, dtype=np.float32) * (1.0 / n_attack)
        if n_release > 0:
            env[slot_n - n_release :] *= np.arange(n_release, 0, -1, dtype=np.float32) * (1.0 / n_release)
        if events == 1:
            return env
        out = np.empty((events, slot_n), dtype=np.float32)
        out[:] = env
        out *= self.levels.astype(np.float32)[:, None]
        return out.ravel()[: clip.n]


def _crest_db(x: np.ndarray) -> float:
    """Crest factor (peak over RMS) of ``x`` in dB."""
    return float(20 * np.log10(max(float(np.max(np.abs(x))), 1e-30) / max(_rms(x), 1e-30)))


def _limit_to_crest(x: np.ndarray, crest_db: float, max_reduction_db: float) -> np.ndarray:
    """Soft-limit ``x`` ``(n,)`` in place, ``theta * tanh(x / theta)``, to a crest factor of about ``crest_db``.

    ``theta`` is interpolated from the crest factors that 16 thresholds give on a strided subsample (limiting
    lowers the RMS as well as the peak); the peak is brought down by at most ``max_reduction_db``.
    """
    peak = float(np.max(np.abs(x)))
    sub = x[:: max(1, x.size // 2048)]
    reductions = np.linspace(0.0, max_reduction_db, 16)
    thetas = peak * 10 ** (-reductions / 20)
    limited = np.tanh(np.outer((1.0 / thetas).astype(np.float32), sub))
    limited *= thetas.astype(np.float32)[:, None]
    rms = np.sqrt(np.mean(limited * limited, axis=1))
    crests = 20 * np.log10(thetas * np.tanh(peak / thetas) / np.maximum(rms, 1e-30))
    # crests fall with the reduction; interpolate the reduction that reaches crest_db
    reduction = float(np.interp(-crest_db, -np.minimum.accumulate(crests), reductions))
    theta = peak * 10 ** (-reduction / 20)
    x *= 1.0 / theta
    np.tanh(x, out=x)
    x *= theta
    return x


def _background(clip: _Clip) -> np.ndarray:
    """Unit-RMS background noise ``(n,)`` float32 with a 1/f^beta power spectrum, beta in [0, 1.5]."""
    beta = clip.uniform(0.0, 1.5)
    low_cut = clip.loguniform(20.0, 80.0)
    spec = _noise_spectrum(clip)
    spec *= _power_law(clip, 1000.0, -beta / 2, low_cut)
    y = _to_time(spec, clip)
    y *= 1.0 / max(_rms(y), 1e-30)
    return y


# ------------------------------------------------------------------------------------------ the source set


class SyntheticSource(SourceSet):
    """Procedural sound classes (``SYNTHETIC_CLASSES``), deterministic from ``seed``; needs no download.

    Args:
        seed: seed of the listing (labels) and of every clip; >= 0.
        splits: clips per split, ``{name: count}``, in the order ``splits()`` returns them.
        min_duration, max_duration: clip durations are log-uniform in this range (seconds).
        silence_peak: peak below which a clip counts as silent (``check_waveform``); generated clips have
            peaks in ``PEAK_RANGE``, so this only guards against a bug.
    """

    kind = "synthetic"

    def __init__(
        self,
        *,
        seed: int = 0,
        splits: dict[str, int],
        min_duration: float = 0.3,
        max_duration: float = 5.0,
        silence_peak: float = 1e-4,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        if not isinstance(splits, dict) or not splits:
            raise ValueError(f"splits must be a non-empty {{name: count}} mapping, got {splits!r}")
        for name, count in splits.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"split names must be non-empty strings, got {name!r}")
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
                raise ValueError(f"splits[{name!r}] must be an integer >= 1 clip, got {count!r}")
        if not (np.isfinite(min_duration) and np.isfinite(max_duration)):
            raise ValueError(f"durations must be finite, got [{min_duration}, {max_duration}]")
        if min_duration < MIN_CLIP_DURATION:
            raise ValueError(f"min_duration must be >= {MIN_CLIP_DURATION} s, got {min_duration}")
        if max_duration < min_duration:
            raise ValueError(f"need min_duration <= max_duration, got [{min_duration}, {max_duration}]")
        if not 0.0 <= silence_peak < PEAK_RANGE[0]:
            raise ValueError(f"silence_peak must be in [0, {PEAK_RANGE[0]}), got {silence_peak}")
        self.seed = int(seed)
        self.split_sizes = {name: int(count) for name, count in splits.items()}
        self.min_duration = float(min_duration)
        self.max_duration = float(max_duration)
        self.silence_peak = float(silence_peak)
        self._labels = {name: self._draw_labels(name, count) for name, count in self.split_sizes.items()}

    def __repr__(self) -> str:
        return (
            f"SyntheticSource(seed={self.seed}, splits={self.split_sizes}, min_duration={self.min_duration}, "
            f"max_duration={self.max_duration}, silence_peak={self.silence_peak})"
        )

    @property
    def class_names(self) -> tuple[str, ...]:
        return SYNTHETIC_CLASSES

    def _draw_labels(self, split: str, count: int) -> np.ndarray:
        """Balanced labels ``(count,)``: round-robin over the classes, shuffled by ``(seed, split)``."""
        rng = np.random.default_rng(np.random.SeedSequence([_TAG_LABELS, self.seed, _split_key(split)]))
        return rng.permutation(np.arange(count) % len(SYNTHETIC_CLASSES))

    def _source_id(self, split: str, index: int) -> str:
        return f"synthetic:seed={self.seed}:split={split}:index={index}"

    def splits(self) -> dict[str, list[ClipRef]]:
        return {
            split: [
                ClipRef(split=split, index=i, label=int(label), source_id=self._source_id(split, i))
                for i, label in enumerate(labels)
            ]
            for split, labels in self._labels.items()
        }

    def load(self, ref: ClipRef, *, sample_rate: int) -> np.ndarray:
        """Generate the clip ``ref`` as mono float32 ``(samples,)`` at ``sample_rate`` (Hz, >= 8000).

        The same ``ref`` always gives bit-identical samples; its duration in seconds does not depend on the rate.

        Raises:
            ValueError: ``sample_rate`` below ``MIN_SAMPLE_RATE``.
            SourceError: ``ref`` is not a clip of this source set (unknown split, index or label).
        """
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
            raise ValueError(f"sample_rate must be an integer, got {sample_rate!r}")
        if sample_rate < MIN_SAMPLE_RATE:
            raise ValueError(f"sample_rate must be >= {MIN_SAMPLE_RATE} Hz, got {sample_rate}")
        labels = self._labels.get(ref.split)
        if labels is None:
            raise SourceError(f"{ref.source_id}: unknown split {ref.split!r}; this source has {list(self._labels)}")
        if not 0 <= ref.index < labels.size:
            raise SourceError(f"{ref.source_id}: index {ref.index} out of range for split {ref.split!r}")
        if ref.label != labels[ref.index]:
            raise SourceError(f"{ref.source_id}: label {ref.label} does not match the listing ({labels[ref.index]})")
        return self._generate(ref.split, ref.index, int(labels[ref.index]), int(sample_rate))

    def _generate(self, split: str, index: int, label: int, sample_rate: int) -> np.ndarray:
        seq = np.random.SeedSequence([_TAG_CLIP, self.seed, _split_key(split), index])
        param_seq, noise_seq = seq.spawn(2)
        rng = np.random.default_rng(param_seq)
        duration = float(np.exp(rng.uniform(np.log(self.min_duration), np.log(self.max_duration))))
        n = max(1, round(duration * sample_rate))
        clip = _Clip(rng=rng, noise=np.random.default_rng(noise_seq), sample_rate=sample_rate, duration=duration, n=n)
        signal = _GENERATORS[SYNTHETIC_CLASSES[label]](clip)
        # Steer the crest factor (peak / RMS) to a class-independent target, so that after peak normalisation
        # the level says nothing about the class: limit peaky sounds, give steady ones a decaying envelope.
        target = clip.uniform(*CREST_RANGE_DB)
        envelope = _Envelope.draw(clip)
        table = envelope.crest_table(duration)
        crest = _crest_db(signal)
        if crest > target - table[0] and SYNTHETIC_CLASSES[label] in _LIMITED_CLASSES:
            _limit_to_crest(signal, target - table[0], MAX_LIMITING_DB)
            crest = _crest_db(signal)
        extra = target - crest
        shaped = envelope.render(clip, envelope.for_crest(extra, table))
        shaped *= signal
        shortfall = target - _crest_db(shaped)  # a noise's peak over a short decay is lower than over the clip
        if shortfall > 0.5:
            shaped = envelope.render(clip, envelope.for_crest(extra + shortfall, table))
            shaped *= signal
        signal = shaped
        snr_db = clip.uniform(*SNR_RANGE_DB)
        peak = clip.uniform(*PEAK_RANGE)
        noise = _background(clip)
        noise *= _rms(signal) * 10 ** (-snr_db / 20)
        signal += noise
        del noise
        signal *= peak / max(float(np.max(np.abs(signal))), 1e-30)
        return check_waveform(signal, source_id=self._source_id(split, index), silence_peak=self.silence_peak)
