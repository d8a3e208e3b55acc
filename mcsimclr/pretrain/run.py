"""``mcsimclr pretrain``: check the inputs, build the Lightning run, train, and leave checkpoints and logs."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from mcsimclr.checkpoint import read_checkpoint
from mcsimclr.core.config import dump_yaml
from mcsimclr.core.device import resolve_device
from mcsimclr.data.data_info import DataError, check_compatible, read_data_info
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models.crnn import CRNNEncoder
from mcsimclr.models.projection_head import ProjectionHead
from mcsimclr.pretrain.callbacks import KNNMonitor, StopAfterEpochs, Throughput, seconds_to_samples
from mcsimclr.pretrain.config import PretrainConfig
from mcsimclr.pretrain.datamodule import PretrainData
from mcsimclr.pretrain.module import SimCLRModule

log = logging.getLogger(__name__)


class RunError(ValueError):
    """A run that cannot start as configured; the message says what to change."""


def resolve_sync_batchnorm(setting: bool | str, *, world_size: int, accelerator: str) -> bool:
    """Whether BatchNorm layers become ``SyncBatchNorm`` (``trainer.sync_batchnorm``): ``auto`` is on exactly when
    more than one GPU process trains; ``True`` with several CPU processes is an error (torch's SyncBatchNorm
    refuses CPU tensors), raised before anything is written."""
    if setting == "auto":
        return world_size > 1 and accelerator == "gpu"
    if setting is True and world_size > 1 and accelerator != "gpu":
        raise RunError(f"trainer.sync_batchnorm=true needs GPUs (torch's SyncBatchNorm refuses CPU tensors), and "
                       f"this run trains {world_size} processes on the {accelerator}; set trainer.sync_batchnorm="
                       "auto or false")
    if not isinstance(setting, bool):
        raise RunError(f"trainer.sync_batchnorm must be auto, true or false, got {setting!r}")
    return setting


@dataclass
class PreparedRun:
    """A pretraining run built and ready for ``trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)``."""

    trainer: L.Trainer
    module: SimCLRModule
    data: PretrainData
    ckpt_path: str | None
    out: Path


def pretrain(config: PretrainConfig, *, resume: bool = False, allow_cpu: bool = False) -> Path:
    """Run (or resume) pretraining; returns the run directory (``config.out_dir``).

    The run directory gets ``config.yaml``, ``checkpoints/last.ckpt`` and ``best.ckpt`` (self-describing, see
    ``mcsimclr.load_encoder``), ``metrics.csv`` (CSV logger) and ``wandb/`` (offline) if enabled.

    Raises:
        DataError, RunError: bad data files, a config that does not fit the data, ...
        DeviceError: a GPU asked for and none here (mcsimclr.core.device.DEVICE_POLICY).
    """
    run = prepare_run(config, resume=resume, allow_cpu=allow_cpu)
    run.trainer.fit(run.module, datamodule=run.data, ckpt_path=run.ckpt_path)
    return run.out


def prepare_run(config: PretrainConfig, *, resume: bool = False, allow_cpu: bool = False,
                extra_callbacks: Sequence[L.Callback] = (), max_steps: int = -1) -> PreparedRun:
    """Check the inputs and build the Lightning run of :func:`pretrain` (module, data, callbacks, trainer)
    without starting it. ``extra_callbacks`` join the run's own; ``max_steps`` (``-1``: no limit) ends the fit
    early (benchmarks). Raises as :func:`pretrain`."""
    out = Path(config.out_dir)
    last = out / "checkpoints" / "last.ckpt"
    if resume and not last.is_file():
        raise RunError(f"--resume: no checkpoint at {last}")
    if not resume and last.exists():
        raise RunError(f"{out} already holds a run (checkpoints/last.ckpt); pass --resume to continue it, or "
                       "set out_dir to a new directory")
    info = read_data_info(config.data.train)
    monitors = [read_data_info(p) for p in (config.monitor.train, config.monitor.dev) if p]
    for monitor in monitors:
        if monitor.kind != "clips":
            raise DataError(f"{monitor.path}: a scene file; the kNN monitor needs labelled clip files "
                            "(monitor.train, monitor.dev from `simulate build`)")
    check_compatible([info, *monitors], sample_rate=config.features.sample_rate, what="the features config")
    if resume:
        meta = read_checkpoint(last)["mcsimclr"]
        check_compatible([info], sample_rate=meta["sample_rate"], mic_offsets=meta["mic_offsets"],
                         what=f"the run being resumed ({last})")
    world = config.trainer.devices * config.trainer.num_nodes
    if config.optim.batch_size * world > info.n_clips:
        raise DataError(f"batch_size {config.optim.batch_size} x {world} process(es) is larger than the "
                        f"{info.n_clips} clips of {info.path}; lower optim.batch_size or use more data")
    placement = resolve_device(accelerator=config.trainer.accelerator, precision=config.trainer.precision,
                               allow_cpu=allow_cpu)
    accelerator, precision = placement.accelerator, placement.precision
    sync_bn = resolve_sync_batchnorm(config.trainer.sync_batchnorm, world_size=world, accelerator=accelerator)
    log.info("SyncBatchNorm %s (trainer.sync_batchnorm=%s, %d process(es) on %s)", "on" if sync_bn else "off",
             config.trainer.sync_batchnorm, world, accelerator)

    L.seed_everything(config.seed, workers=True, verbose=False)
    crop = seconds_to_samples(config.data.crop_seconds, config.features.sample_rate)
    features = SpatialFeatures.from_config(config.features, n_mics=info.n_mics)
    encoder = CRNNEncoder(in_channels=features.out_channels, n_bins=features.n_mels,
                          **config.model.encoder.kwargs())
    head = ProjectionHead(in_dim=encoder.embed_dim, hidden_dim=config.model.head.hidden_dim,
                          out_dim=config.model.head.out_dim)
    branch_heads = None
    if config.optim.branch_loss_weight > 0:
        if encoder.branches != "split":
            raise RunError("optim.branch_loss_weight > 0 needs a split encoder (model.encoder.branches=split): "
                             "it adds a contrastive loss on each branch's half of the embedding")
        branch_heads = [ProjectionHead(in_dim=encoder.embed_dim // 2, hidden_dim=config.model.head.hidden_dim,
                                       out_dim=config.model.head.out_dim) for _ in range(2)]
    if config.trainer.compile:
        encoder.compile()  # in place: the state dict keeps its keys
        head.compile()
    config_yaml = dump_yaml(config)
    module = SimCLRModule(features=features, augment=config.augment, encoder=encoder, head=head,
                          branch_heads=branch_heads, optim=config.optim,
                          mic_offsets=info.mic_offsets, array_geometry=info.array_geometry, crop_samples=crop,
                          seed=config.seed, config_yaml=config_yaml)
    data = PretrainData(path=str(info.path), crop_samples=crop, batch_size=config.optim.batch_size,
                        mode=config.data.mode, store_dtype=getattr(torch, config.data.store_dtype),
                        num_workers=config.data.num_workers, seed=config.seed,
                        max_shift=None if config.data.pair_max_shift_seconds is None
                        else seconds_to_samples(config.data.pair_max_shift_seconds, config.features.sample_rate))
    module.steps_per_epoch = max(info.n_clips // (config.optim.batch_size * world), 1)

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(config_yaml)
    loggers = [CSVLogger(save_dir=str(out), name="", version="")]
    if config.log.wandb and config.log.wandb_mode != "disabled":
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        loggers.append(WandbLogger(save_dir=str(out), project=config.log.project, mode=config.log.wandb_mode,
                                   offline=config.log.wandb_mode == "offline", config=_plain(config_yaml)))
    callbacks = [Throughput(), LearningRateMonitor(logging_interval="step"), *extra_callbacks]
    if config.trainer.stop_after_epochs:
        callbacks.append(StopAfterEpochs(config.trainer.stop_after_epochs))
    best_metric, best_mode = "train/loss_epoch", "min"
    if config.monitor.train:
        callbacks.append(KNNMonitor(train=config.monitor.train, dev=config.monitor.dev, crop_samples=crop,
                                    k=config.monitor.k, max_clips=config.monitor.max_clips,
                                    every_n_epochs=config.monitor.every_n_epochs,
                                    n_classes=len(monitors[0].class_names)))
        best_metric, best_mode = "monitor/knn_acc", "max"
    # Two callbacks: Lightning writes save_last only in epochs where the monitored metric improved.
    callbacks.append(ModelCheckpoint(dirpath=str(out / "checkpoints"), filename="last", monitor=None, save_top_k=1,
                                     every_n_epochs=1, enable_version_counter=False))
    callbacks.append(ModelCheckpoint(dirpath=str(out / "checkpoints"), filename="best", monitor=best_metric,
                                     mode=best_mode, save_top_k=1, every_n_epochs=1, enable_version_counter=False))
    t = config.trainer
    trainer = L.Trainer(
        accelerator=accelerator, devices=t.devices, num_nodes=t.num_nodes, precision=precision,
        strategy="ddp" if world > 1 else "auto", max_epochs=config.optim.epochs, max_steps=max_steps,
        logger=loggers, callbacks=callbacks, log_every_n_steps=t.log_every_n_steps,
        enable_progress_bar=t.progress_bar, default_root_dir=str(out), enable_model_summary=False,
        num_sanity_val_steps=0, sync_batchnorm=sync_bn,
        use_distributed_sampler=False,  # PretrainData shards itself
    )
    return PreparedRun(trainer=trainer, module=module, data=data, ckpt_path=str(last) if resume else None, out=out)


def _plain(config_yaml: str) -> dict:
    import yaml

    return yaml.safe_load(config_yaml)


__all__ = ["DataError", "PreparedRun", "RunError", "prepare_run", "pretrain", "resolve_sync_batchnorm"]
