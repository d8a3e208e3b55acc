"""The typed schema of the pretraining augmentations (``augment:`` section of a config).

Defaults are the paper's pipeline (MC-SimCLR Sec. 3.2-3.6): ChannelSwap, Mixup, RandomResizedCrop and
ChannelDrop on; the prototype's measures (recipe.md, "Findings") available but off. Each section has an
``enabled`` flag so that any augmentation can be switched off for the ablation, e.g. ``augment.mixup.enabled=false``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


def _check_range(name: str, value: tuple[float, float], *, low: float, high: float | None) -> None:
    lo, hi = value
    if not lo <= hi:
        raise ValueError(f"{name} [{lo}, {hi}] has its lower bound above its upper bound")
    if lo <= low or (high is not None and hi > high):
        raise ValueError(f"{name} [{lo}, {hi}] must lie in ({low}, {high if high is not None else 'inf'}]")


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass
class ChannelSwapConfig:
    """Relabel the mics by a random symmetry of the array, the same for both views of a pair."""

    enabled: bool = True


@dataclass
class MixupConfig:
    """Mix the waveforms with another clip of the batch, weight of the other clip ``U[0, alpha]``."""

    enabled: bool = True
    alpha: float = 0.01
    output_level: Literal["target", "unit"] = "target"

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 0.5:
            raise ValueError(f"alpha must be in [0, 0.5] so that the target stays dominant, got {self.alpha}")


@dataclass
class CropConfig:
    """RandomResizedCrop of the feature maps, one box for all channels of a view.

    ``gcc_lag: centred`` (a DSP correction, off by default until measured on dev) places the box's lag range on the
    GCC channels symmetrically around lag 0, so that it rescales the delays a little instead of shifting their
    origin (``free``: the paper's one box for all channels, whose lag offset can exceed the array's delay range).
    """

    enabled: bool = True
    scale: tuple[float, float] = (0.8, 1.0)
    ratio: tuple[float, float] = (0.8, 1.25)
    axes: Literal["both", "time"] = "both"
    gcc_lag: Literal["free", "centred"] = "free"

    def __post_init__(self) -> None:
        _check_range("scale", self.scale, low=0.0, high=1.0)
        _check_range("ratio", self.ratio, low=0.0, high=None)


@dataclass
class ChannelDropConfig:
    """Zero each Mel and GCC channel with probability ``p``.

    ``mel_fill: floor`` (a DSP correction, off by default until measured on dev) sets a dropped log-Mel channel to
    the features' floor (``10 log10(log_floor)``, silence) instead of 0 dB; GCC channels are set to 0 either way.
    """

    enabled: bool = True
    p: float = 0.1
    mel_fill: Literal["zero", "floor"] = "zero"

    def __post_init__(self) -> None:
        _check_probability("p", self.p)


@dataclass
class ModalityDropConfig:
    """Option: zero all Mel channels of a view with prob. ``p_mel``, else all GCC channels with ``p_gcc``."""

    enabled: bool = False
    p_mel: float = 0.2
    p_gcc: float = 0.2

    def __post_init__(self) -> None:
        _check_probability("p_mel", self.p_mel)
        _check_probability("p_gcc", self.p_gcc)
        if self.p_mel + self.p_gcc > 1.0:
            raise ValueError(f"p_mel + p_gcc must be <= 1 (the events are exclusive), got {self.p_mel + self.p_gcc}")


@dataclass
class MelGainConfig:
    """Option: add ``U[-max_db, max_db]`` dB to the log-Mel channels of each view."""

    enabled: bool = False
    max_db: float = 6.0

    def __post_init__(self) -> None:
        if self.max_db < 0:
            raise ValueError(f"max_db must be >= 0, got {self.max_db}")


@dataclass
class MelWarpConfig:
    """Option: shift the log-Mel spectrum of each view by ``U[-max_shift_bins, max_shift_bins]`` Mel bins and tilt
    it by ``U[-max_tilt_db, max_tilt_db]`` dB across the band."""

    enabled: bool = False
    max_shift_bins: float = 3.0
    max_tilt_db: float = 6.0

    def __post_init__(self) -> None:
        if self.max_shift_bins < 0 or self.max_tilt_db < 0:
            raise ValueError(f"max_shift_bins and max_tilt_db must be >= 0, got {self.max_shift_bins}, "
                             f"{self.max_tilt_db}")


@dataclass
class PitchShiftConfig:
    """Option: pitch-shift the log-Mel channels of each view by one of ``n_steps`` semitone values in
    ``[-max_semitones, max_semitones]`` (frequency scaling of the power spectrum; GCC-PHAT untouched)."""

    enabled: bool = False
    max_semitones: float = 6.0
    n_steps: int = 25

    def __post_init__(self) -> None:
        if self.max_semitones < 0 or self.n_steps < 1:
            raise ValueError(f"max_semitones must be >= 0 and n_steps >= 1, got {self.max_semitones}, "
                             f"{self.n_steps}")


@dataclass
class AugmentConfig:
    """The pretraining augmentations, applied in this order: channel_swap and mixup on the waveforms, pitch_shift
    inside the features (the Mel filterbank of each view), then mel_gain, mel_warp, crop, channel_drop and
    modality_drop on the feature maps."""

    channel_swap: ChannelSwapConfig = field(default_factory=ChannelSwapConfig)
    mixup: MixupConfig = field(default_factory=MixupConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    channel_drop: ChannelDropConfig = field(default_factory=ChannelDropConfig)
    modality_drop: ModalityDropConfig = field(default_factory=ModalityDropConfig)
    mel_gain: MelGainConfig = field(default_factory=MelGainConfig)
    mel_warp: MelWarpConfig = field(default_factory=MelWarpConfig)
    pitch_shift: PitchShiftConfig = field(default_factory=PitchShiftConfig)
