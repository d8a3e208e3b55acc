"""ChannelSwap: relabel the microphones by a symmetry of the array (MC-SimCLR, Sec. 3.3).

The relabelled recording is the recording of the scene rotated or mirrored by that symmetry, so the spectra are
kept and the direction moves in a known way (:mod:`mcsimclr.augment.array_symmetry`). In pretraining both
views of a pair get the same random symmetry; in supervised training the azimuth label is transformed with
:meth:`ChannelSwap.transform_azimuth`.
"""

from __future__ import annotations

import numpy as np
import torch

from mcsimclr.augment.array_symmetry import ArraySymmetry, array_symmetries, wrap_degrees
from mcsimclr.augment.base import BatchAugmentation
from mcsimclr.augment.draws import check_generator
from mcsimclr.features.mic_pairs import pair_permutation


class ChannelSwap(BatchAugmentation):
    """Permute the microphones of each example by a random symmetry of the array; identity in eval mode.

    Args:
        mic_positions: ``(mics, 3)`` positions or offsets in metres (e.g. ``mcsimclr.core.array.ARRAY_PRESETS``).
        atol: distance (metres) under which two positions are the same, for finding the symmetries.

    ``symmetries[i]`` is symmetry ``i`` (``0`` is the identity); ``perms`` holds their permutations
    ``(n_symmetries, mics)``. Each forward draws one symmetry per example uniformly from all of them.
    """

    def __init__(self, mic_positions: np.ndarray, *, atol: float = 1e-6) -> None:
        super().__init__()
        if atol <= 0:
            raise ValueError(f"atol must be > 0, got {atol}")
        self.symmetries: list[ArraySymmetry] = array_symmetries(mic_positions, atol=atol)
        self.n_mics = len(self.symmetries[0].perm)
        if self.n_mics < 2:
            raise ValueError("ChannelSwap needs at least 2 microphones")
        perms = torch.tensor([s.perm for s in self.symmetries], dtype=torch.long)
        self.register_buffer("perms", perms, persistent=False)
        self.register_buffer("azimuth_sign", torch.tensor([s.azimuth_sign for s in self.symmetries]),
                             persistent=False)
        self.register_buffer("azimuth_offset", torch.tensor([s.azimuth_offset_deg for s in self.symmetries]),
                             persistent=False)
        # Feature channels of each symmetry: Mel channels follow perm; GCC pair k comes from pair source[k],
        # lag axis mirrored where the pair's order flipped.
        channel_index, flips = [], []
        for sym in self.symmetries:
            source, flipped = pair_permutation(sym.perm)
            channel_index.append(list(sym.perm) + [self.n_mics + k for k in source])
            flips.append(flipped)
        self.register_buffer("feature_index", torch.tensor(channel_index, dtype=torch.long), persistent=False)
        self.register_buffer("pair_flipped", torch.tensor(flips, dtype=torch.bool), persistent=False)

    @property
    def n_symmetries(self) -> int:
        return len(self.symmetries)

    def extra_repr(self) -> str:
        return f"n_mics={self.n_mics}, n_symmetries={self.n_symmetries}"

    def draw(self, batch: int, *, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Symmetry indices ``(batch,)`` long, uniform over all symmetries, drawn on ``device``."""
        check_generator(generator, device)
        return torch.randint(self.n_symmetries, (batch,), device=device, generator=generator)

    def apply(self, waveforms: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Permute the mics of each example by its symmetry (also in eval mode).

        Args:
            waveforms: ``(batch, mics, samples)``, or ``(batch, views, mics, samples)`` where all views of an
                example get the same permutation.
            index: symmetry per example ``(batch,)`` long.

        Returns:
            the same shape, ``out[b, ..., p, :] = waveforms[b, ..., perms[index[b], p], :]``.
        """
        self.check_shape(waveforms)
        if index.shape != (waveforms.shape[0],):
            raise ValueError(f"index must be (batch={waveforms.shape[0]},), got shape {tuple(index.shape)}")
        perm = self.perms[index]  # (batch, mics)
        if waveforms.ndim == 4:
            perm = perm[:, None, :].expand(-1, waveforms.shape[1], -1)
        # One row gather of whole (samples,) rows: memcpy speed, no per-sample index tensor.
        first_row = torch.arange(perm[..., 0].numel(), device=perm.device).view(perm.shape[:-1]) * self.n_mics
        rows = (first_row[..., None] + perm).reshape(-1)
        samples = waveforms.shape[-1]
        return waveforms.reshape(-1, samples).index_select(0, rows).view(waveforms.shape)

    def expected_shape(self, waveforms: torch.Tensor) -> str | None:
        if waveforms.ndim in (3, 4) and waveforms.shape[-2] == self.n_mics:
            return None
        return f"(batch, mics={self.n_mics}, samples) or (batch, views, mics={self.n_mics}, samples)"

    def draw_for(self, waveforms: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.draw(waveforms.shape[0], device=waveforms.device, generator=generator)

    def swap_with_azimuth(self, waveforms: torch.Tensor, azimuth_deg: torch.Tensor, *,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Supervised training: permute ``(batch, mics, samples)`` and transform its azimuth labels ``(batch,)``.

        In eval mode both are returned unchanged.
        """
        if not self.training:
            return waveforms, azimuth_deg
        index = self.draw(waveforms.shape[0], device=waveforms.device, generator=generator)
        return self.apply(waveforms, index), self.transform_azimuth(azimuth_deg, index)

    def transform_azimuth(self, azimuth_deg: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Azimuths (degrees) after each example's symmetry, in (-180, 180]: ``(batch,)`` -> ``(batch,)``."""
        sign = self.azimuth_sign[index].to(azimuth_deg.dtype)
        offset = self.azimuth_offset[index].to(azimuth_deg.dtype)
        return wrap_degrees(sign * azimuth_deg + offset)

    def permute_features(self, features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The features of the permuted recording, from the features of the original one (no STFT).

        Args:
            features: ``(batch, mics + pairs, frames, lags)`` from :class:`~mcsimclr.features.SpatialFeatures`.
            index: symmetry per example ``(batch,)`` long.

        Returns:
            ``(batch, mics + pairs, frames, lags)``. Equal to the features of ``apply(waveforms, index)``
            except, for an even number of lags, the most negative lag of a pair whose order flips: it would need
            the positive lag ``lags // 2``, which the features do not keep, and holds the unflipped pair's
            value at that lag instead (far beyond any physical delay of a small array).
        """
        expected = self.n_mics + self.n_mics * (self.n_mics - 1) // 2
        if features.ndim != 4 or features.shape[1] != expected:
            raise ValueError(f"permute_features expects (batch, channels={expected}, frames, lags), "
                             f"got shape {tuple(features.shape)}")
        channels = self.feature_index[index]  # (batch, channels)
        out = features[torch.arange(features.shape[0], device=features.device)[:, None], channels]
        lags = features.shape[-1]
        # Lag l sits at index l + lags // 2; its mirror -l at (2 (lags // 2) - index) mod lags.
        mirror = (2 * (lags // 2) - torch.arange(lags, device=features.device)) % lags
        gcc = out[:, self.n_mics:]
        flipped = self.pair_flipped[index][:, :, None, None]  # (batch, pairs, 1, 1)
        out[:, self.n_mics:] = torch.where(flipped, gcc.index_select(-1, mirror), gcc)
        return out
