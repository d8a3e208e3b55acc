"""PitchShift (option, off by default): a random pitch shift of the log-Mel channels of each view, GCC untouched.

Not in the paper. Two crops of one clip share their pitch, which a class does not: a harmonic tone of the demo
data has its f0 anywhere in 80-1000 Hz. A shift along the Mel axis (``MelWarp``) is no pitch shift below ~1 kHz,
where the Mel scale is nearly linear: it moves every harmonic by the same number of Hz, so a harmonic series
stops being one. This augmentation scales frequency instead: the power spectrum of view ``v`` is resampled as
``P_v(f) = P(f / r_v) / r_v`` before the Mel filterbank, with ``r_v = 2 ** (s_v / 12)`` and ``s_v`` drawn uniformly
from ``n_steps`` semitone values in ``[-max_semitones, max_semitones]``. Harmonics stay harmonics, sweeps keep
their direction, time is untouched, and the GCC-PHAT channels (computed from the same STFT) keep the direction.

It is linear in the power spectrum, so it folds into the filterbank: ``mel_v = P @ (S_r^T W)`` with ``S_r`` the
linear-interpolation matrix of the resampling and ``W`` the Mel filterbank. The ``n_steps`` combined filterbanks
are computed once; a view only picks one (:meth:`SpatialFeatures.forward`'s ``mel_fb``).
"""

from __future__ import annotations

import torch
from torch import nn


def frequency_scaling_matrix(n_freqs: int, ratio: float) -> torch.Tensor:
    """``S (n_freqs, n_freqs)`` float64 with ``(S @ p)[k] = p(k / ratio) / ratio`` (linear interpolation between
    bins, 0 beyond the top bin): the power spectrum ``p`` with every frequency multiplied by ``ratio``, its total
    power kept (a tone's peak spreads over ``ratio`` times as many bins)."""
    if ratio <= 0:
        raise ValueError(f"ratio must be > 0, got {ratio}")
    source = torch.arange(n_freqs, dtype=torch.float64) / ratio
    low = source.floor().long()
    frac = source - low
    s = torch.zeros(n_freqs, n_freqs, dtype=torch.float64)
    rows = torch.arange(n_freqs)
    inside = low < n_freqs - 1
    s[rows[inside], low[inside]] = 1.0 - frac[inside]
    s[rows[inside], low[inside] + 1] = frac[inside]
    exact = low == n_freqs - 1  # lands on the top bin itself
    s[rows[exact], low[exact]] = 1.0
    return s / ratio  # the same power: the spectrum is stretched over ``ratio`` times the bandwidth


class PitchShift(nn.Module):
    """Per-view Mel filterbanks that pitch-shift by ``s ~ U{n_steps values in [-max_semitones, max_semitones]}``
    semitones (see the module docstring).

    Args:
        mel_fb: the features' Mel filterbank ``(n_freqs, n_mels)`` (``SpatialFeatures.mel_fb``).
        max_semitones: largest shift magnitude.
        n_steps: number of shift values (odd includes 0; 25 at 6 semitones is a half-semitone grid).

    Attributes:
        bank: ``(n_steps, n_freqs, n_mels)`` float32, the combined filterbanks (a non-persistent buffer).
        semitones: ``(n_steps,)`` the shift of each.
    """

    def __init__(self, mel_fb: torch.Tensor, *, max_semitones: float = 6.0, n_steps: int = 25) -> None:
        super().__init__()
        if mel_fb.ndim != 2:
            raise ValueError(f"mel_fb must be (n_freqs, n_mels), got shape {tuple(mel_fb.shape)}")
        if max_semitones < 0:
            raise ValueError(f"max_semitones must be >= 0, got {max_semitones}")
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        self.max_semitones = max_semitones
        self.n_steps = n_steps
        semitones = torch.linspace(-max_semitones, max_semitones, n_steps, dtype=torch.float64) if n_steps > 1 \
            else torch.zeros(1, dtype=torch.float64)
        fb = mel_fb.detach().to("cpu", torch.float64)
        bank = torch.stack([frequency_scaling_matrix(fb.shape[0], 2.0 ** (float(s) / 12.0)).T @ fb
                            for s in semitones])
        self.register_buffer("bank", bank.to(torch.float32), persistent=False)
        self.register_buffer("semitones", semitones.to(torch.float32), persistent=False)

    def extra_repr(self) -> str:
        return f"max_semitones={self.max_semitones}, n_steps={self.n_steps}"

    def draw(self, batch: int, *, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch,)`` int64: the index into ``bank`` of each example."""
        return torch.randint(self.n_steps, (batch,), device=device, generator=generator)

    def filterbanks(self, index: torch.Tensor) -> torch.Tensor:
        """``index (batch,)`` -> the filterbanks ``(batch, n_freqs, n_mels)`` for ``SpatialFeatures(mel_fb=...)``."""
        return self.bank.to(index.device)[index]
