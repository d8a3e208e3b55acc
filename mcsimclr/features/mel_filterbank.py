"""Mel filterbank in plain torch (torchaudio is not available on every machine we run on).

Matches ``librosa.filters.mel`` (Slaney's Auditory Toolbox scale and area normalisation by default, or the
HTK scale ``2595 log10(1 + f / 700)``), transposed to ``(n_freqs, n_mels)`` so that ``power @ filterbank``
maps a ``(..., n_freqs)`` power spectrum to ``(..., n_mels)``.
"""

from __future__ import annotations

import math

import torch

# Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(hz: torch.Tensor, *, htk: bool = False) -> torch.Tensor:
    """Frequency in Hz to mel, elementwise (any shape)."""
    if htk:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    log_part = _MIN_LOG_MEL + torch.log(torch.clamp(hz, min=_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return torch.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: torch.Tensor, *, htk: bool = False) -> torch.Tensor:
    """Mel to frequency in Hz, elementwise (any shape); the inverse of :func:`hz_to_mel`."""
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    log_part = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return torch.where(mel >= _MIN_LOG_MEL, log_part, _F_SP * mel)


def mel_filterbank(*, sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None,
                   htk: bool = False, norm: bool = True, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Triangular Mel filters ``(n_fft // 2 + 1, n_mels)``, computed in float64 then cast to ``dtype``.

    Filter ``i`` rises from band edge ``i`` to ``i + 1`` and falls to ``i + 2``, the ``n_mels + 2`` edges
    being equally spaced in mel between ``f_min`` and ``f_max`` (default ``sample_rate / 2``). With ``norm``,
    each filter is divided by its width in Hz / 2 (Slaney), so that a flat spectrum gives equal energy per band.
    """
    if f_max is None:
        f_max = sample_rate / 2.0
    fft_freqs = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    edges_mel = torch.linspace(
        float(hz_to_mel(torch.tensor(float(f_min), dtype=torch.float64), htk=htk)),
        float(hz_to_mel(torch.tensor(float(f_max), dtype=torch.float64), htk=htk)),
        n_mels + 2,
        dtype=torch.float64,
    )
    edges = mel_to_hz(edges_mel, htk=htk)  # (n_mels + 2,)
    widths = torch.diff(edges)  # (n_mels + 1,)
    ramps = edges[:, None] - fft_freqs[None, :]  # (n_mels + 2, n_freqs)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (n_mels, n_freqs)
    if norm:
        weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.contiguous().to(dtype)


def mel_blocks(filterbank: torch.Tensor, *, block: int = 16) -> list[tuple[int, int, int, int]]:
    """Where the filters of ``filterbank (freqs, n_mels)`` are nonzero, by blocks of ``block`` filters.

    Returns ``(lo, hi, c0, c1)`` per block: filters ``c0 .. c1 - 1`` are zero outside frequency bins
    ``lo .. hi - 1`` (``lo == hi`` if all are zero). A Mel filterbank is banded, so ``power[..., lo:hi] @
    filterbank[lo:hi, c0:c1]`` per block gives ``power @ filterbank`` at a third of the work for 64 Mels.
    """
    out = []
    for c0 in range(0, filterbank.shape[1], block):
        c1 = min(c0 + block, filterbank.shape[1])
        rows = torch.nonzero(filterbank[:, c0:c1].abs().sum(dim=1)).flatten()
        lo, hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
        out.append((lo, hi, c0, c1))
    return out
