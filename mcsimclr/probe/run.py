"""``mcsimclr probe``: check the inputs, build the encoder, run one protocol, and write a result directory.

Protocols (docs/evaluation.md): ``linear`` (pretrained encoder frozen, heads on cached embeddings),
``finetune`` (encoder and heads, encoder gradient scaled), ``scratch`` (the same recipe from a random encoder,
gradient not scaled) and ``random-linear`` (linear probe of a random encoder); ``srp-phat`` and ``music`` are the
classical baselines without learning (mcsimclr.probe.classical).
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import mcsimclr
from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.checkpoint import load_encoder, read_checkpoint
from mcsimclr.core.config import dump_yaml
from mcsimclr.core.device import resolve_device
from mcsimclr.data.data_info import DataError, DataInfo, check_compatible
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models.spatial_encoder import SpatialEncoder
from mcsimclr.probe.bn_stats import recompute_bn_stats
from mcsimclr.probe.classical import run_classical
from mcsimclr.probe.config import CLASSICAL_MODES, LINEAR_MODES, RANDOM_INIT_MODES, ProbeConfig
from mcsimclr.probe.cv_linear import fit_cv_heads
from mcsimclr.probe.embed import Embedded, embed_clips
from mcsimclr.probe.encoders import random_encoder
from mcsimclr.probe.finetune import autocast_context, embed_with, finetune
from mcsimclr.probe.heads import ProbeHeads
from mcsimclr.probe.labelled_data import check_labels, check_same_classes, load_store
from mcsimclr.probe.linear_probe import FitResult, train_linear_heads
from mcsimclr.probe.metrics import probe_metrics
from mcsimclr.probe.probe_model import ProbeModel
from mcsimclr.probe.result_dir import RESULT_FILE, write_result
from mcsimclr.probe.setting import CLASSICAL_SETTINGS, baseline_setting, pretraining_setting, slug
from mcsimclr.probe.splits import fraction_subset, validation_split
from mcsimclr.probe.training import evaluate_heads, steps_per_epoch
from mcsimclr.probe.windows import window_batches

log = logging.getLogger(__name__)


class ProbeError(ValueError):
    """A probe that cannot run as configured; the message says what to change."""


@dataclass
class ProbeOutcome:
    """What :func:`run_probe` leaves: the result directory, the metrics written there, and the final networks
    (``None`` for the classical modes)."""

    out_dir: Path
    metrics: dict
    encoder: SpatialEncoder | None
    heads: ProbeHeads | None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_encoder(config: ProbeConfig, train: DataInfo, test: DataInfo) -> tuple[SpatialEncoder, dict]:
    """The starting encoder for ``config.mode`` and what the result records about it.

    Pretrained (``linear``, ``finetune``): the checkpoint's encoder and features. Random (``scratch``,
    ``random-linear``): the checkpoint's architecture and features if one is given, else ``config.model``,
    initialised from ``config.seed``. The data must match the features' sample rate and the array the encoder
    was trained with.
    """
    if config.checkpoint:
        path = Path(config.checkpoint)
        ckpt = read_checkpoint(path)
        meta = ckpt["mcsimclr"]
        check_compatible([train, test], sample_rate=int(meta["sample_rate"]), mic_offsets=np.asarray(
            meta["mic_offsets"]), what=f"the checkpoint {path} (its features and array)")
        source = {
            "checkpoint": str(path),
            "checkpoint_sha256": sha256_file(path),
            "checkpoint_config_sha256": hashlib.sha256(str(meta.get("config_yaml", "")).encode()).hexdigest(),
            "features": meta["features"], "encoder": meta["encoder"],
        }
        if config.mode in RANDOM_INIT_MODES:
            encoder = random_encoder(features=meta["features"], encoder=meta["encoder"],
                                     mic_offsets=np.asarray(meta["mic_offsets"]), seed=config.seed)
            source["setting"] = baseline_setting(meta["encoder"])
        else:
            encoder = load_encoder(path)
            source["setting"] = pretraining_setting(str(meta.get("config_yaml", "")), meta["encoder"])
        return encoder, source
    if config.mode not in RANDOM_INIT_MODES:
        raise ProbeError(f"mode {config.mode!r} needs a pretrained checkpoint: pass --checkpoint CKPT")
    check_compatible([train, test], sample_rate=config.model.features.sample_rate,
                     what="the probe's model.features config")
    features = SpatialFeatures.from_config(config.model.features, n_mics=train.n_mics)
    kwargs = {"in_channels": features.out_channels, "n_bins": features.n_mels, "n_mel_channels": train.n_mics,
              **config.model.encoder.kwargs()}
    encoder = random_encoder(features=features.get_config(), encoder=kwargs, mic_offsets=train.mic_offsets,
                             seed=config.seed)
    encoder_kwargs = encoder.encoder.get_config()
    source = {"checkpoint": "", "checkpoint_sha256": "", "checkpoint_config_sha256": "",
              "features": features.get_config(), "encoder": encoder_kwargs,
              "setting": baseline_setting(encoder_kwargs)}
    return encoder, source


def resolve_out_dir(config: ProbeConfig, setting: str) -> Path:
    """``config.out_dir`` with ``{mode}``, ``{fraction}``, ``{seed}`` and ``{setting}`` filled in."""
    try:
        return Path(config.out_dir.format(mode=config.mode, fraction=f"{config.fraction:g}", seed=config.seed,
                                          setting=slug(setting)))
    except (KeyError, IndexError, ValueError) as err:
        raise ProbeError(f"out_dir {config.out_dir!r}: unknown placeholder {err}; use {{mode}}, {{fraction}}, "
                         "{seed} or {setting}") from err


def run_probe(config: ProbeConfig, *, overwrite: bool = False, allow_cpu: bool = False) -> ProbeOutcome:
    """Run one probe and write its result directory (``metrics.json``, ``config.yaml``, ``history.csv``,
    ``predictions.csv``, ``model.pt``, PNG plots; see docs/evaluation.md).

    ``allow_cpu``: run on the CPU when the config asks for a GPU and there is none (mcsimclr.core.device).

    Raises:
        ProbeError, DataError, CheckpointError: with a message saying what to change.
        DeviceError: a GPU asked for and none here, without ``allow_cpu``.
    """
    started = time.perf_counter()
    if config.mode in CLASSICAL_MODES:
        return _classical(config, overwrite=overwrite)
    if not config.data.train or not config.data.test:
        raise ProbeError("data.train and data.test must name labelled split files (clean_train.h5 and test.h5 from "
                         "`simulate build`)")
    train_info, test_info = check_labels(config.data.train), check_labels(config.data.test)
    check_same_classes(train_info, test_info)
    cv = config.mode in LINEAR_MODES and config.linear.solver == "cv"  # no held-out subset: folds instead
    if not cv and train_info.n_clips <= config.data.val_clips + 1:
        raise DataError(f"{train_info.path}: {train_info.n_clips} clips, but data.val_clips={config.data.val_clips} "
                        "are held out for validation and at least 2 must remain for training; lower data.val_clips")
    if config.mode == "finetune" and config.optim.optimizer == "adam" and config.finetune.encoder_grad_scale < 1:
        warnings.warn("optim.optimizer=adam: Adam divides each parameter's step by its gradient's running RMS, so "
                      "the encoder gradient scale is almost cancelled (only eps and weight decay see it); use sgd "
                      "for the paper's scaled fine-tuning (docs/evaluation.md)", stacklevel=2)
    encoder, source = build_encoder(config, train_info, test_info)
    setting = config.label or source["setting"]
    out = resolve_out_dir(config, setting)
    if (out / RESULT_FILE).exists() and not overwrite:
        raise ProbeError(f"{out} already holds a probe result ({RESULT_FILE}); pass --overwrite, or choose another "
                         "out_dir")
    placement = resolve_device(accelerator=config.trainer.accelerator, precision=config.trainer.precision,
                               allow_cpu=allow_cpu)
    device, autocast_dtype = placement.device, placement.autocast_dtype
    torch.manual_seed(config.seed)
    encoder = encoder.to(device)
    sample_rate = encoder.sample_rate
    crop = round(config.data.crop_seconds * sample_rate)
    hop = round(config.data.eval_hop_seconds * sample_rate)
    store_dtype = getattr(torch, config.data.store_dtype)
    train_store = load_store(train_info, device=device, dtype=store_dtype)
    test_store = load_store(test_info, device=device, dtype=store_dtype)

    if cv:
        train_part, val_clips = np.arange(train_info.n_clips), np.zeros(0, dtype=np.int64)
    else:
        train_part, val_clips = validation_split(train_info.n_clips, n_val=config.data.val_clips,
                                                 seed=config.data.val_seed)
    part_labels = train_store.labels["label"][torch.as_tensor(train_part, device=device)].cpu().numpy()
    used = train_part[fraction_subset(part_labels, fraction=config.fraction, seed=config.seed)]
    if len(used) < 2:
        raise DataError(f"fraction {config.fraction} of {len(train_part)} training clips leaves {len(used)}; "
                        "training needs at least 2")
    test_clips = np.arange(test_info.n_clips)
    swap = ChannelSwap(train_info.mic_offsets).to(device) if config.data.channel_swap else None
    n_sym = swap.n_symmetries if swap is not None else 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        heads = ProbeHeads(embed_dim=encoder.embed_dim, n_classes=len(train_info.class_names),
                           direction=config.heads.direction, n_bins=config.heads.n_bins).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    batch = config.trainer.embed_batch_size
    w = config.heads.direction_weight
    log.info("probe %s: %d training clips (fraction %g of %d), %d validation, %d test; %s", config.mode, len(used),
             config.fraction, len(train_part), len(val_clips), len(test_clips), setting)

    if config.mode in LINEAR_MODES:
        fit, test_emb, n_examples, steps, epochs = _linear(config, encoder, heads, train_store, used, train_part,
                                                           val_clips, test_store, test_clips, swap, crop, hop, batch,
                                                           autocast_dtype, generator)
        grad_scale = None  # frozen: no gradient reaches the encoder
    else:
        grad_scale = config.finetune.encoder_grad_scale if config.mode == "finetune" else 1.0
        model = ProbeModel(encoder, heads, encoder_grad_scale=grad_scale)
        epochs = config.finetune.epochs
        steps = steps_per_epoch(n_examples=len(used), n_reference=len(train_part),
                                batch_size=config.optim.batch_size, equal_steps=config.optim.equal_steps)
        fit = finetune(model, train_store=train_store, train_clips=used, val_store=train_store, val_clips=val_clips,
                       crop=crop, hop=hop, swap=swap, optim=config.optim, epochs=epochs, steps_per_epoch=steps,
                       eval_every=config.finetune.eval_every, direction_weight=w, generator=generator,
                       embed_batch_size=batch, autocast_dtype=autocast_dtype)
        test_emb = embed_with(model, test_store, test_clips, window=crop, hop=hop, batch_size=batch,
                              autocast_dtype=autocast_dtype)
        n_examples = len(used)
    _, pred_class, pred_az = evaluate_heads(heads, test_emb, direction_weight=w)
    labels = test_store.labels
    columns = {k: labels[k].float().cpu().numpy() for k in ("azimuth_deg", "rt60_measured", "distance_m")}
    metrics = probe_metrics(
        predicted=pred_class.cpu().numpy(), label=labels["label"].long().cpu().numpy(),
        predicted_azimuth=pred_az.cpu().numpy(), azimuth=columns["azimuth_deg"], rt60=columns["rt60_measured"],
        distance=columns["distance_m"], class_names=train_info.class_names,
        rt60_bin_s=config.metrics.rt60_bin_s, distance_bin_m=config.metrics.distance_bin_m)
    metrics["val"] = fit.best_val
    metrics["run"] = {
        "mode": config.mode, "fraction": config.fraction, "seed": config.seed, "label": config.label,
        "setting": setting, **{k: source[k] for k in ("checkpoint", "checkpoint_sha256", "checkpoint_config_sha256")},
        "data": {"train": str(train_info.path), "test": str(test_info.path)},
        "n_clips": {"train_file": train_info.n_clips, "train_part": len(train_part), "train_used": len(used),
                    "train_examples": n_examples, "val": len(val_clips), "test": len(test_clips)},
        "channel_swap_copies": n_sym if config.mode in LINEAR_MODES else None,
        "solver": "cv" if cv else ("sgd" if config.mode in LINEAR_MODES else None),
        "best_epoch": None if cv else fit.best_epoch, "epochs": None if cv else epochs,
        "steps_per_epoch": None if cv else steps, "select_on": None if cv else config.optim.select_on,
        "direction_head": config.heads.direction,
        "encoder_grad_scale": grad_scale, "bn_stats": config.linear.bn_stats if config.mode in LINEAR_MODES else None,
        "features": source["features"], "encoder": source["encoder"], "device": str(device),
        "package_version": mcsimclr.__version__, "wall_time_s": round(time.perf_counter() - started, 3),
    }
    write_result(out, metrics=metrics, config_yaml=dump_yaml(config), history=fit.history,
                 predictions={"clip": test_clips, "label": labels["label"].long().cpu().numpy(),
                              "predicted": pred_class.cpu().numpy(), **columns,
                              "predicted_azimuth_deg": pred_az.cpu().numpy()},
                 class_names=train_info.class_names,
                 state={"heads": heads.state_dict(),
                        "encoder": None if config.mode in LINEAR_MODES else encoder.encoder.state_dict()})
    chosen = (f"L2 {fit.best_val['l2_class']:g} (class), {fit.best_val['l2_direction']:g} (direction) by "
              f"{fit.best_val['folds']}-fold cross-validation" if cv else f"best epoch {fit.best_epoch}")
    log.info("probe %s: accuracy %.1f %%, azimuth error %.1f deg (mean), %s; %s", config.mode,
             metrics["accuracy"], metrics["azimuth_error_mean"], chosen, out)
    return ProbeOutcome(out_dir=out, metrics=metrics, encoder=encoder, heads=heads)


def _classical(config: ProbeConfig, *, overwrite: bool) -> ProbeOutcome:
    """``srp-phat`` / ``music``: no checkpoint, no training; only ``data.test`` is read."""
    if not config.data.test:
        raise ProbeError(f"mode {config.mode!r} scores data.test: name a labelled split file (test.h5 from "
                         "`simulate build`)")
    if config.checkpoint:
        raise ProbeError(f"mode {config.mode!r} uses no encoder; drop --checkpoint ({config.checkpoint})")
    if config.fraction != 1.0:
        raise ProbeError(f"mode {config.mode!r} uses no labels; --fraction {config.fraction:g} would change nothing "
                         "(drop it)")
    out = resolve_out_dir(config, config.label or CLASSICAL_SETTINGS[config.mode])
    if (out / RESULT_FILE).exists() and not overwrite:
        raise ProbeError(f"{out} already holds a probe result ({RESULT_FILE}); pass --overwrite, or choose another "
                         "out_dir")
    metrics = run_classical(config, out=out)
    log.info("probe %s: azimuth error %.1f deg (mean), %.1f deg (median), no learning; %s", config.mode,
             metrics["azimuth_error_mean"], metrics["azimuth_error_median"], out)
    return ProbeOutcome(out_dir=out, metrics=metrics, encoder=None, heads=None)


def _linear(config: ProbeConfig, encoder: SpatialEncoder, heads: ProbeHeads, train_store, used: np.ndarray,
            train_part: np.ndarray, val_clips: np.ndarray, test_store, test_clips: np.ndarray,
            swap: ChannelSwap | None, crop: int, hop: int, batch: int, autocast_dtype: torch.dtype | None,
            generator: torch.Generator) -> tuple[FitResult, Embedded, int, int, int]:
    """Linear probe: (optionally) recompute BN statistics, embed every clip once, fit the heads on the cache
    (``linear.solver``: SGD with epoch selection on ``val_clips``, or L2 chosen by cross-validation)."""
    device = train_store.device
    encoder.eval()  # and every forward below runs under torch.no_grad (embed_clips)

    def embed(x: torch.Tensor) -> torch.Tensor:
        with autocast_context(device, autocast_dtype):
            return encoder(x)

    if config.linear.bn_stats == "recompute":
        recompute_bn_stats(encoder, (a for _, a in window_batches(train_store, used, window=crop, hop=hop,
                                                                  batch_size=batch, swap=swap)), forward=embed)
    train = embed_clips(embed, train_store, used, window=crop, hop=hop, batch_size=batch, swap=swap)
    test = embed_clips(embed, test_store, test_clips, window=crop, hop=hop, batch_size=batch)
    if config.linear.solver == "cv":
        fit = fit_cv_heads(heads, train, k=config.linear.cv_folds, seed=config.seed)
        return fit, test, len(train), 0, 0
    val = embed_clips(embed, train_store, val_clips, window=crop, hop=hop, batch_size=batch)
    n_sym = swap.n_symmetries if swap is not None else 1
    steps = steps_per_epoch(n_examples=len(train), n_reference=len(train_part) * n_sym,
                            batch_size=config.optim.batch_size, equal_steps=config.optim.equal_steps)
    fit = train_linear_heads(heads, train, val, optim=config.optim, epochs=config.linear.epochs, steps_per_epoch=steps,
                             direction_weight=config.heads.direction_weight, generator=generator)
    return fit, test, len(train), steps, config.linear.epochs
