"""GCC-PHAT of every microphone pair, for the central lags only, from one batched STFT.

For the pair ``(m, n)`` and one frame (Knapp & Carter 1976; DCASE SELD baseline)::

    R_k   = conj(X_m,k) X_n,k / |conj(X_m,k) X_n,k|            (phase transform, k = 0 .. N/2)
    cc[l] = irfft(R, N)[l] = (1/N) sum_k w_k Re(R_k exp(+2j pi k l / N)),   w_0 = w_{N/2} = 1, else 2

and the ``n_lags`` central lags ``l = -(n_lags // 2) .. n_lags - n_lags // 2 - 1`` are kept (for 64 lags:
-32 .. 31, the DCASE baseline's ``concatenate((cc[-32:], cc[:32]))``). A positive lag means the sound reaches
mic ``n`` after mic ``m``: ``x_n(t) = x_m(t - d)`` peaks at ``l = +d``.

How it is computed (same numbers, less work):

- Only ``n_lags`` of the ``N`` lags are kept, so instead of an ``irfft`` that computes all ``N`` and throws most
  away, the sum is a real matrix product. Splitting it into its even part in ``l`` (``Re R`` times cosines)
  and its odd part (``Im R`` times sines), each needed for ``|l| <= n_lags // 2`` only, halves the work
  again: ``cc[l] = A(|l|) + sign(l) B(|l|)``.
- The phase transform is done per microphone, ``R = conj(U_m) U_n`` with ``U = X / |X|``: the same as
  normalising the cross-spectrum (``|R| = |X_m| |X_n|``), for ``mics`` instead of ``pairs`` normalisations.
- The cross-spectra of the pairs ``(m, m+1), ..., (m, mics-1)`` of each reference mic ``m`` are one
  broadcast product written in place (``mics - 1`` steps, each over the whole batch and all its pairs): gathering
  the two mics of every pair first copies four pair-sized tensors and measured 3x slower on CPU.
- Bins where ``X`` is exactly zero (silence, zero padding) contribute nothing, where the literal
  ``exp(j angle(0)) = 1`` would add a spurious peak at lag 0 to silent frames.
"""

from __future__ import annotations

import math

import torch


def gcc_lags(n_lags: int) -> torch.Tensor:
    """The lags (in samples) of the GCC channels, ``(n_lags,)`` long: ``-(n_lags // 2)`` upward."""
    return torch.arange(n_lags) - n_lags // 2


def gcc_lag_matrices(n_fft: int, n_lags: int, *, dtype: torch.dtype = torch.float32,
                     device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The even (cosine) and odd (sine) halves of ``irfft`` at the central lags.

    Returns ``cos_matrix (freqs, h + 1)`` for lags ``0 .. h`` and ``sin_matrix (freqs, h)`` for lags
    ``1 .. h``, ``h = n_lags // 2``, ``freqs = n_fft // 2 + 1``, such that with ``A = Re(R) @ cos_matrix``
    and ``B = Im(R) @ sin_matrix``, ``irfft(R, n_fft)[l] = A[|l|] + sign(l) B[|l| - 1]``.
    """
    half = n_lags // 2
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    weight = torch.full_like(k, 2.0)
    weight[0] = 1.0
    weight[-1] = 1.0  # the Nyquist bin (n_fft is even)
    even = torch.arange(0, half + 1, dtype=torch.float64)[None, :]
    odd = torch.arange(1, half + 1, dtype=torch.float64)[None, :]
    cos_matrix = weight * torch.cos(2.0 * math.pi * k * even / n_fft) / n_fft
    sin_matrix = -weight * torch.sin(2.0 * math.pi * k * odd / n_fft) / n_fft
    return cos_matrix.to(dtype=dtype, device=device), sin_matrix.to(dtype=dtype, device=device)


def unit_spectra(spectra: torch.Tensor, power: torch.Tensor | None = None, *,
                 overwrite_power: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of ``X / |X|`` (0 where ``X == 0``), each real with the shape of ``spectra``.

    ``spectra`` is complex, any shape; ``power = |X|^2`` (real, same shape) saves recomputing it, and with
    ``overwrite_power`` its memory is reused (its values are destroyed).
    """
    parts = torch.view_as_real(spectra)
    real, imag = parts[..., 0], parts[..., 1]
    if power is None:
        power, overwrite_power = torch.addcmul(real * real, imag, imag), True
    elif not overwrite_power:
        power = power.clone()
    # rsqrt of a clamped power: exact for every representable nonzero bin, 0 * huge = 0 for silent ones.
    scale = power.clamp_min_(torch.finfo(power.dtype).tiny).rsqrt_()
    return real * scale, imag * scale


def cross_spectra(real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of ``conj(U_m) U_n`` for all pairs ``m < n`` in ``itertools.combinations`` order.

    Args:
        real, imag: parts of ``U`` ``(batch, mics, frames, freqs)``.

    Returns:
        two ``(batch, pairs, frames, freqs)`` tensors: ``a_m a_n + b_m b_n`` and ``a_m b_n - b_m a_n``.
    """
    batch, mics = real.shape[:2]
    shape = (batch, mics * (mics - 1) // 2, *real.shape[2:])
    cross_re, cross_im = real.new_empty(shape), real.new_empty(shape)
    start = 0
    for m in range(mics - 1):  # pairs (m, m+1 .. mics-1) are consecutive channels in combinations order
        stop = start + mics - 1 - m
        a_m, b_m, a_n, b_n = real[:, m:m + 1], imag[:, m:m + 1], real[:, m + 1:], imag[:, m + 1:]
        torch.mul(a_m, a_n, out=cross_re[:, start:stop]).addcmul_(b_m, b_n)
        torch.mul(a_m, b_n, out=cross_im[:, start:stop]).addcmul_(b_m, a_n, value=-1.0)
        start = stop
    return cross_re, cross_im


def gcc_phat(spectra: torch.Tensor, *, n_fft: int, n_lags: int,
             matrices: tuple[torch.Tensor, torch.Tensor] | None = None,
             power: torch.Tensor | None = None, overwrite_power: bool = False) -> torch.Tensor:
    """GCC-PHAT of all microphone pairs ``m < n`` (``itertools.combinations`` order) at once.

    Args:
        spectra: complex STFT ``(batch, mics, frames, freqs)``, ``freqs = n_fft // 2 + 1``.
        n_fft: the STFT's FFT length (the circular lag range of the inverse transform).
        n_lags: number of central lags kept, ordered as :func:`gcc_lags`.
        matrices: :func:`gcc_lag_matrices` for ``(n_fft, n_lags)``, on the device of ``spectra``
            (built on the fly if omitted).
        power: ``|spectra|^2`` ``(batch, mics, frames, freqs)`` if already computed.
        overwrite_power: reuse the memory of ``power`` (its values are destroyed).

    Returns:
        ``(batch, pairs, frames, n_lags)`` real.
    """
    if spectra.ndim != 4 or spectra.shape[-1] != n_fft // 2 + 1:
        raise ValueError(f"gcc_phat expects complex spectra (batch, mics, frames, {n_fft // 2 + 1}), "
                         f"got shape {tuple(spectra.shape)}")
    if matrices is None:
        matrices = gcc_lag_matrices(n_fft, n_lags, device=spectra.device)
    cos_matrix, sin_matrix = matrices
    cross_re, cross_im = cross_spectra(*unit_spectra(spectra, power, overwrite_power=overwrite_power))
    even = cross_re @ cos_matrix  # (batch, pairs, frames, half + 1): lags 0 .. half
    odd = cross_im @ sin_matrix  # (batch, pairs, frames, half): lags 1 .. half
    half = n_lags // 2
    n_pos = n_lags - half  # lags 0 .. n_pos - 1
    out = even.new_empty(*even.shape[:-1], n_lags)
    out[..., half:] = even[..., :n_pos]
    out[..., half + 1:] += odd[..., : n_pos - 1]
    out[..., :half] = (even[..., 1:] - odd).flip(-1)  # lags -half .. -1
    return out
