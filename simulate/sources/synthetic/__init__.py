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

from simulate.sources.synthetic.clip import (
    CREST_RANGE_DB,
    MAX_LIMITING_DB,
    MIN_CLIP_DURATION,
    MIN_SAMPLE_RATE,
    PEAK_RANGE,
    SNR_RANGE_DB,
    SYNTHETIC_CLASSES,
)
from simulate.sources.synthetic.source import SyntheticSource

__all__ = [
    "CREST_RANGE_DB",
    "MAX_LIMITING_DB",
    "MIN_CLIP_DURATION",
    "MIN_SAMPLE_RATE",
    "PEAK_RANGE",
    "SNR_RANGE_DB",
    "SYNTHETIC_CLASSES",
    "SyntheticSource",
]
