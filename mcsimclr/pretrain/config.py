"""The typed schema of ``mcsimclr pretrain`` (YAML in ``configs/pretrain/``, dotted overrides)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from mcsimclr.augment.config import AugmentConfig
from mcsimclr.features.config import FeatureConfig
from mcsimclr.models.config import ModelConfig


@dataclass
class DataConfig:
    """Where the clips come from (files written by ``simulate build``) and how they reach the model.

    ``mode``: ``device`` holds the whole training split in device memory and draws crops there (no DataLoader
    in the loop), ``stream`` reads crops from HDF5 with DataLoader workers, ``auto`` picks ``device`` when
    the split fits in half of the device's free memory. The choice is logged.

    ``pair_max_shift_seconds``: ``null`` (the paper's pair) draws the two views of a clip independently anywhere in
    it; a number draws the second view's start within that many seconds of the first's, so that both views of a
    long multi-event scene hold the same events from the same directions (two independent 0.5 s crops of a 5 s
    scene mostly share only the room and the noise).
    """

    train: str = ""
    crop_seconds: float = 1.0
    pair_max_shift_seconds: float | None = None
    mode: Literal["auto", "device", "stream"] = "auto"
    store_dtype: Literal["float16", "float32"] = "float16"
    num_workers: int = 2

    def __post_init__(self) -> None:
        if self.crop_seconds <= 0:
            raise ValueError(f"crop_seconds must be > 0, got {self.crop_seconds}")
        if self.pair_max_shift_seconds is not None and self.pair_max_shift_seconds < 0:
            raise ValueError(f"pair_max_shift_seconds must be >= 0 or null, got {self.pair_max_shift_seconds}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")


@dataclass
class OptimConfig:
    """Optimiser and schedule: linear warm-up over ``warmup_epochs``, then cosine decay to 0 (per step)."""

    batch_size: int = 512
    epochs: int = 500
    warmup_epochs: int = 10
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-5
    temperature: float = 0.1
    branch_loss_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.branch_loss_weight < 0:
            raise ValueError(f"branch_loss_weight must be >= 0, got {self.branch_loss_weight}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (NT-Xent needs negatives), got {self.batch_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs={self.epochs}], got {self.warmup_epochs}")
        if self.lr <= 0 or self.weight_decay < 0 or self.temperature <= 0:
            raise ValueError("lr and temperature must be > 0 and weight_decay >= 0")


@dataclass
class TrainerConfig:
    """Lightning Trainer settings. Device policy (mcsimclr.core.device): ``accelerator: gpu`` refuses to run without
    CUDA unless ``--allow-cpu``; ``auto`` takes a GPU if there is one; precision applies on a GPU only.

    ``stop_after_epochs`` ends this invocation after that many epochs (e.g. to fit a cluster job's time limit);
    the schedule still spans ``optim.epochs``, and ``--resume`` continues where it stopped.

    ``sync_batchnorm``: ``auto`` (default) turns the encoder's BatchNorm layers into ``SyncBatchNorm`` when more
    than one GPU process trains (Lightning's ``sync_batchnorm``), so that their statistics are those of the global
    batch: with per-process statistics the positive pairs of a process share its batch statistics, a leak the
    model can use to find positives without learning better representations (SimCLR, Chen et al. 2020, Sec. 2.2,
    "Global BN"), and 4 x 128 would not train like 1 x 512. ``true``
    forces it (GPUs only: torch's SyncBatchNorm refuses CPU tensors), ``false`` keeps per-process statistics.

    ``compile``: ``torch.compile`` the encoder and the projection head (in place; checkpoints keep their keys).
    """

    accelerator: Literal["gpu", "cpu", "auto"] = "gpu"
    devices: int = 1
    num_nodes: int = 1
    precision: Literal["bf16-mixed", "16-mixed", "32"] = "bf16-mixed"
    log_every_n_steps: int = 10
    progress_bar: bool = True
    stop_after_epochs: int | None = None
    sync_batchnorm: Literal["auto"] | bool = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        if self.devices < 1 or self.num_nodes < 1:
            raise ValueError("devices and num_nodes must be >= 1")
        if self.stop_after_epochs is not None and self.stop_after_epochs < 1:
            raise ValueError(f"stop_after_epochs must be >= 1 or null, got {self.stop_after_epochs}")


@dataclass
class MonitorConfig:
    """Online probe of representation quality each epoch: kNN from a labelled split to another, encoder detached.

    ``train`` (the kNN bank) and ``dev`` (the queries) are split files with labels (e.g. clean_train and dev);
    empty disables it. The monitor's ``knn_acc`` selects ``best.ckpt``, so its queries are the dev split, never
    test: ``monitor.test`` was renamed ``monitor.dev`` and is rejected with a message saying so.
    """

    renamed_keys: ClassVar[dict[str, str]] = {
        "test": "monitor.test was renamed monitor.dev: the monitor selects best.ckpt, so it must read the dev split, "
                "never test (e.g. monitor.dev=data/fsd/dev.h5)",
    }

    train: str = ""
    dev: str = ""
    k: int = 10
    max_clips: int = 2000
    every_n_epochs: int = 1

    def __post_init__(self) -> None:
        if bool(self.train) != bool(self.dev):
            raise ValueError("monitor.train and monitor.dev must be given together (or neither)")
        if self.k < 1 or self.max_clips < 1 or self.every_n_epochs < 1:
            raise ValueError("monitor.k, monitor.max_clips and monitor.every_n_epochs must be >= 1")


@dataclass
class LogConfig:
    """CSV logs always; wandb in offline mode (never needs a network; ``wandb sync DIR`` uploads later)."""

    wandb: bool = True
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"
    project: str = "mcsimclr"


@dataclass
class PretrainConfig:
    """The whole ``mcsimclr pretrain`` config."""

    out_dir: str = "runs/pretrain"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    log: LogConfig = field(default_factory=LogConfig)
