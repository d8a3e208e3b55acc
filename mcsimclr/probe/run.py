"""``mcsimclr probe``: check the inputs, build the encoder, run one protocol, and write a result directory.

Protocols (docs/evaluation.md): ``linear`` (pretrained encoder frozen, heads on cached embeddings),
``finetune`` (encoder and heads, encoder gradient scaled), ``scratch`` (the same recipe from a random encoder,
gradient not scaled) and ``random-linear`` (linear probe of a random encoder); ``srp-phat`` and ``music`` are the
classical baselines without learning (mcsimclr.probe.classical).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import mcsimclr
from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.checkpoint import load_encoder, read_checkpoint
from mcsimclr.core.config import dump_yaml
from mcsimclr.core.device import resolve_device
from mcsimclr.data.clip_store import ClipStore
from mcsimclr.data.data_info import DataError, DataInfo, check_compatible
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models.spatial_encoder import SpatialEncoder
from mcsimclr.probe.bn_stats import recompute_bn_stats
from mcsimclr.probe.classical import run_classical
from mcsimclr.probe.config import CLASSICAL_MODES, LINEAR_MODES, RANDOM_INIT_MODES, ProbeConfig
from mcsimclr.probe.cv_linear import fit_cv_heads, fit_dev_heads
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


def build_encoder(config: ProbeConfig, train: DataInfo, *others: DataInfo,
                  init_seed: int | None = None) -> tuple[SpatialEncoder, dict]:
    """The starting encoder for ``config.mode`` and what the result records about it.

    Pretrained (``linear``, ``finetune``): the checkpoint's encoder and features. Random (``scratch``,
    ``random-linear``): the checkpoint's architecture and features if one is given, else ``config.model``,
    initialised from ``init_seed`` (default ``config.seed``). The data (``train`` and ``others``) must match the
    features' sample rate and the array the encoder was trained with.
    """
    infos = [train, *others]
    seed = config.seed if init_seed is None else init_seed
    if config.checkpoint:
        path = Path(config.checkpoint)
        ckpt = read_checkpoint(path)
        meta = ckpt["mcsimclr"]
        check_compatible(infos, sample_rate=int(meta["sample_rate"]), mic_offsets=np.asarray(
            meta["mic_offsets"]), what=f"the checkpoint {path} (its features and array)")
        source = {
            "checkpoint": str(path),
            "checkpoint_sha256": sha256_file(path),
            "checkpoint_config_sha256": hashlib.sha256(str(meta.get("config_yaml", "")).encode()).hexdigest(),
            "features": meta["features"], "encoder": meta["encoder"],
        }
        if config.mode in RANDOM_INIT_MODES:
            encoder = random_encoder(features=meta["features"], encoder=meta["encoder"],
                                     mic_offsets=np.asarray(meta["mic_offsets"]), seed=seed)
            source["setting"] = baseline_setting(meta["encoder"])
        else:
            encoder = load_encoder(path)
            source["setting"] = pretraining_setting(str(meta.get("config_yaml", "")), meta["encoder"])
        return encoder, source
    if config.mode not in RANDOM_INIT_MODES:
        raise ProbeError(f"mode {config.mode!r} needs a pretrained checkpoint: pass --checkpoint CKPT")
    check_compatible(infos, sample_rate=config.model.features.sample_rate,
                     what="the probe's model.features config")
    features = SpatialFeatures.from_config(config.model.features, n_mics=train.n_mics)
    kwargs = {"in_channels": features.out_channels, "n_bins": features.n_mels, "n_mel_channels": train.n_mics,
              **config.model.encoder.kwargs()}
    encoder = random_encoder(features=features.get_config(), encoder=kwargs, mic_offsets=train.mic_offsets,
                             seed=seed)
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


def draw_seed(seed: int, draw: int) -> int:
    """The initialisation seed of random-encoder draw ``draw``: ``seed`` itself for draw 0 (so one draw is the
    single random encoder of earlier versions), else a 31-bit seed derived from ``(seed, draw)``."""
    if draw == 0:
        return seed
    return int(np.random.SeedSequence([seed, draw, 0xD7A3]).generate_state(1)[0] & 0x7FFFFFFF)


@dataclass
class _Selection:
    """Where a probe fits and where it selects: the training part of ``data.train`` (store indices) and the
    selection clips (of ``data.dev``, or held out of ``data.train``)."""

    train_part: np.ndarray
    store: ClipStore
    clips: np.ndarray
    source: str  # "dev" (data.dev) or "held-out" (val_clips of data.train)
    path: str


@dataclass
class _Fitted:
    """One trained probe before the test split is read: its encoder (in eval mode), heads and what it chose."""

    encoder: SpatialEncoder
    heads: ProbeHeads
    fit: FitResult
    model: ProbeModel | None = None  # finetune / scratch
    encoder_seed: int | None = None
    lr: float | None = None


def run_probe(config: ProbeConfig, *, overwrite: bool = False, allow_cpu: bool = False) -> ProbeOutcome:
    """Run one probe and write its result directory (``metrics.json``, ``config.yaml``, ``history.csv``,
    ``predictions.csv``, ``model.pt``, PNG plots; see docs/evaluation.md).

    Order: the training and selection files are loaded, every fit and every choice (L2, epoch, learning rate) is
    made, and only then is the test split loaded and scored (its header and labels are checked up front).

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
                         "`simulate build`; data.dev names the selection split, dev.h5)")
    train_info, test_info = check_labels(config.data.train), check_labels(config.data.test)
    dev_info = check_labels(config.data.dev) if config.data.dev else None
    check_same_classes(train_info, test_info)
    if dev_info is not None:
        check_same_classes(train_info, dev_info)
    elif train_info.n_clips <= config.data.val_clips + 1:
        raise DataError(f"{train_info.path}: {train_info.n_clips} clips, but data.val_clips={config.data.val_clips} "
                        "are held out for selection and at least 2 must remain for training; lower data.val_clips, "
                        "or give a dev split (data.dev)")
    if config.mode == "finetune" and config.optim.optimizer == "adam" and config.finetune.encoder_grad_scale < 1:
        warnings.warn("optim.optimizer=adam: Adam divides each parameter's step by its gradient's running RMS, so "
                      "the encoder gradient scale is almost cancelled (only eps and weight decay see it); use sgd "
                      "for the paper's scaled fine-tuning (docs/evaluation.md)", stacklevel=2)
    infos = [train_info, test_info] + ([dev_info] if dev_info is not None else [])
    encoder, source = build_encoder(config, *infos)
    setting = config.label or source["setting"]
    out = resolve_out_dir(config, setting)
    if (out / RESULT_FILE).exists() and not overwrite:
        raise ProbeError(f"{out} already holds a probe result ({RESULT_FILE}); pass --overwrite, or choose another "
                         "out_dir")
    placement = resolve_device(accelerator=config.trainer.accelerator, precision=config.trainer.precision,
                               allow_cpu=allow_cpu)
    device, autocast_dtype = placement.device, placement.autocast_dtype
    torch.manual_seed(config.seed)
    sample_rate = encoder.sample_rate
    crop = round(config.data.crop_seconds * sample_rate)
    hop = round(config.data.eval_hop_seconds * sample_rate)
    store_dtype = getattr(torch, config.data.store_dtype)
    train_store = load_store(train_info, device=device, dtype=store_dtype)
    if dev_info is not None:
        selection = _Selection(train_part=np.arange(train_info.n_clips), clips=np.arange(dev_info.n_clips),
                               store=load_store(dev_info, device=device, dtype=store_dtype), source="dev",
                               path=str(dev_info.path))
    else:
        train_part, val_clips = validation_split(train_info.n_clips, n_val=config.data.val_clips,
                                                 seed=config.data.val_seed)
        selection = _Selection(train_part=train_part, store=train_store, clips=val_clips, source="held-out",
                               path=str(train_info.path))
    train_part = selection.train_part
    part_labels = train_store.labels["label"][torch.as_tensor(train_part, device=device)].cpu().numpy()
    used = train_part[fraction_subset(part_labels, fraction=config.fraction, seed=config.seed)]
    if len(used) < 2:
        raise DataError(f"fraction {config.fraction} of {len(train_part)} training clips leaves {len(used)}; "
                        "training needs at least 2")
    swap = ChannelSwap(train_info.mic_offsets).to(device) if config.data.channel_swap else None
    n_sym = swap.n_symmetries if swap is not None else 1
    n_classes = len(train_info.class_names)
    batch = config.trainer.embed_batch_size
    w = config.heads.direction_weight
    cv = config.mode in LINEAR_MODES and config.linear.solver == "cv"
    l2_solver = config.mode in LINEAR_MODES and config.linear.solver != "sgd"  # no epochs: L2 chosen instead
    log.info("probe %s: %d training clips (fraction %g of %d), %d selection clips (%s), %d test; %s", config.mode,
             len(used), config.fraction, len(train_part), len(selection.clips), selection.source, test_info.n_clips,
             setting)

    def fresh_heads() -> ProbeHeads:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            return ProbeHeads(embed_dim=encoder.embed_dim, n_classes=n_classes, direction=config.heads.direction,
                              n_bins=config.heads.n_bins).to(device)

    fitted: list[_Fitted] = []
    sweep: list[dict] | None = None
    if config.mode in LINEAR_MODES:
        draws = config.linear.random_draws if config.mode == "random-linear" else 1
        for k in range(draws):
            torch.manual_seed(config.seed)
            seed_k = draw_seed(config.seed, k)
            enc = encoder if k == 0 else build_encoder(config, *infos, init_seed=seed_k)[0]
            enc, heads = enc.to(device), fresh_heads()
            fit, n_examples, steps, epochs = _linear(config, enc, heads, train_store, used, train_part, selection,
                                                     swap, crop, hop, batch, autocast_dtype,
                                                     torch.Generator().manual_seed(config.seed))
            fitted.append(_Fitted(encoder=enc, heads=heads, fit=fit,
                                  encoder_seed=seed_k if config.mode == "random-linear" else None))
        grad_scale = None  # frozen: no gradient reaches the encoder
    else:
        grad_scale = config.finetune.encoder_grad_scale if config.mode == "finetune" else 1.0
        epochs = config.finetune.epochs
        steps = steps_per_epoch(n_examples=len(used), n_reference=len(train_part),
                                batch_size=config.optim.batch_size, equal_steps=config.optim.equal_steps)
        runs = []
        for i, lr in enumerate(config.finetune.lr_grid or (config.optim.lr,)):
            torch.manual_seed(config.seed)  # each run of the sweep starts from the same state
            enc = (encoder if i == 0 else build_encoder(config, *infos)[0]).to(device)
            heads = fresh_heads()
            model = ProbeModel(enc, heads, encoder_grad_scale=grad_scale)
            fit = finetune(model, train_store=train_store, train_clips=used, val_store=selection.store,
                           val_clips=selection.clips, crop=crop, hop=hop, swap=swap,
                           optim=dataclasses.replace(config.optim, lr=lr), epochs=epochs, steps_per_epoch=steps,
                           eval_every=config.finetune.eval_every, direction_weight=w,
                           generator=torch.Generator().manual_seed(config.seed), embed_batch_size=batch,
                           autocast_dtype=autocast_dtype)
            runs.append(_Fitted(encoder=enc, heads=heads, fit=fit, model=model, lr=lr))
        best = _best_run(runs, select_on=config.optim.select_on)
        if config.finetune.lr_grid:
            sweep = [{"lr": r.lr, "best_epoch": r.fit.best_epoch, **{f"val_{k}": v for k, v in r.fit.best_val.items()},
                      "chosen": r is best} for r in runs]
            for r in runs:
                r.fit.history[:] = [{"lr": r.lr, **row} for row in r.fit.history]
            best.fit.history[:] = [row for r in runs for row in r.fit.history]
        fitted = [best]
        n_examples = len(used)

    # Every fit and every choice is made: only now is the test split read.
    test_store = load_store(test_info, device=device, dtype=store_dtype)
    test_clips = np.arange(test_info.n_clips)
    labels = test_store.labels
    columns = {k: labels[k].float().cpu().numpy() for k in ("azimuth_deg", "rt60_measured", "distance_m")}
    true_class = labels["label"].long().cpu().numpy()
    per_draw = []
    for f in fitted:
        if f.model is not None:
            test_emb = embed_with(f.model, test_store, test_clips, window=crop, hop=hop, batch_size=batch,
                                  autocast_dtype=autocast_dtype)
        else:
            test_emb = _embed_frozen(f.encoder, test_store, test_clips, crop=crop, hop=hop, batch=batch,
                                     autocast_dtype=autocast_dtype)
        _, pred_class, pred_az = evaluate_heads(f.heads, test_emb, direction_weight=w)
        per_draw.append((pred_class.cpu().numpy(), pred_az.cpu().numpy()))
    many = len(fitted) > 1
    predictions = {**({"draw": np.repeat(np.arange(len(fitted)), len(test_clips))} if many else {}),
                   "clip": np.tile(test_clips, len(fitted)), "label": np.tile(true_class, len(fitted)),
                   "predicted": np.concatenate([p for p, _ in per_draw]),
                   **{k: np.tile(v, len(fitted)) for k, v in columns.items()},
                   "predicted_azimuth_deg": np.concatenate([a for _, a in per_draw])}
    metric_args = {"class_names": train_info.class_names, "rt60_bin_s": config.metrics.rt60_bin_s,
                   "distance_bin_m": config.metrics.distance_bin_m}
    metrics = probe_metrics(  # over every draw's predictions: the mean accuracy and mean error over the draws
        predicted=predictions["predicted"], label=predictions["label"],
        predicted_azimuth=predictions["predicted_azimuth_deg"], azimuth=predictions["azimuth_deg"],
        rt60=predictions["rt60_measured"], distance=predictions["distance_m"], **metric_args)
    metrics["n_clips"], metrics["n_predictions"] = len(test_clips), len(predictions["clip"])  # K draws: K x clips
    first = fitted[0]
    metrics["val"] = first.fit.best_val
    if many:
        metrics["draws"] = []
        for k, (f, (pc, pa)) in enumerate(zip(fitted, per_draw, strict=True)):
            m = probe_metrics(predicted=pc, label=true_class, predicted_azimuth=pa, azimuth=columns["azimuth_deg"],
                              rt60=columns["rt60_measured"], distance=columns["distance_m"], **metric_args)
            metrics["draws"].append({"draw": k, "encoder_seed": f.encoder_seed, "accuracy": m["accuracy"],
                                     "azimuth_error_mean": m["azimuth_error_mean"],
                                     "azimuth_error_median": m["azimuth_error_median"], "val": f.fit.best_val})
    if sweep is not None:
        metrics["sweep"] = sweep
    metrics["run"] = {
        "mode": config.mode, "fraction": config.fraction, "seed": config.seed, "label": config.label,
        "setting": setting, **{k: source[k] for k in ("checkpoint", "checkpoint_sha256", "checkpoint_config_sha256")},
        "data": {"train": str(train_info.path), "dev": str(dev_info.path) if dev_info is not None else "",
                 "test": str(test_info.path)},
        "selection": {"on": selection.source, "file": selection.path, "clips": len(selection.clips)},
        "n_clips": {"train_file": train_info.n_clips, "train_part": len(train_part), "train_used": len(used),
                    "train_examples": n_examples, "val": len(selection.clips), "test": len(test_clips)},
        "channel_swap_copies": n_sym if config.mode in LINEAR_MODES else None,
        "solver": config.linear.solver if config.mode in LINEAR_MODES else None,
        "best_epoch": None if l2_solver else first.fit.best_epoch,
        "epochs": None if l2_solver else epochs,
        "steps_per_epoch": None if l2_solver else steps,
        "select_on": None if cv else ("dev score per head" if config.mode in LINEAR_MODES
                                      and config.linear.solver == "dev" else config.optim.select_on),
        "lr": first.lr, "random_draws": len(fitted) if config.mode == "random-linear" else None,
        "direction_head": config.heads.direction,
        "encoder_grad_scale": grad_scale, "bn_stats": config.linear.bn_stats if config.mode in LINEAR_MODES else None,
        "features": source["features"], "encoder": source["encoder"], "device": str(device),
        "package_version": mcsimclr.__version__, "wall_time_s": round(time.perf_counter() - started, 3),
    }
    history = [({"draw": k} if many else {}) | row for k, f in enumerate(fitted) for row in f.fit.history]
    state = {"heads": first.heads.state_dict(),
             "encoder": None if config.mode in LINEAR_MODES else first.encoder.encoder.state_dict()}
    if many:
        state["draw_heads"] = [f.heads.state_dict() for f in fitted]
    write_result(out, metrics=metrics, config_yaml=dump_yaml(config), history=history, predictions=predictions,
                 class_names=train_info.class_names, state=state)
    val = first.fit.best_val
    chosen = (f"L2 {val['l2_class']:g} (class), {val['l2_direction']:g} (direction) by "
              + (f"{val['folds']}-fold cross-validation" if cv else "the dev split")
              if l2_solver
              else f"best epoch {first.fit.best_epoch}" + (f", lr {first.lr:g}" if sweep else ""))
    log.info("probe %s: accuracy %.1f %%, azimuth error %.1f deg (mean)%s, %s; %s", config.mode,
             metrics["accuracy"], metrics["azimuth_error_mean"], f" over {len(fitted)} draws" if many else "",
             chosen, out)
    return ProbeOutcome(out_dir=out, metrics=metrics, encoder=first.encoder, heads=first.heads)


def _best_run(runs: list[_Fitted], *, select_on: str) -> _Fitted:
    """The run whose selected epoch scores best on ``select_on`` (``accuracy`` maximised, others minimised; ties
    and non-finite values: the earlier run of the grid)."""
    sign = -1.0 if select_on == "accuracy" else 1.0
    best = runs[0]
    for run in runs[1:]:
        value, incumbent = run.fit.best_val[select_on], best.fit.best_val[select_on]
        if np.isfinite(value) and (not np.isfinite(incumbent) or sign * value < sign * incumbent):
            best = run
    return best


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


def _embed_frozen(encoder: SpatialEncoder, store: ClipStore, clips: np.ndarray, *, crop: int, hop: int, batch: int,
                  autocast_dtype: torch.dtype | None, swap: ChannelSwap | None = None) -> Embedded:
    """Window-averaged embeddings of whole clips by a frozen encoder (eval mode, no gradient)."""
    return embed_clips(_frozen_forward(encoder, store.device, autocast_dtype), store, clips, window=crop, hop=hop,
                       batch_size=batch, swap=swap)


def _frozen_forward(encoder: SpatialEncoder, device: torch.device,
                    autocast_dtype: torch.dtype | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``audio (batch, mics, samples) -> embedding (batch, dim)`` by ``encoder`` under the run's autocast."""
    def forward(x: torch.Tensor) -> torch.Tensor:
        with autocast_context(device, autocast_dtype):
            return encoder(x)
    return forward


def _linear(config: ProbeConfig, encoder: SpatialEncoder, heads: ProbeHeads, train_store: ClipStore,
            used: np.ndarray, train_part: np.ndarray, selection: _Selection, swap: ChannelSwap | None, crop: int,
            hop: int, batch: int, autocast_dtype: torch.dtype | None,
            generator: torch.Generator) -> tuple[FitResult, int, int, int]:
    """Linear probe: (optionally) recompute BN statistics, embed every clip once, fit the heads on the cache
    (``linear.solver``: SGD with epoch selection on the selection clips, L2 chosen on them (``dev``), or L2 chosen
    by cross-validation over the training clips (``cv``)).

    Returns:
        the fit, the number of training examples (clips x ChannelSwap copies), steps per epoch and epochs (0 for the
        L2 solvers).
    """
    encoder.eval()  # and every forward below runs under torch.no_grad (embed_clips)
    if config.linear.bn_stats == "recompute":
        recompute_bn_stats(encoder, (a for _, a in window_batches(train_store, used, window=crop, hop=hop,
                                                                  batch_size=batch, swap=swap)),
                           forward=_frozen_forward(encoder, train_store.device, autocast_dtype))
    frozen = {"crop": crop, "hop": hop, "batch": batch, "autocast_dtype": autocast_dtype}
    train = _embed_frozen(encoder, train_store, used, swap=swap, **frozen)
    if config.linear.solver == "cv":
        return fit_cv_heads(heads, train, k=config.linear.cv_folds, seed=config.seed), len(train), 0, 0
    val = _embed_frozen(encoder, selection.store, selection.clips, **frozen)
    if config.linear.solver == "dev":
        return fit_dev_heads(heads, train, val), len(train), 0, 0
    n_sym = swap.n_symmetries if swap is not None else 1
    steps = steps_per_epoch(n_examples=len(train), n_reference=len(train_part) * n_sym,
                            batch_size=config.optim.batch_size, equal_steps=config.optim.equal_steps)
    fit = train_linear_heads(heads, train, val, optim=config.optim, epochs=config.linear.epochs, steps_per_epoch=steps,
                             direction_weight=config.heads.direction_weight, generator=generator)
    return fit, len(train), steps, config.linear.epochs
