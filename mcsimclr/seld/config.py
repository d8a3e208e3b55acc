"""The typed schema of ``mcsimclr seld`` (YAML in ``configs/seld/``, dotted overrides).

Protocols and the reasons for the defaults: docs/evaluation.md, "SELD".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mcsimclr.probe.config import MODES, Mode, ProbeModelConfig

__all__ = ["MODES", "SeldConfig"]


@dataclass
class SeldDataConfig:
    """Scene files (``simulate scenes`` output): ``train`` trains, ``dev`` selects the epoch, ``test`` is scored
    once with the selected weights.

    Training sees windows of ``window_seconds`` (a whole number of 100 ms label frames) at random label-frame
    starts; dev and test scenes are evaluated whole. ``channel_swap`` is the only augmentation (its labels
    follow it).
    """

    train: str = ""
    dev: str = ""
    test: str = ""
    window_seconds: float = 2.0
    channel_swap: bool = True
    store_dtype: Literal["float32", "float16"] = "float32"

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0, got {self.window_seconds}")


@dataclass
class SeldOptimConfig:
    """Optimiser of the head (and encoder): Adam by default (the DCASE baselines' choice for SELD heads).

    An epoch is one pass over the windows that tile the *whole* training file (``n_frames // window_frames`` per
    scene, times the ChannelSwap copies in the linear modes), whatever ``fraction``, so every label fraction
    gets the same number of updates.
    """

    optimizer: Literal["sgd", "adam"] = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (batch norm in training mode), got {self.batch_size}")


@dataclass
class SeldLossConfig:
    """The ADPIT loss: ``active_weight`` weighs the class-frames that hold an event against the empty ones
    (1: the plain mean of the DCASE baselines; see ``mcsimclr.seld.adpit.adpit_loss``)."""

    active_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.active_weight <= 0:
            raise ValueError(f"loss.active_weight must be > 0, got {self.active_weight}")


@dataclass
class SeldLinearConfig:
    """``linear`` and ``random-linear``: the encoder frozen in eval mode, only the head trained, on frame
    features computed once. ``bn_stats`` as for the probe (``stored`` or ``recompute`` on the training
    windows)."""

    epochs: int = 50
    lr: float = 1e-3
    bn_stats: Literal["stored", "recompute"] = "stored"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0:
            raise ValueError(f"linear.epochs must be >= 1 and linear.lr > 0, got {self.epochs}, {self.lr}")


@dataclass
class SeldFinetuneConfig:
    """``finetune`` and ``scratch``: encoder and head trained together; the encoder's gradient is scaled by
    ``encoder_grad_scale`` in ``finetune`` (1 in ``scratch``)."""

    epochs: int = 30
    lr: float = 1e-3
    encoder_grad_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0:
            raise ValueError(f"finetune.epochs must be >= 1 and finetune.lr > 0, got {self.epochs}, {self.lr}")
        if not 0 <= self.encoder_grad_scale <= 1:
            raise ValueError(f"encoder_grad_scale must be in [0, 1], got {self.encoder_grad_scale}")


@dataclass
class SeldHeadsConfig:
    """The multi-ACCDOA head. ``distance``: ``auto`` predicts distance when every active event of the train and dev
    files has one; ``true`` requires it (an error otherwise); ``false`` never. Distances are coded as metres /
    ``distance_scale``."""

    distance: bool | Literal["auto"] = "auto"
    distance_scale: float = 10.0

    def __post_init__(self) -> None:
        if self.distance != "auto" and not isinstance(self.distance, bool):
            raise ValueError(f"heads.distance must be auto, true or false, got {self.distance!r}")
        if self.distance_scale <= 0:
            raise ValueError(f"distance_scale must be > 0, got {self.distance_scale}")


@dataclass
class SeldTrainerConfig:
    """Where it runs (the policy of mcsimclr.core.device); ``eval_batch``: windows per batch when frame features
    are computed for the linear modes."""

    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    precision: Literal["32", "bf16-mixed"] = "32"
    eval_batch: int = 32

    def __post_init__(self) -> None:
        if self.eval_batch < 1:
            raise ValueError(f"eval_batch must be >= 1, got {self.eval_batch}")


@dataclass
class SeldConfig:
    """The whole ``mcsimclr seld`` config.

    ``out_dir`` may hold ``{mode}``, ``{fraction}``, ``{seed}`` and ``{setting}``; ``label`` names the
    pretraining setting (empty: derived from the checkpoint, as the probe does). ``model``: the architecture of
    a random encoder when no checkpoint is given (``scratch``, ``random-linear``).
    """

    mode: Mode = "linear"
    checkpoint: str = ""
    fraction: float = 1.0
    seed: int = 0
    label: str = ""
    out_dir: str = "runs/seld/{setting}/{mode}-f{fraction}-s{seed}"
    data: SeldDataConfig = field(default_factory=SeldDataConfig)
    optim: SeldOptimConfig = field(default_factory=SeldOptimConfig)
    loss: SeldLossConfig = field(default_factory=SeldLossConfig)
    linear: SeldLinearConfig = field(default_factory=SeldLinearConfig)
    finetune: SeldFinetuneConfig = field(default_factory=SeldFinetuneConfig)
    heads: SeldHeadsConfig = field(default_factory=SeldHeadsConfig)
    model: ProbeModelConfig = field(default_factory=ProbeModelConfig)
    trainer: SeldTrainerConfig = field(default_factory=SeldTrainerConfig)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1] (a fraction of the training scenes), got {self.fraction}")
