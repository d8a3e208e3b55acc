"""Batch-level augmentations of MC-SimCLR pretraining, on the device: ChannelSwap, Mixup, RandomResizedCrop,
ChannelDrop, the optional ModalityDrop, MelGain, MelWarp and PitchShift, and the pipeline that makes the two
views of a pair."""

from mcsimclr.augment.array_symmetry import ArraySymmetry, array_symmetries, wrap_degrees
from mcsimclr.augment.channel_drop import ChannelDrop
from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.augment.config import (
    AugmentConfig,
    ChannelDropConfig,
    ChannelSwapConfig,
    CropConfig,
    MelGainConfig,
    MelWarpConfig,
    MixupConfig,
    ModalityDropConfig,
    PitchShiftConfig,
)
from mcsimclr.augment.mel_gain import MelGain
from mcsimclr.augment.mel_warp import MelWarp
from mcsimclr.augment.mixup import Mixup, random_partners
from mcsimclr.augment.modality_drop import ModalityDrop
from mcsimclr.augment.pitch_shift import PitchShift
from mcsimclr.augment.random_resized_crop import RandomResizedCrop
from mcsimclr.augment.simclr_views import SimCLRViews

__all__ = [
    "ArraySymmetry",
    "AugmentConfig",
    "ChannelDrop",
    "ChannelDropConfig",
    "ChannelSwap",
    "ChannelSwapConfig",
    "CropConfig",
    "MelGain",
    "MelGainConfig",
    "MelWarp",
    "MelWarpConfig",
    "Mixup",
    "MixupConfig",
    "ModalityDrop",
    "ModalityDropConfig",
    "PitchShift",
    "PitchShiftConfig",
    "RandomResizedCrop",
    "SimCLRViews",
    "array_symmetries",
    "random_partners",
    "wrap_degrees",
]
