"""Batched FFT convolution of dry clips with their multichannel RIRs in torch (CPU or CUDA).

GPU backends convolve a whole block at once on the device: the clips are sorted by length and cut into groups
whose padded FFTs fit a size budget, each group is one batched ``rfft`` / product / ``irfft`` at a fast length
(``scipy.fft.next_fast_len``, 5-smooth), and every clip gets the full linear convolution, as
``scipy.signal.fftconvolve(dry[None], rir, axes=1)`` would give it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft
import torch


def fft_length(n: int) -> int:
    """The smallest 5-smooth length >= ``n`` (fast for real FFTs on CPU and with cuFFT)."""
    if n < 1:
        raise ValueError(f"FFT length must be >= 1, got {n}")
    return int(scipy.fft.next_fast_len(n, real=True))


def fft_convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Full linear convolution along the last axis, broadcast over the leading axes.

    Args:
        x: ``(..., n)`` signals.
        h: ``(..., m)`` filters; the leading axes broadcast with ``x``'s.

    Returns:
        ``(..., n + m - 1)`` in ``x``'s real dtype (float32 or float64), on ``x``'s device.
    """
    if x.shape[-1] < 1 or h.shape[-1] < 1:
        raise ValueError(f"cannot convolve empty signals: shapes {tuple(x.shape)} and {tuple(h.shape)}")
    if x.device != h.device:
        raise ValueError(f"x is on {x.device} but h is on {h.device}")
    h = h.to(x.dtype)
    out = x.shape[-1] + h.shape[-1] - 1
    n = fft_length(out)
    spectrum = torch.fft.rfft(x, n=n) * torch.fft.rfft(h, n=n)
    return torch.fft.irfft(spectrum, n=n)[..., :out]


def _groups(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices sorted by length, cut so that (members x longest FFT) stays within ``budget`` samples."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        # Sorted ascending, so the newest member is the group's longest.
        if groups and (len(groups[-1]) + 1) * fft_length(lengths[i]) <= budget:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def convolve_clips(dry: Sequence[np.ndarray], rirs: Sequence[np.ndarray], *, device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32, budget: int = 1 << 24) -> list[np.ndarray]:
    """Convolve each dry clip with its RIRs, batched on ``device``.

    Args:
        dry: per clip, the mono signal ``(samples_i,)``.
        rirs: per clip, the RIRs ``(mics, rir_samples_i)`` (same ``mics`` for all clips).
        device: where the FFTs run.
        dtype: float32 (the GPU default) or float64.
        budget: most (clips x FFT length) in one batched FFT, which holds ``mics`` times that many samples
            (the default, 2**24, is about 0.5 GB of float32 spectra for 4 mics); a clip longer than the budget
            is a group of its own.

    Returns:
        Per clip, ``(mics, samples_i + rir_samples_i - 1)`` float64 on the CPU, in the order given.
    """
    if len(dry) != len(rirs):
        raise ValueError(f"got {len(dry)} clips but {len(rirs)} RIR sets")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.device(device)
    lengths = [d.shape[0] + r.shape[1] - 1 for d, r in zip(dry, rirs, strict=True)]
    results: list[np.ndarray | None] = [None] * len(dry)
    for group in _groups(lengths, budget):
        n_dry = max(dry[i].shape[0] for i in group)
        n_rir = max(rirs[i].shape[1] for i in group)
        x = torch.zeros((len(group), 1, n_dry), dtype=dtype)
        h = torch.zeros((len(group), rirs[group[0]].shape[0], n_rir), dtype=dtype)
        for k, i in enumerate(group):
            x[k, 0, : dry[i].shape[0]] = torch.from_numpy(np.asarray(dry[i], dtype=np.float64))
            h[k, :, : rirs[i].shape[1]] = torch.from_numpy(np.asarray(rirs[i], dtype=np.float64))
        # Zero padding of x and h only appends zeros to each clip's full convolution, which is then cut.
        wet = fft_convolve(x.to(device), h.to(device)).cpu().double().numpy()
        for k, i in enumerate(group):
            results[i] = wet[k, :, : lengths[i]]
    return results  # type: ignore[return-value]
