"""The typed schema of ``mcsimclr probe`` (YAML in ``configs/probe/``, dotted overrides).

Protocols and the reasons for every default: docs/evaluation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mcsimclr.features.config import FeatureConfig
from mcsimclr.models.config import EncoderConfig

Mode = Literal["linear", "finetune", "scratch", "random-linear", "srp-phat", "music"]
MODES: tuple[str, ...] = ("linear", "finetune", "scratch", "random-linear", "srp-phat", "music")
LINEAR_MODES: tuple[str, ...] = ("linear", "random-linear")
RANDOM_INIT_MODES: tuple[str, ...] = ("scratch", "random-linear")
CLASSICAL_MODES: tuple[str, ...] = ("srp-phat", "music")  # no encoder, no training: mcsimclr.probe.classical


@dataclass
class ProbeDataConfig:
    """Labelled split files (``simulate build`` output) and how clips are cut.

    ``train`` (clean_train) trains, ``dev`` selects (the L2 strength, the epoch, the learning rate: every choice a
    protocol makes) and ``test`` is scored once, after everything is chosen; nothing of ``test`` reaches a fit or a
    choice. Every protocol (linear, fine-tuning, scratch, random encoder) fits on the same clips of ``train`` (the
    same subset at a label ``fraction``) and selects on the same ``dev`` clips. Without a ``dev`` file, ``val_clips``
    clips of ``train`` drawn with ``val_seed`` are held out for selection instead, for every protocol alike
    (the paper's 200 random clips of clean_train). Training sees ``crop_seconds`` windows; whole clips are evaluated as
    the mean embedding of all windows at a hop of ``eval_hop_seconds`` (docs/evaluation.md, "Whole clips").
    ``channel_swap`` is the only augmentation of supervised training (the azimuth label follows it).
    """

    train: str = ""
    dev: str = ""
    test: str = ""
    val_clips: int = 200
    val_seed: int = 0
    crop_seconds: float = 1.0
    eval_hop_seconds: float = 0.5
    channel_swap: bool = True
    store_dtype: Literal["float32", "float16"] = "float32"

    def __post_init__(self) -> None:
        if self.val_clips < 1:
            raise ValueError(f"val_clips must be >= 1 (the epoch is selected on them), got {self.val_clips}")
        if self.crop_seconds <= 0:
            raise ValueError(f"crop_seconds must be > 0, got {self.crop_seconds}")
        if not 0 < self.eval_hop_seconds <= self.crop_seconds:
            raise ValueError(f"eval_hop_seconds must be in (0, crop_seconds={self.crop_seconds}], got "
                             f"{self.eval_hop_seconds}")


@dataclass
class HeadsConfig:
    """The two linear heads on the embedding.

    ``direction``: ``regression`` to ``(cos, sin)`` of the azimuth (MSE; azimuth by ``atan2``), or ``bins``:
    classification over ``n_bins`` equal azimuth sectors (cross-entropy; azimuth by a local circular mean around
    the most probable bin). ``direction_weight`` weighs the direction loss against the class cross-entropy.
    """

    direction: Literal["regression", "bins"] = "regression"
    n_bins: int = 36
    direction_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.n_bins < 3:
            raise ValueError(f"n_bins must be >= 3, got {self.n_bins}")
        if self.direction_weight < 0:
            raise ValueError(f"direction_weight must be >= 0, got {self.direction_weight}")


@dataclass
class ProbeOptimConfig:
    """Optimiser of heads (and encoder): SGD with momentum by default (why: docs/evaluation.md, "Optimiser").

    One step takes ``batch_size`` examples; an epoch has as many steps as one pass over the *whole* training part
    (``equal_steps``), whatever ``fraction``, so every label fraction gets the same number of updates.
    ``schedule: cosine`` decays the learning rate per step to 0 over all epochs. The epoch with the best
    ``select_on`` value on the validation clips is kept.
    """

    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    schedule: Literal["cosine", "constant"] = "cosine"
    equal_steps: bool = True
    select_on: Literal["loss", "accuracy", "azimuth_error"] = "loss"

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (batch norm in training mode), got {self.batch_size}")


@dataclass
class LinearConfig:
    """Linear probe (``linear``, ``random-linear``): heads trained on embeddings computed once.

    ``solver``: ``sgd`` trains the heads for ``epochs`` with ``optim`` and keeps the epoch with the best value on
    the selection clips (``data.dev``; the paper's protocol); ``dev`` fits each head to convergence (L-BFGS) for
    every L2 strength of a grid and keeps the strength with the best selection score (class accuracy, mean azimuth
    error), ``optim`` and ``epochs`` unused; ``cv`` chooses the strength by ``cv_folds``-fold cross-validation over
    the training clips instead, then refits on all of them (SimCLR's protocol for small data sets; the selection
    clips unused; :mod:`mcsimclr.probe.cv_linear`).

    ``random_draws``: ``random-linear`` probes this many random encoders (draw 0 initialised from ``seed``, draw
    ``k`` from a seed derived from ``(seed, k)``) and reports the mean over the draws, with each draw's numbers;
    ignored by ``linear``.

    ``bn_stats``: ``stored`` keeps the encoder's own batch-norm running statistics (a random encoder: the
    initial mean 0, variance 1); ``recompute`` replaces them by the statistics of the probe's training windows
    before embedding (the same for pretrained and random encoders).
    """

    solver: Literal["sgd", "dev", "cv"] = "sgd"
    epochs: int = 100
    cv_folds: int = 5
    bn_stats: Literal["stored", "recompute"] = "stored"
    random_draws: int = 3

    def __post_init__(self) -> None:
        if self.random_draws < 1:
            raise ValueError(f"linear.random_draws must be >= 1, got {self.random_draws}")
        if self.epochs < 1:
            raise ValueError(f"linear.epochs must be >= 1, got {self.epochs}")
        if self.cv_folds < 2:
            raise ValueError(f"linear.cv_folds must be >= 2, got {self.cv_folds}")


@dataclass
class FinetuneConfig:
    """Fine-tuning (``finetune``) and supervised training from scratch (``scratch``): encoder in the loop.

    ``encoder_grad_scale`` multiplies the gradient that reaches the encoder (a real gradient scale, identity in
    the forward pass); ``scratch`` always uses 1 (nothing to preserve). Validation every ``eval_every`` epochs.

    ``lr_grid``: learning rates to sweep (each a whole run from the same start, ``epochs`` long); the run and epoch
    with the best ``optim.select_on`` value on the selection clips is kept, and every run's best is recorded
    (``metrics.json`` "sweep", ``history.csv`` column ``lr``). Empty: ``optim.lr`` only.
    """

    epochs: int = 50
    encoder_grad_scale: float = 0.1
    eval_every: int = 1
    lr_grid: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.eval_every < 1:
            raise ValueError(f"finetune.epochs and finetune.eval_every must be >= 1, got {self.epochs}, "
                             f"{self.eval_every}")
        if not 0 <= self.encoder_grad_scale <= 1:
            raise ValueError(f"encoder_grad_scale must be in [0, 1], got {self.encoder_grad_scale}")
        if any(not lr > 0 for lr in self.lr_grid) or len(set(self.lr_grid)) != len(self.lr_grid):
            raise ValueError(f"finetune.lr_grid must hold distinct learning rates > 0, got {list(self.lr_grid)}")


@dataclass
class ProbeModelConfig:
    """Architecture of a randomly initialised encoder (``scratch``, ``random-linear``) when no checkpoint is
    given. With ``--checkpoint`` these are ignored: the baseline takes the checkpoint's architecture and features,
    which a fair comparison needs."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)


@dataclass
class ProbeTrainerConfig:
    """Where it runs, by the policy of mcsimclr.core.device: ``auto`` a GPU if there is one; ``gpu`` without CUDA is
    an error unless ``--allow-cpu``; precision applies on a GPU only (CPU runs float32)."""

    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    precision: Literal["32", "bf16-mixed"] = "32"
    embed_batch_size: int = 256

    def __post_init__(self) -> None:
        if self.embed_batch_size < 1:
            raise ValueError(f"embed_batch_size must be >= 1, got {self.embed_batch_size}")


@dataclass
class ProbeMetricsConfig:
    """Bin widths of the azimuth error by measured RT60 (seconds) and by source distance (metres)."""

    rt60_bin_s: float = 0.1
    distance_bin_m: float = 0.5

    def __post_init__(self) -> None:
        if self.rt60_bin_s <= 0 or self.distance_bin_m <= 0:
            raise ValueError(f"bin widths must be > 0, got rt60_bin_s={self.rt60_bin_s}, "
                             f"distance_bin_m={self.distance_bin_m}")


@dataclass
class ClassicalConfig:
    """The classical modes (``srp-phat``, ``music``: ``pyroomacoustics.doa`` on each whole test clip, no learning;
    mcsimclr.classical.doa): STFT length, searched band (Hz), azimuth grid spacing (deg), speed of sound (m/s)."""

    nfft: int = 512
    freq_range: tuple[float, float] = (300.0, 3500.0)
    grid_deg: float = 1.0
    speed_of_sound: float = 343.0

    def __post_init__(self) -> None:
        if self.nfft < 16 or self.nfft % 2:
            raise ValueError(f"classical.nfft must be even and >= 16, got {self.nfft}")
        if not 0 <= self.freq_range[0] < self.freq_range[1]:
            raise ValueError(f"classical.freq_range must be [low, high] Hz with 0 <= low < high, got "
                             f"{list(self.freq_range)}")
        if self.grid_deg <= 0 or self.speed_of_sound <= 0:
            raise ValueError(f"classical.grid_deg and speed_of_sound must be > 0, got {self.grid_deg}, "
                             f"{self.speed_of_sound}")


@dataclass
class ProbeConfig:
    """The whole ``mcsimclr probe`` config.

    ``out_dir`` may hold ``{mode}``, ``{fraction}``, ``{seed}`` and ``{setting}`` (the row name in the report,
    made file-name safe), filled in at run time. ``label`` names the pretraining setting in the report; empty
    derives it from the checkpoint's pretraining config.
    """

    mode: Mode = "linear"
    checkpoint: str = ""
    fraction: float = 1.0
    seed: int = 0
    label: str = ""
    out_dir: str = "runs/probe/{setting}/{mode}-f{fraction}-s{seed}"
    data: ProbeDataConfig = field(default_factory=ProbeDataConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    optim: ProbeOptimConfig = field(default_factory=ProbeOptimConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    model: ProbeModelConfig = field(default_factory=ProbeModelConfig)
    trainer: ProbeTrainerConfig = field(default_factory=ProbeTrainerConfig)
    metrics: ProbeMetricsConfig = field(default_factory=ProbeMetricsConfig)
    classical: ClassicalConfig = field(default_factory=ClassicalConfig)

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1] (a fraction of the labelled training clips, e.g. 0.1 for "
                             f"10 %), got {self.fraction}")
