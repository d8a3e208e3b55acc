"""The two views of a SimCLR pair: the pretraining augmentation pipeline around the feature extractor.

Order (MC-SimCLR Sec. 3.2: from the waveforms, through the features, to the encoder)::

    ChannelSwap (same symmetry for both views) -> Mixup (waveforms, per view) -> SpatialFeatures [PitchShift]
    -> [MelGain] -> [MelWarp] -> RandomResizedCrop -> ChannelDrop -> [ModalityDrop]     ([...]: options, off)

(``PitchShift`` acts inside the features: it picks the Mel filterbank of each view.)

Every augmentation can be left out (``None``); in eval mode all of them are identities and the module returns
just the features of each view.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mcsimclr.augment.channel_drop import ChannelDrop
from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.augment.config import AugmentConfig
from mcsimclr.augment.mel_gain import MelGain
from mcsimclr.augment.mel_warp import MelWarp
from mcsimclr.augment.mixup import Mixup
from mcsimclr.augment.modality_drop import ModalityDrop
from mcsimclr.augment.pitch_shift import PitchShift
from mcsimclr.augment.random_resized_crop import RandomResizedCrop
from mcsimclr.features.spatial_features import SpatialFeatures


class SimCLRViews(nn.Module):
    """Two augmented feature views from one batch of waveform crops.

    Args:
        features: the feature extractor.
        channel_swap, mixup, crop, channel_drop, modality_drop, mel_gain, mel_warp, pitch_shift: the
            augmentations; ``None`` skips one.
        cpu_block: clips per block on CPU (see ``forward``); results do not depend on it.

    All random parameters of a batch are drawn first, in a fixed order, then applied; on CPU the batch then
    goes through the whole chain in blocks of ``cpu_block`` clips, so that no batch-sized intermediate (512 clips
    of waveforms are 400 MB) is ever allocated and each block's intermediates stay in cache. On a GPU the
    whole batch is one block.
    """

    def __init__(self, features: SpatialFeatures, *, channel_swap: ChannelSwap | None = None,
                 mixup: Mixup | None = None, crop: RandomResizedCrop | None = None,
                 channel_drop: ChannelDrop | None = None, modality_drop: ModalityDrop | None = None,
                 mel_gain: MelGain | None = None, mel_warp: MelWarp | None = None,
                 pitch_shift: PitchShift | None = None, cpu_block: int = 4) -> None:
        super().__init__()
        if channel_swap is not None and channel_swap.n_mics != features.n_mics:
            raise ValueError(f"channel_swap is for {channel_swap.n_mics} mics, features for {features.n_mics}")
        for name, module in (("modality_drop", modality_drop), ("mel_gain", mel_gain),
                             ("mel_warp", mel_warp)):
            if module is not None and module.n_mel_channels != features.n_mics:
                raise ValueError(f"{name} has n_mel_channels={module.n_mel_channels}, features have "
                                 f"{features.n_mics} Mel channels")
        if pitch_shift is not None and pitch_shift.bank.shape[1:] != features.mel_fb.shape:
            raise ValueError(f"pitch_shift filterbanks are {tuple(pitch_shift.bank.shape[1:])}, the features' "
                             f"{tuple(features.mel_fb.shape)}")
        if cpu_block < 1:
            raise ValueError(f"cpu_block must be >= 1, got {cpu_block}")
        self.features = features
        self.channel_swap = channel_swap
        self.mixup = mixup
        self.mel_gain = mel_gain
        self.mel_warp = mel_warp
        self.pitch_shift = pitch_shift
        self.crop = crop
        self.channel_drop = channel_drop
        self.modality_drop = modality_drop
        self.cpu_block = cpu_block

    @classmethod
    def from_config(cls, config: AugmentConfig, features: SpatialFeatures,
                    mic_positions: np.ndarray | None = None) -> SimCLRViews:
        """Build the pipeline of ``config`` around ``features``; ``mic_positions (mics, 3)`` for ChannelSwap."""
        swap = None
        if config.channel_swap.enabled:
            if mic_positions is None:
                raise ValueError("channel_swap is enabled: give the array's mic_positions (mics, 3)")
            swap = ChannelSwap(mic_positions)
        n_mel = features.n_mics
        return cls(
            features,
            channel_swap=swap,
            mixup=Mixup(alpha=config.mixup.alpha, output_level=config.mixup.output_level)
            if config.mixup.enabled else None,
            crop=RandomResizedCrop(scale=config.crop.scale, ratio=config.crop.ratio, axes=config.crop.axes,
                                   gcc_lag=config.crop.gcc_lag, n_mel_channels=n_mel)
            if config.crop.enabled else None,
            channel_drop=ChannelDrop(p=config.channel_drop.p, n_mel_channels=n_mel,
                                     mel_fill_db=10.0 * math.log10(features.log_floor)
                                     if config.channel_drop.mel_fill == "floor" else None)
            if config.channel_drop.enabled else None,
            modality_drop=ModalityDrop(n_mel_channels=n_mel, p_mel=config.modality_drop.p_mel,
                                       p_gcc=config.modality_drop.p_gcc) if config.modality_drop.enabled else None,
            mel_gain=MelGain(n_mel_channels=n_mel, max_db=config.mel_gain.max_db) if config.mel_gain.enabled else None,
            mel_warp=MelWarp(n_mel_channels=n_mel, max_shift_bins=config.mel_warp.max_shift_bins,
                             max_tilt_db=config.mel_warp.max_tilt_db) if config.mel_warp.enabled else None,
            pitch_shift=PitchShift(features.mel_fb, max_semitones=config.pitch_shift.max_semitones,
                                   n_steps=config.pitch_shift.n_steps) if config.pitch_shift.enabled else None,
        )

    def forward(self, waveforms: torch.Tensor | tuple[torch.Tensor, torch.Tensor], *,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Two views: ``(batch, 2, mics, samples)`` (or two ``(batch, mics, samples)``) -> two
        ``(batch, mics + pairs, frames, n_mels)`` feature tensors.

        ``generator`` (on the waveforms' device) makes every draw reproducible. In eval mode: the features of
        each view, nothing drawn.
        """
        if isinstance(waveforms, (tuple, list)):
            if len(waveforms) != 2 or waveforms[0].shape != waveforms[1].shape:
                raise ValueError("SimCLRViews expects two view tensors of equal shape (batch, mics, samples)")
            waveforms = torch.stack(list(waveforms), dim=1)
        mics = self.features.n_mics
        if waveforms.ndim != 4 or waveforms.shape[1] != 2 or waveforms.shape[2] != mics:
            raise ValueError(f"SimCLRViews expects waveforms (batch, 2, mics={mics}, samples), "
                             f"got shape {tuple(waveforms.shape)}")
        batch, _, _, samples = waveforms.shape
        if not self.training:
            feats = self.features(waveforms.reshape(2 * batch, mics, samples)).unflatten(0, (batch, 2))
            return feats[:, 0].contiguous(), feats[:, 1].contiguous()
        params = self.draw(batch, device=waveforms.device, generator=generator)
        block = self.cpu_block if waveforms.device.type == "cpu" else batch
        out = waveforms.new_empty(2, batch, self.features.out_channels, self.features.n_frames(samples),
                                  self.features.n_mels, dtype=torch.float32)
        for start in range(0, batch, block):
            clips = torch.arange(start, min(start + block, batch), device=waveforms.device)
            out[:, start:start + block] = self._views(waveforms, clips, params).transpose(0, 1)
        return out[0], out[1]

    def draw(self, batch: int, *, device: torch.device,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Every random parameter of a batch, in a fixed order: per clip ``(batch,)`` (``swap``: symmetry
        index) or per view ``(batch, 2, ...)`` (``partner``, ``weight``, ``gain``, ``warp``, ``box``, ``drop``,
        ``modality``, ``pitch``); keys of disabled augmentations are absent."""
        views = 2 * batch
        channels = self.features.out_channels
        params: dict[str, torch.Tensor] = {}
        if self.channel_swap is not None:
            params["swap"] = self.channel_swap.draw(batch, device=device, generator=generator)
        if self.mixup is not None:
            params["partner"], params["weight"] = self.mixup.draw(batch, 2, device=device, generator=generator)
        if self.mel_gain is not None:
            params["gain"] = self.mel_gain.draw(views, device=device, generator=generator).view(batch, 2)
        if self.mel_warp is not None:
            params["warp"] = self.mel_warp.draw(views, device=device, generator=generator).view(batch, 2, 2)
        if self.crop is not None:
            params["box"] = self.crop.draw(views, device=device, generator=generator).view(batch, 2, 4)
        if self.channel_drop is not None:
            keep = self.channel_drop.draw(views, channels, device=device, generator=generator)
            params["drop"] = keep.view(batch, 2, channels)
        if self.modality_drop is not None:
            keep = self.modality_drop.draw(views, channels, device=device, generator=generator)
            params["modality"] = keep.view(batch, 2, channels)
        if self.pitch_shift is not None:  # drawn last: the draws of the other augmentations stay as they were
            params["pitch"] = self.pitch_shift.draw(views, device=device, generator=generator).view(batch, 2)
        return params

    def _views(self, waveforms: torch.Tensor, clips: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Both views of the clips ``clips`` ``(n,)``: ``(n, 2, mics + pairs, frames, n_mels)``."""
        n = clips.shape[0]
        whole = n == waveforms.shape[0]  # one block (GPU): no copy of the batch
        x = (waveforms if whole else waveforms.index_select(0, clips)).float()  # (n, 2, mics, samples)
        if self.channel_swap is not None:
            x = self.channel_swap.apply(x, params["swap"][clips])
        if self.mixup is not None:
            partner = params["partner"][clips]  # (n, 2)
            other = waveforms[partner, torch.arange(2, device=x.device)].float()  # other[i, v] = w[partner[i, v], v]
            if self.channel_swap is not None:  # the partner clip comes with its own symmetry
                other = self.channel_swap.apply(other.flatten(0, 1), params["swap"][partner.flatten()])
            x = self.mixup.mix(x, other.view_as(x), params["weight"][clips])
        mel_fb = None if self.pitch_shift is None else self.pitch_shift.filterbanks(params["pitch"][clips].flatten())
        feats = self.features(x.flatten(0, 1), mel_fb=mel_fb)  # (n * 2, channels, frames, n_mels), clip-major
        if self.mel_gain is not None:
            feats = self.mel_gain.apply(feats, params["gain"][clips].flatten())
        if self.mel_warp is not None:
            feats = self.mel_warp.apply(feats, params["warp"][clips].flatten(0, 1))
        if self.crop is not None:
            feats = self.crop.apply(feats, params["box"][clips].flatten(0, 1))
        if self.channel_drop is not None:
            feats = self.channel_drop.apply(feats, params["drop"][clips].flatten(0, 1))
        if self.modality_drop is not None:
            feats = self.modality_drop.apply(feats, params["modality"][clips].flatten(0, 1))
        return feats.unflatten(0, (n, 2))
