"""Spatial features of a multichannel recording: log-Mel per microphone + GCC-PHAT per microphone pair.

MC-SimCLR input features (recipe.md, "Features"; DCASE SELD baseline): for ``mics`` microphones the output has
``mics + mics (mics - 1) / 2`` channels on one ``(frames, n_mels)`` grid, the GCC-PHAT maps keeping ``n_mels``
central lags. Formulas, defaults and conventions: docs/features.md.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from mcsimclr.features.config import FeatureConfig, check_feature_args
from mcsimclr.features.gcc_phat import gcc_lag_matrices, gcc_phat
from mcsimclr.features.mel_filterbank import mel_blocks, mel_filterbank
from mcsimclr.features.mic_pairs import mic_pairs

# Examples per block on CPU (see ``forward``); measured with scripts/bench_features.py on 2 cores.
CPU_CHUNK = 8


class SpatialFeatures(nn.Module):
    """Waveforms ``(batch, mics, samples)`` -> features ``(batch, mics + pairs, frames, n_mels)``, float32.

    Channels ``0 .. mics - 1``: log-Mel power of each microphone in dB, ``10 log10(max(mel, log_floor))``.
    Channels ``mics ..``: GCC-PHAT of the pairs ``(m, n), m < n`` in ``itertools.combinations`` order, lags
    ``-(n_mels // 2) .. n_mels - n_mels // 2 - 1`` along the last axis; positive lag = the sound reaches ``n``
    after ``m``. Values in [-1, 1] (1 for a pure integer delay).

    One STFT (periodic Hann window of ``win_length`` centred in ``n_fft``, frames centred on ``t * hop_length``
    with zero padding at the ends, so ``frames = 1 + samples // hop_length``) serves all microphones and both
    feature kinds. It always runs in float32, autocast or not. The module holds no learnable or saved state:
    ``SpatialFeatures(**features.get_config())`` rebuilds it.
    """

    def __init__(self, *, n_mics: int = 4, sample_rate: int = 24000, n_fft: int = 1024, win_length: int = 960,
                 hop_length: int = 480, n_mels: int = 64, f_min: float = 50.0, f_max: float | None = None,
                 log_floor: float = 1e-10, mel_scale: Literal["slaney", "htk"] = "slaney",
                 mel_norm: bool = True) -> None:
        super().__init__()
        if n_mics < 2:
            raise ValueError(f"n_mics must be >= 2 (GCC-PHAT needs a pair), got {n_mics}")
        check_feature_args(sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
                           n_mels=n_mels, f_min=f_min, f_max=f_max, log_floor=log_floor, mel_scale=mel_scale)
        self.n_mics = n_mics
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.log_floor = log_floor
        self.mel_scale = mel_scale
        self.mel_norm = mel_norm
        self.pairs = mic_pairs(n_mics)
        # Derived constants, rebuilt from the arguments: not saved in a state dict (persistent=False).
        self.register_buffer("window", torch.hann_window(win_length, periodic=True), persistent=False)
        fb = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, f_min=f_min, f_max=f_max,
                            htk=mel_scale == "htk", norm=mel_norm)
        self.register_buffer("mel_fb", fb, persistent=False)
        self._mel_blocks = mel_blocks(fb)
        cos_matrix, sin_matrix = gcc_lag_matrices(n_fft, n_mels)
        self.register_buffer("gcc_cos", cos_matrix, persistent=False)
        self.register_buffer("gcc_sin", sin_matrix, persistent=False)

    @classmethod
    def from_config(cls, config: FeatureConfig, *, n_mics: int) -> SpatialFeatures:
        """Build from the ``features:`` config section and the data's microphone count."""
        return cls(n_mics=n_mics, sample_rate=config.sample_rate, n_fft=config.n_fft,
                   win_length=config.win_length, hop_length=config.hop_length, n_mels=config.n_mels,
                   f_min=config.f_min, f_max=config.f_max, log_floor=config.log_floor,
                   mel_scale=config.mel_scale, mel_norm=config.mel_norm)

    def get_config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this module (plain Python values, for checkpoints)."""
        return {"n_mics": self.n_mics, "sample_rate": self.sample_rate, "n_fft": self.n_fft,
                "win_length": self.win_length, "hop_length": self.hop_length, "n_mels": self.n_mels,
                "f_min": self.f_min, "f_max": self.f_max, "log_floor": self.log_floor,
                "mel_scale": self.mel_scale, "mel_norm": self.mel_norm}

    @property
    def n_pairs(self) -> int:
        """Number of GCC-PHAT channels, ``mics (mics - 1) / 2``."""
        return len(self.pairs)

    @property
    def out_channels(self) -> int:
        """Number of output channels, ``mics + pairs`` (10 for 4 mics)."""
        return self.n_mics + self.n_pairs

    @property
    def n_lags(self) -> int:
        """Number of GCC lags kept, equal to ``n_mels`` so both kinds share one grid."""
        return self.n_mels

    def n_frames(self, samples: int) -> int:
        """Number of STFT frames for ``samples`` samples: ``1 + samples // hop_length`` (centred frames)."""
        return 1 + samples // self.hop_length

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())

    def spectra(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Complex STFT of every microphone: ``(batch, mics, samples)`` -> ``(batch, mics, frames, freqs)``."""
        batch, mics, samples = waveforms.shape
        spec = torch.stft(waveforms.reshape(batch * mics, samples), n_fft=self.n_fft, hop_length=self.hop_length,
                          win_length=self.win_length, window=self.window, center=True, pad_mode="constant",
                          return_complex=True)  # (batch * mics, freqs, frames), frames-major in memory
        return spec.transpose(1, 2).reshape(batch, mics, -1, self.n_fft // 2 + 1)

    def forward(self, waveforms: torch.Tensor, *, mel_fb: torch.Tensor | None = None) -> torch.Tensor:
        """Features of a batch: ``(batch, mics, samples)`` -> ``(batch, mics + pairs, frames, n_mels)``.

        ``mel_fb`` ``(batch, freqs, n_mels)``: a Mel filterbank per example in place of the module's (the
        ``PitchShift`` augmentation); the GCC-PHAT channels do not depend on it.
        """
        if waveforms.ndim != 3 or waveforms.shape[1] != self.n_mics or waveforms.shape[2] < 1:
            raise ValueError(f"SpatialFeatures expects waveforms (batch, mics={self.n_mics}, samples >= 1), "
                             f"got shape {tuple(waveforms.shape)}")
        if mel_fb is not None and mel_fb.shape != (waveforms.shape[0], *self.mel_fb.shape):
            raise ValueError(f"mel_fb must be (batch, freqs, n_mels) = {(waveforms.shape[0], *self.mel_fb.shape)}, "
                             f"got shape {tuple(mel_fb.shape)}")
        # Phase differences of a few samples on a 10 cm array do not survive half precision.
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            waveforms = waveforms.float()
            if waveforms.device.type != "cpu" or waveforms.shape[0] <= CPU_CHUNK:
                return self._features(waveforms, mel_fb)
            # On CPU the intermediates of a large batch (~5 MB per clip) fall out of cache and every
            # elementwise pass becomes memory-bound: work through the batch in cache-sized blocks.
            out = waveforms.new_empty(waveforms.shape[0], self.out_channels, self.n_frames(waveforms.shape[2]),
                                      self.n_mels)
            for start in range(0, waveforms.shape[0], CPU_CHUNK):
                block_fb = None if mel_fb is None else mel_fb[start:start + CPU_CHUNK]
                out[start:start + CPU_CHUNK] = self._features(waveforms[start:start + CPU_CHUNK], block_fb)
            return out

    def _features(self, waveforms: torch.Tensor, mel_fb: torch.Tensor | None = None) -> torch.Tensor:
        """``forward`` without checks or blocking: float32 ``(batch, mics, samples)`` in, features out."""
        spec = self.spectra(waveforms)  # (batch, mics, frames, freqs) complex
        parts = torch.view_as_real(spec)
        power = torch.addcmul(parts[..., 0].square(), parts[..., 1], parts[..., 1])  # (batch, mics, frames, freqs)
        if mel_fb is not None:
            mel = power @ mel_fb.float()[:, None]  # (batch, mics, frames, freqs) @ (batch, 1, freqs, n_mels)
        else:
            mel = power.new_empty(*power.shape[:-1], self.n_mels)
            for lo, hi, c0, c1 in self._mel_blocks:  # banded filterbank: skip the zeros (a few blocks, no batch loop)
                mel[..., c0:c1] = power[..., lo:hi] @ self.mel_fb[lo:hi, c0:c1]
        mel = torch.log10(mel.clamp_min_(self.log_floor)).mul_(10.0)
        gcc = gcc_phat(spec, n_fft=self.n_fft, n_lags=self.n_mels, matrices=(self.gcc_cos, self.gcc_sin),
                       power=power, overwrite_power=True)  # the Mel product is done with it
        return torch.cat([mel, gcc], dim=1)
