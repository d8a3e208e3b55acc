"""The built-in procedural source set: distinct sound classes, generated on the fly, no download needed.

Every clip is regenerated from ``(seed, split name, index)``: the same config gives the same listing and
bit-identical samples in every process, so ``simulate build`` workers need no shared state. Split sizes are
arguments, so one generator makes a 20-clip test set and a full-size stand-in for FSDnoisy18k
(``noisy_train`` 15,813 / ``clean_train`` 1,772 / ``test`` 947 clips, 0.3 s to 5 s here).

Classes (``SYNTHETIC_CLASSES``, indexed by ``ClipRef.label``):

=================  =========================================================================================
class              how a clip is made (every range is drawn per clip)
=================  =========================================================================================
harmonic_tone      harmonic series, f0 80-1000 Hz, random spectral tilt, odd/even balance and phases, light
                   vibrato (<= 0.3 semitone), brightness that fades from a bright to a dull timbre
inharmonic_bell    5-8 exponentially decaying partials at bell, bar or membrane ratios (jittered) of a base
                   150-1200 Hz, higher partials decaying faster, short noise strike
noise_band         Gaussian noise through a log-Gaussian band, centre 150-6000 Hz, 0.1-0.8 octave wide
click_train        3-40 clicks/s with timing jitter, each a damped resonance (400-5000 Hz, 0.5-8 ms decay)
                   mixed with a noise burst, per-click level and pitch variation
chirp_up           1..n rising sweeps (exponential or linear), 120-1500 Hz start, 0.6-2.6 octaves, 1-6
                   harmonics, each sweep faded in and out
chirp_down         the same, falling
am_tone            1-10 harmonics, f0 100-1500 Hz, amplitude-modulated at 3-40 Hz, depth 0.6-1, random
                   pulse shape
fm_tone            siren/warble: 1-6 harmonics, f0 200-2000 Hz, frequency-modulated at 0.7-12 Hz by 1-7
                   semitones (sine or triangle)
rain_texture       Poisson drops (80-3000 /s, log-normal levels) through a broad band at 1-6 kHz, plus hiss
engine_hum         pulse-like harmonic series at half the firing rate (firing 25-120 Hz, drifting), low-pass
                   timbre, uneven cylinders, rumble noise modulated at the firing rate
wind_gusts         low/band-pass coloured noise under a slow random gust envelope (6-20 dB), optional
                   whistle band that follows the gusts
vowel_voice        glottal-like harmonic source, f0 85-320 Hz with intonation, three formants, cross-fades
                   between two vowels, syllable-rate amplitude modulation
=================  =========================================================================================

Every clip then gets class-independent nuisances so that no class is identifiable from duration or level:
a duration log-uniform in ``[min_duration, max_duration]``, a random envelope (attack, release, dB-linear
decay), background noise of random colour (1/f^beta, beta in [0, 1.5]) at a random SNR of 10-40 dB, and a
peak normalised to a random value in [0.5, 0.9]. Frequencies overlap across classes; every partial stays
below 0.45 x the sample rate (no aliasing at any rate >= 8 kHz).
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

_MAX_PARTIAL = 0.45  # highest partial allowed, as a fraction of the sample rate
_TABLE_SIZE = 1 << 16  # single-cycle wavetables: nearest-sample lookup error < -40 dB at harmonic 64
_N_HARMONICS = 64  # harmonics drawn for every table, so the draw count never depends on the sample rate
# Domain tags keep the label and clip seed sequences apart (SeedSequence([a, b]) == SeedSequence([a, b, 0])).
_TAG_LABELS = 0x5EED_1AB
_TAG_CLIP = 0x5EED_C11


def _split_key(split: str) -> int:
    """A stable 32-bit key of a split name (Python's ``hash`` is salted per process)."""
    return zlib.crc32(split.encode("utf-8"))


@dataclass
class _Clip:
    """What a class generator needs: the clip's length and its two random streams.

    ``rng`` draws parameters and events; its draws depend only on the duration, never on the sample rate, so a
    clip is the same sound at every rate. ``noise`` draws sample-level noise, whose length depends on the rate.
    """

    rng: np.random.Generator
    noise: np.random.Generator
    sample_rate: int
    duration: float
    n: int

    @cached_property
    def t(self) -> np.ndarray:
        """Sample times in seconds ``(n,)``, float32 (for envelopes and sub-audio modulators)."""
        return np.arange(self.n, dtype=np.float32) / np.float32(self.sample_rate)

    @property
    def nyquist_safe(self) -> float:
        """The highest frequency a partial may have (Hz)."""
        return _MAX_PARTIAL * self.sample_rate

    def loguniform(self, low: float, high: float) -> float:
        return float(np.exp(self.rng.uniform(np.log(low), np.log(high))))

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))


# ----------------------------------------------------------------------------------------------- helpers


def _wavetable(amps: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """One cycle ``(_TABLE_SIZE,)`` float32 holding harmonic ``k`` (1-based) at ``amps[k-1]``, ``phases[k-1]``."""
    spec = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spec[1 : amps.size + 1] = amps * np.exp(1j * phases) * (_TABLE_SIZE / 2)
    return sp_fft.irfft(spec, _TABLE_SIZE).astype(np.float32)


def _band_limit(amps: np.ndarray, f_max: float, clip: _Clip) -> np.ndarray:
    """Zero the harmonics ``k`` whose frequency ``k * f_max`` would pass the Nyquist-safe limit."""
    k = np.arange(1, amps.size + 1)
    return np.where(k * f_max <= clip.nyquist_safe, amps, 0.0)


def _phase(freq: np.ndarray | float, clip: _Clip, phase0: float) -> np.ndarray:
    """Phase in cycles ``(n,)`` float64 of an oscillator with instantaneous frequency ``freq`` (Hz)."""
    if np.isscalar(freq):
        return np.arange(clip.n, dtype=np.float64) * (float(freq) / clip.sample_rate) + phase0
    return np.cumsum(freq, dtype=np.float64) * (1.0 / clip.sample_rate) + phase0


def _lookup(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Read a wavetable ``(_TABLE_SIZE,)`` at ``phase`` (cycles, >= 0, ``(n,)``): ``(n,)`` float32."""
    idx = (phase * _TABLE_SIZE).astype(np.int64) & (_TABLE_SIZE - 1)
    return np.take(table, idx)


def _smooth_random(clip: _Clip, rate_hz: float) -> np.ndarray:
    """Zero-mean unit-variance random curve ``(n,)`` float32, piecewise linear between knots at ``rate_hz``."""
    knots = int(np.ceil(clip.duration * rate_hz)) + 2
    values = clip.rng.standard_normal(knots)
    return np.interp(clip.t, np.arange(knots) / rate_hz, values).astype(np.float32)


def _noise_spectrum(clip: _Clip, size: int) -> np.ndarray:
    """Random half spectrum ``(size // 2 + 1,)`` complex64 for a real noise of ``size`` samples.

    Uniform real and imaginary parts: the inverse transform is Gaussian by the central limit theorem, at a
    fraction of the cost of Gaussian draws.
    """
    bins = size // 2 + 1
    return (clip.noise.random(2 * bins, dtype=np.float32) - np.float32(0.5)).view(np.complex64)


def _fft_size(clip: _Clip) -> int:
    return sp_fft.next_fast_len(clip.n, real=True)


def _bin_freqs(size: int, clip: _Clip) -> np.ndarray:
    """Frequencies (Hz) ``(size // 2 + 1,)`` float32 of a real FFT of ``size`` samples."""
    return np.arange(size // 2 + 1, dtype=np.float32) * np.float32(clip.sample_rate / size)


def _log_band(freqs: np.ndarray, centre: float, octaves: float) -> np.ndarray:
    """Log-Gaussian band gain ``(bins,)``: 1 at ``centre``, standard deviation ``octaves`` (in octaves)."""
    with np.errstate(divide="ignore"):
        dist = np.log2(freqs / np.float32(centre)) / np.float32(octaves)
    return np.exp(np.float32(-0.5) * dist * dist)


def _shaped_noise(clip: _Clip, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Noise ``(n,)`` float32 with amplitude spectrum ``gain(freqs)``, made in the frequency domain."""
    size = _fft_size(clip)
    spec = _noise_spectrum(clip, size) * gain(_bin_freqs(size, clip))
    return sp_fft.irfft(spec, size)[: clip.n].astype(np.float32, copy=False)


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


def _pulse_table(gamma: float) -> np.ndarray:
    """One cycle ``(_TABLE_SIZE,)`` float32 of the modulator ``(0.5 - 0.5 cos)**gamma``, in [0, 1]."""
    x = np.arange(_TABLE_SIZE) * (2 * np.pi / _TABLE_SIZE)
    return ((0.5 - 0.5 * np.cos(x)) ** gamma).astype(np.float32)


# --------------------------------------------------------------------------------------------- the classes


def _harmonic_tone(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(80.0, 1000.0)
    tilt = clip.uniform(0.6, 2.0)
    even_gain = clip.uniform(0.15, 1.0)
    vib_rate, vib_depth = clip.uniform(4.0, 7.0), clip.uniform(0.0, 0.3)  # Hz, semitones
    vib_phase = clip.uniform(0.0, 2 * np.pi)
    fade = clip.loguniform(0.05, 3.0)  # s, bright -> dull
    amps = _harmonic_amps(clip, tilt)
    amps[1::2] *= even_gain
    phases = _random_phases(clip)
    f_max = f0 * 2 ** (vib_depth / 12)
    bright = _wavetable(_band_limit(amps, f_max, clip), phases)
    dull = _wavetable(_band_limit(amps * np.arange(1, _N_HARMONICS + 1) ** -1.5, f_max, clip), phases)
    vib = np.sin(np.float32(2 * np.pi * vib_rate) * clip.t + np.float32(vib_phase))
    freq = np.float32(f0) * np.exp2(np.float32(vib_depth / 12) * vib)
    phase = _phase(freq, clip, clip.uniform(0.0, 1.0))
    w = np.exp(clip.t * np.float32(-1.0 / fade))
    lo = _lookup(dull, phase)
    return lo + w * (_lookup(bright, phase) - lo)


_BELL_RATIOS = (
    np.array([0.5, 1.0, 1.183, 1.506, 2.0, 2.514, 2.662, 3.011]),  # church bell
    np.array([1.0, 2.756, 5.404, 8.933, 13.34, 18.64, 24.81, 31.87]),  # free bar
    np.array([1.0, 1.594, 2.136, 2.296, 2.653, 2.918, 3.156, 3.501]),  # circular membrane
    np.array([1.0, 1.41, 1.73, 2.0, 2.24, 2.45, 2.65, 2.83]),  # plate (sqrt series)
)


def _inharmonic_bell(clip: _Clip) -> np.ndarray:
    family = _BELL_RATIOS[int(clip.rng.integers(len(_BELL_RATIOS)))]
    base = clip.loguniform(150.0, 1200.0)
    count = int(clip.rng.integers(5, 9))
    ratios = family * np.exp(clip.rng.normal(0.0, 0.015, family.size))
    amps = clip.rng.uniform(0.2, 1.0, family.size) * ratios ** -clip.uniform(0.0, 1.0)
    phases = clip.rng.uniform(0.0, 2 * np.pi, family.size)
    t60 = clip.loguniform(0.3, 6.0) * (ratios / ratios[0]) ** -clip.uniform(0.3, 1.0)  # s
    strike_gain, strike_decay = clip.uniform(0.0, 0.5), clip.loguniform(0.001, 0.01)
    freqs = base * ratios
    keep = (np.arange(family.size) < count) & (freqs <= clip.nyquist_safe)
    keep[np.argmin(freqs)] = True  # the lowest partial is always below the limit (base <= 1200 Hz)
    freqs, amps, phases, t60 = freqs[keep], amps[keep], phases[keep], t60[keep]
    # sum_k a_k exp(s_k m), s_k = -decay + j omega, evaluated as blocks: m = block * q + r.
    s = -np.log(1000.0) / (t60 * clip.sample_rate) + 2j * np.pi * freqs / clip.sample_rate
    block = 256
    rows = -(-clip.n // block)
    inner = np.exp(np.outer(np.arange(block), s))  # (block, K)
    outer = amps * np.exp(1j * phases) * np.exp(np.outer(np.arange(rows) * block, s))  # (rows, K)
    lhs = np.concatenate([outer.real, -outer.imag], axis=1).astype(np.float32)
    rhs = np.concatenate([inner.real, inner.imag], axis=1).T.astype(np.float32)
    y = np.einsum("qk,kb->qb", lhs, rhs).ravel()[: clip.n]
    n_strike = min(clip.n, int(8 * strike_decay * clip.sample_rate) + 1)
    strike = clip.noise.uniform(-1.0, 1.0, n_strike) * np.exp(-clip.t[:n_strike] / np.float32(strike_decay))
    y[:n_strike] += np.float32(strike_gain * np.abs(amps).sum()) * strike.astype(np.float32)
    return y


def _noise_band(clip: _Clip) -> np.ndarray:
    centre = min(clip.loguniform(150.0, 6000.0), 0.35 * clip.sample_rate)
    width = clip.uniform(0.1, 0.8)
    return _shaped_noise(clip, lambda f: _log_band(f, centre, width))


def _click_train(clip: _Clip) -> np.ndarray:
    rate = clip.loguniform(3.0, 40.0)
    jitter = clip.uniform(0.0, 0.3)
    centre = clip.loguniform(400.0, 5000.0)
    decay = clip.loguniform(0.0005, 0.008)  # s
    noisiness = clip.uniform(0.0, 1.0)
    level_spread, pitch_spread = clip.uniform(0.0, 0.5), clip.uniform(0.0, 0.1)
    count = max(1, int(clip.duration * rate))
    times = (np.arange(count) + 0.5 + clip.rng.uniform(-jitter, jitter, count)) / rate
    times = np.clip(times * (clip.duration / (count / rate)), 0.0, clip.duration)
    levels = np.exp(clip.rng.normal(0.0, level_spread, count))
    pitches = np.minimum(centre * np.exp(clip.rng.normal(0.0, pitch_spread, count)), 0.4 * clip.sample_rate)
    length = int(6 * decay * clip.sample_rate) + 1
    tk = np.arange(length) / clip.sample_rate
    tone = np.sin(2 * np.pi * np.outer(pitches, tk))
    burst = clip.noise.uniform(-1.0, 1.0, (count, length))
    kernels = (levels[:, None] * np.exp(-tk / decay)) * ((1.0 - noisiness) * tone + noisiness * burst)
    idx = np.round(times * clip.sample_rate).astype(np.int64)[:, None] + np.arange(length)
    inside = idx < clip.n
    out = np.bincount(idx[inside], weights=kernels[inside], minlength=clip.n)
    return out.astype(np.float32)


def _chirp(clip: _Clip, *, rising: bool) -> np.ndarray:
    f_lo = clip.loguniform(120.0, 1500.0)
    ratio = clip.loguniform(1.5, 6.0)
    sweep = clip.loguniform(0.25, 3.0)  # s, nominal length of one sweep
    exponential = clip.rng.random() < 0.5
    n_harm = int(clip.rng.integers(1, 7))
    tilt = clip.uniform(0.5, 2.0)
    fade_power = clip.uniform(0.15, 1.0)
    amps, phases = _harmonic_amps(clip, tilt), _random_phases(clip)
    f_hi = f_lo * ratio
    if f_hi > 0.42 * clip.sample_rate:  # keep the sweep audible at low rates: move it down, same shape
        f_lo, f_hi = f_lo * 0.42 * clip.sample_rate / f_hi, 0.42 * clip.sample_rate
    n_sweeps = max(1, round(clip.duration / sweep))
    u = clip.t * np.float32(n_sweeps / clip.duration)
    u -= np.floor(u)  # position in the current sweep, [0, 1)
    pos = u if rising else np.float32(1.0) - u
    if exponential:
        freq = np.float32(f_lo) * np.exp(np.float32(np.log(ratio)) * pos)
    else:
        freq = np.float32(f_lo) + np.float32(f_hi - f_lo) * pos
    table = _wavetable(_band_limit(_keep_first(amps, n_harm), f_hi, clip), phases)
    y = _lookup(table, _phase(freq, clip, clip.uniform(0.0, 1.0)))
    # sin(pi u)**p fades every sweep in and out (hides the jump back); p < 1 keeps it mostly flat.
    return y * np.exp(np.float32(fade_power) * np.log(np.maximum(np.sin(np.float32(np.pi) * u), 1e-6)))


def _chirp_up(clip: _Clip) -> np.ndarray:
    return _chirp(clip, rising=True)


def _chirp_down(clip: _Clip) -> np.ndarray:
    return _chirp(clip, rising=False)


def _am_tone(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(100.0, 1500.0)
    n_harm = int(clip.rng.integers(1, 11))
    tilt = clip.uniform(0.5, 2.0)
    rate = clip.loguniform(3.0, 40.0)
    depth = clip.uniform(0.6, 1.0)
    gamma = clip.loguniform(0.5, 4.0)
    amps, phases = _harmonic_amps(clip, tilt), _random_phases(clip)
    table = _wavetable(_band_limit(_keep_first(amps, n_harm), f0, clip), phases)
    y = _lookup(table, _phase(f0, clip, clip.uniform(0.0, 1.0)))
    mod = _lookup(_pulse_table(gamma), _phase(rate, clip, clip.uniform(0.0, 1.0)))
    return y * (np.float32(1.0 - depth) + np.float32(depth) * mod)


def _fm_tone(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(200.0, 2000.0)
    rate = clip.loguniform(0.7, 12.0)
    depth = clip.uniform(1.0, 7.0)  # semitones, peak deviation
    triangle = clip.rng.random() < 0.5
    n_harm = int(clip.rng.integers(1, 7))
    tilt = clip.uniform(0.5, 2.0)
    amps, phases = _harmonic_amps(clip, tilt), _random_phases(clip)
    f_max = f0 * 2 ** (depth / 12)
    if f_max > 0.42 * clip.sample_rate:
        f0, f_max = f0 * 0.42 * clip.sample_rate / f_max, 0.42 * clip.sample_rate
    u = clip.t * np.float32(rate) + np.float32(clip.uniform(0.0, 1.0))
    u -= np.floor(u)
    lfo = (np.float32(1.0) - np.float32(4.0) * np.abs(u - np.float32(0.5))) if triangle else np.sin(
        np.float32(2 * np.pi) * u
    )
    freq = np.float32(f0) * np.exp2(np.float32(depth / 12) * lfo)
    table = _wavetable(_band_limit(_keep_first(amps, n_harm), f_max, clip), phases)
    return _lookup(table, _phase(freq, clip, clip.uniform(0.0, 1.0)))


def _rain_texture(clip: _Clip) -> np.ndarray:
    rate = clip.loguniform(80.0, 3000.0)
    spread = clip.uniform(0.5, 1.2)
    centre = min(clip.loguniform(1000.0, 6000.0), 0.3 * clip.sample_rate)
    width = clip.uniform(0.5, 1.5)
    hiss = clip.uniform(0.05, 0.6)
    hiss_cut = clip.loguniform(2000.0, 8000.0)
    count = max(1, int(clip.rng.poisson(rate * clip.duration)))
    drops = np.minimum((clip.rng.random(count) * clip.n).astype(np.int64), clip.n - 1)
    levels = np.exp(clip.rng.normal(0.0, spread, count))
    size = _fft_size(clip)
    spec = sp_fft.rfft(np.bincount(drops, weights=levels, minlength=size).astype(np.float32))
    freqs = _bin_freqs(size, clip)
    spec *= _log_band(freqs, centre, width)
    noise = _noise_spectrum(clip, size) * (np.float32(1.0) - _log_band(freqs, hiss_cut, 1.5))
    # Parseval: scale the hiss so its power is `hiss` times the drops' power.
    scale = np.sqrt(hiss * np.vdot(spec, spec).real / max(np.vdot(noise, noise).real, 1e-30))
    spec += np.float32(scale) * noise
    return sp_fft.irfft(spec, size)[: clip.n].astype(np.float32, copy=False)


def _engine_hum(clip: _Clip) -> np.ndarray:
    firing = clip.loguniform(25.0, 120.0)
    drift = clip.uniform(0.02, 0.15)  # log-frequency standard deviation
    drift_rate = clip.loguniform(0.3, 2.0)
    cutoff = clip.loguniform(200.0, 1500.0)
    uneven = clip.uniform(0.0, 0.5)  # level of the half-order harmonics (uneven cylinders)
    rumble, rumble_cut = clip.uniform(0.1, 0.7), clip.loguniform(100.0, 800.0)
    phases = _random_phases(clip)
    jitter = np.exp(clip.rng.uniform(-0.35, 0.35, _N_HARMONICS))
    base = firing / 2  # the table's fundamental: half-order harmonics are its odd ones
    k = np.arange(1, _N_HARMONICS + 1)
    amps = jitter / (1.0 + (k * base / cutoff) ** 2)
    amps[0::2] *= uneven
    f_max = base * np.exp(3 * drift)
    table = _wavetable(_band_limit(amps, f_max, clip), phases)
    freq = np.float32(base) * np.exp(np.float32(drift) * np.clip(_smooth_random(clip, drift_rate), -3.0, 3.0))
    phase = _phase(freq, clip, clip.uniform(0.0, 1.0))
    y = _lookup(table, phase)
    noise = _shaped_noise(clip, lambda f: np.float32(1.0) / (np.float32(1.0) + (f / np.float32(rumble_cut)) ** 2))
    firing_mod = _lookup(_pulse_table(2.0), 2.0 * phase)  # at the firing rate
    noise *= np.float32(rumble * np.sqrt(np.mean(y * y) / max(float(np.mean(noise * noise)), 1e-30)))
    return y + noise * (np.float32(0.2) + np.float32(1.6) * firing_mod)


def _wind_gusts(clip: _Clip) -> np.ndarray:
    centre = clip.loguniform(150.0, 1500.0)
    width = clip.uniform(0.8, 2.0)
    beta = clip.uniform(0.5, 1.5)
    gust_rate = clip.loguniform(0.3, 3.0)
    gust_db = clip.uniform(6.0, 20.0)
    whistle, whistle_f, whistle_w = clip.uniform(0.0, 0.6), clip.loguniform(400.0, 2500.0), clip.uniform(0.03, 0.12)
    whistle_f = min(whistle_f, 0.35 * clip.sample_rate)
    centre = min(centre, 0.3 * clip.sample_rate)

    def body(f: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            tilt = np.where(f > 0, (np.maximum(f, 1.0) / np.float32(centre)) ** np.float32(-beta / 2), 0.0)
        return _log_band(f, centre, width) * tilt.astype(np.float32)

    y = _shaped_noise(clip, body)
    gust = np.exp(np.float32(gust_db / 20 * np.log(10) / 2) * np.clip(_smooth_random(clip, gust_rate), -2.5, 2.5))
    whistle_sig = _shaped_noise(clip, lambda f: _log_band(f, whistle_f, whistle_w))
    y_rms = np.sqrt(np.mean(y * y))
    w_rms = max(float(np.sqrt(np.mean(whistle_sig * whistle_sig))), 1e-30)
    return gust * (y + np.float32(whistle * y_rms / w_rms) * whistle_sig * gust)


def _formant_gain(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of second-order resonances (formants, Hz) at ``freqs`` ``(K,)``."""
    f = freqs[:, None]
    gain = formants**2 / np.sqrt((formants**2 - f**2) ** 2 + (bandwidths * f) ** 2)
    return gain.prod(axis=1)


def _vowel_voice(clip: _Clip) -> np.ndarray:
    f0 = clip.loguniform(85.0, 320.0)
    contour, contour_rate = clip.uniform(0.5, 3.0), clip.loguniform(2.0, 6.0)  # semitones, Hz
    declination = clip.uniform(-3.0, 0.0)  # semitones over the clip
    source_tilt = clip.uniform(1.0, 2.0)
    vowels = [
        np.array([clip.uniform(300.0, 850.0), clip.uniform(850.0, 2400.0), clip.uniform(2200.0, 3300.0)])
        for _ in range(2)
    ]
    bandwidths = clip.rng.uniform(60.0, 150.0, 3)
    morph_rate = clip.loguniform(1.0, 5.0)
    syllable_rate, syllable_depth = clip.loguniform(2.5, 7.0), clip.uniform(0.3, 1.0)
    phases = _random_phases(clip)
    k = np.arange(1, _N_HARMONICS + 1)
    f_max = f0 * 2 ** (3 * contour / 12)
    tables = [
        _wavetable(_band_limit(k**-source_tilt * _formant_gain(k * f0, v, bandwidths), f_max, clip), phases)
        for v in vowels
    ]
    pitch = np.clip(_smooth_random(clip, contour_rate), -3.0, 3.0) * np.float32(contour)
    pitch += np.float32(declination / clip.duration) * clip.t
    freq = np.float32(f0) * np.exp2(pitch / np.float32(12.0))
    phase = _phase(freq, clip, clip.uniform(0.0, 1.0))
    morph = np.float32(0.5) + np.float32(0.5) * np.tanh(_smooth_random(clip, morph_rate))
    a = _lookup(tables[0], phase)
    y = a + morph * (_lookup(tables[1], phase) - a)
    syllables = _lookup(_pulse_table(1.0), _phase(syllable_rate, clip, clip.uniform(0.0, 1.0)))
    return y * (np.float32(1.0 - syllable_depth) + np.float32(syllable_depth) * syllables)


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
assert tuple(_GENERATORS) == SYNTHETIC_CLASSES


# ------------------------------------------------------------------------------------ shared nuisances


def _envelope(clip: _Clip) -> np.ndarray:
    """Class-independent amplitude envelope ``(n,)`` float32: linear attack and release, dB-linear decay."""
    attack = clip.loguniform(0.002, max(0.003, 0.3 * clip.duration))
    release = clip.loguniform(0.005, max(0.006, 0.4 * clip.duration))
    decay_db = clip.uniform(0.0, 24.0)  # over the whole clip
    scale = 1.0 / max(1.0, (attack + release) / clip.duration)  # both ramps fit in the clip
    ramps = np.interp(
        clip.t,
        [0.0, attack * scale, clip.duration - release * scale, clip.duration],
        [0.0, 1.0, 1.0, 0.0],
    ).astype(np.float32)
    return ramps * np.exp(clip.t * np.float32(-decay_db / 20 * np.log(10) / clip.duration))


def _background(clip: _Clip) -> np.ndarray:
    """Unit-RMS background noise ``(n,)`` float32 with a 1/f^beta power spectrum, beta in [0, 1.5]."""
    beta = clip.uniform(0.0, 1.5)
    low_cut = clip.loguniform(20.0, 80.0)

    def colour(f: np.ndarray) -> np.ndarray:
        return (np.maximum(f, np.float32(low_cut)) / np.float32(1000.0)) ** np.float32(-beta / 2) * (f > low_cut)

    y = _shaped_noise(clip, colour)
    return y / np.float32(max(float(np.sqrt(np.mean(y * y))), 1e-30))


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
        signal = _GENERATORS[SYNTHETIC_CLASSES[label]](clip) * _envelope(clip)
        snr_db = clip.uniform(*SNR_RANGE_DB)
        peak = clip.uniform(*PEAK_RANGE)
        signal_rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
        y = signal + _background(clip) * np.float32(signal_rms * 10 ** (-snr_db / 20))
        y *= np.float32(peak / max(float(np.max(np.abs(y))), 1e-30))
        return check_waveform(
            y.astype(np.float32, copy=False), source_id=self._source_id(split, index), silence_peak=self.silence_peak
        )
