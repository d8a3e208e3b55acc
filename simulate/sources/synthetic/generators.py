"""The 12 class generators of the synthetic source set: each turns a clip state into a raw signal."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import fft as sp_fft

from simulate.sources.synthetic.clip import (
    _LN2_12,
    _LN10_20,
    _MOD_BITS,
    _N_HARMONICS,
    _TABLE_BITS,
    SYNTHETIC_CLASSES,
    _Clip,
)
from simulate.sources.synthetic.dsp import (
    _SINE_TABLE,
    _band_limit,
    _energy,
    _harmonic_amps,
    _index,
    _keep_first,
    _lfo,
    _log_band,
    _noise_spectrum,
    _pass,
    _periodic,
    _phase,
    _power_law,
    _pulse_table,
    _random_phases,
    _rms,
    _sawtooth,
    _smooth_random,
    _to_time,
    _wavetable,
)

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
