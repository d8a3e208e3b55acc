"""Class names, constants and the per-clip random state of the synthetic source set."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import fft as sp_fft

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
