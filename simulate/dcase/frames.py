"""How many label frames a recording has: the DCASE frame hop in samples, and the frames that cover the audio."""

from __future__ import annotations

import math

__all__ = ["hop_samples", "label_frames"]


def hop_samples(*, hop_s: float, sample_rate: int) -> int:
    """The frame hop in samples; ``hop_s * sample_rate`` must be a whole number (2400 for 0.1 s at 24 kHz)."""
    if not hop_s > 0 or sample_rate <= 0:
        raise ValueError(f"hop_s and sample_rate must be > 0, got hop_s={hop_s}, sample_rate={sample_rate}")
    hop = round(hop_s * sample_rate)
    if hop < 1 or abs(hop - hop_s * sample_rate) > 1e-6:
        raise ValueError(f"a frame hop of {hop_s} s is not a whole number of samples at {sample_rate} Hz")
    return hop


def label_frames(n_samples: int, *, hop_s: float, sample_rate: int) -> int:
    """Frames ``ceil(n_samples / hop)`` of a recording: frame ``k`` covers samples ``[k * hop, (k + 1) * hop)``,
    and a last, partial frame still holds audio (the DCASE baseline drops it: ``floor``)."""
    return math.ceil(n_samples / hop_samples(hop_s=hop_s, sample_rate=sample_rate))
