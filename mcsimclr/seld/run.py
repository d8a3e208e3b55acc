"""``mcsimclr seld``: check the scene files and the checkpoint, train a multi-ACCDOA head (and the encoder) on the
train split, select the epoch on dev, score the test split once, and write a result directory.

Modes (docs/evaluation.md, "SELD"): ``linear`` (pretrained encoder frozen, head on frame features computed once
per ChannelSwap symmetry), ``finetune`` (encoder and head, encoder gradient scaled), ``scratch`` (a random encoder
of the checkpoint's architecture, trained fully) and ``random-linear`` (a random encoder frozen, the linear
head). The test file's audio and labels are read only after the selected weights are fixed.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import mcsimclr
from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.core.config import dump_yaml
from mcsimclr.core.device import resolve_device
from mcsimclr.core.errors import DataError
from mcsimclr.data.data_info import DataInfo, check_compatible, read_data_info
from mcsimclr.probe.bn_stats import recompute_bn_stats
from mcsimclr.probe.config import LINEAR_MODES
from mcsimclr.probe.finetune import autocast_context
from mcsimclr.probe.labelled_data import check_same_classes
from mcsimclr.probe.run import build_encoder
from mcsimclr.probe.setting import slug
from mcsimclr.seld.config import SeldConfig
from mcsimclr.seld.data import (
    SceneSet,
    fraction_scenes,
    gather_windows,
    load_scenes,
    scene_distances_known,
    swap_windows,
    symmetry_matrices,
    tiling_windows,
)
from mcsimclr.seld.evaluate import labels_arrays, predict_scenes, score
from mcsimclr.seld.model import SeldModel
from mcsimclr.seld.result_dir import RESULT_FILE, write_seld_result
from mcsimclr.seld.training import SeldFit, fit_end_to_end, fit_linear_head

log = logging.getLogger(__name__)


class SeldError(ValueError):
    """A SELD run that cannot go as configured; the message says what to change."""


@dataclass
class SeldOutcome:
    """What :func:`run_seld` leaves: the result directory, the metrics written there, and the trained model."""

    out_dir: Path
    metrics: dict
    model: SeldModel


def check_scene_files(config: SeldConfig) -> tuple[DataInfo, DataInfo, DataInfo]:
    """Headers of the train, dev and test files: each a scene file, one class list (nothing else of test read).

    Raises:
        SeldError: a path missing from the config.
        DataError: a clip file (use ``mcsimclr probe``), or class lists that differ (naming both files).
    """
    paths = {"train": config.data.train, "dev": config.data.dev, "test": config.data.test}
    missing = [k for k, v in paths.items() if not v]
    if missing:
        raise SeldError(f"data.{', data.'.join(missing)} must name scene files (`simulate scenes` output: train.h5, "
                        "dev.h5, test.h5; for recordings without a dev fold, such as STARSS23's, "
                        "source.dcase.hold_out makes one: docs/dataset.md)")
    infos = {}
    for name, path in paths.items():
        info = read_data_info(path)
        if info.kind != "scenes":
            raise DataError(f"{info.path}: a clip file (`simulate build`, one label per clip), given as data.{name}; "
                            "`mcsimclr seld` needs scene files from `simulate scenes` (frame labels). To evaluate "
                            "clip files use `mcsimclr probe`")
        infos[name] = info
    check_same_classes(infos["train"], infos["dev"])
    check_same_classes(infos["train"], infos["test"])
    return infos["train"], infos["dev"], infos["test"]


def resolve_with_distance(config: SeldConfig, train: DataInfo, dev: DataInfo) -> bool:
    """``heads.distance`` resolved on the train and dev files (``auto``: both have every distance)."""
    known = scene_distances_known(train.path) and scene_distances_known(dev.path)
    if config.heads.distance == "auto":
        return known
    if config.heads.distance and not known:
        raise DataError(f"heads.distance=true, but {train.path} or {dev.path} has active events without a distance; "
                        "set heads.distance=false or auto")
    return bool(config.heads.distance)


def resolve_out_dir(config: SeldConfig, setting: str) -> Path:
    """``config.out_dir`` with ``{mode}``, ``{fraction}``, ``{seed}`` and ``{setting}`` filled in."""
    try:
        return Path(config.out_dir.format(mode=config.mode, fraction=f"{config.fraction:g}", seed=config.seed,
                                          setting=slug(setting)))
    except (KeyError, IndexError, ValueError) as err:
        raise SeldError(f"out_dir {config.out_dir!r}: unknown placeholder {err}; use {{mode}}, {{fraction}}, "
                        "{seed} or {setting}") from err


def run_seld(config: SeldConfig, *, overwrite: bool = False, allow_cpu: bool = False) -> SeldOutcome:
    """Run one SELD evaluation and write its result directory (module docstring; docs/evaluation.md).

    Raises:
        SeldError, DataError, CheckpointError: with a message saying what to change.
        DeviceError: a GPU asked for and none here, without ``allow_cpu``.
    """
    started = time.perf_counter()
    train_info, dev_info, test_info = check_scene_files(config)
    if config.mode == "finetune" and config.optim.optimizer == "adam" and config.finetune.encoder_grad_scale < 1:
        warnings.warn("optim.optimizer=adam: Adam divides each parameter's step by its gradient's running RMS, so "
                      "the encoder gradient scale is almost cancelled; use optim.optimizer=sgd for the paper's "
                      "scaled fine-tuning (docs/evaluation.md, SELD)", stacklevel=2)
    encoder, source = build_encoder(config, train_info, dev_info)  # checkpoint vs data: sample rate and array
    what = (f"the checkpoint {config.checkpoint} (its features and array)" if config.checkpoint
            else "the seld model.features config")
    check_compatible([train_info, dev_info, test_info], sample_rate=encoder.sample_rate,
                     mic_offsets=encoder.mic_offsets, what=what)
    with_distance = resolve_with_distance(config, train_info, dev_info)
    setting = config.label or source["setting"]
    out = resolve_out_dir(config, setting)
    if (out / RESULT_FILE).exists() and not overwrite:
        raise SeldError(f"{out} already holds a SELD result ({RESULT_FILE}); pass --overwrite, or choose another "
                        "out_dir")
    placement = resolve_device(accelerator=config.trainer.accelerator, precision=config.trainer.precision,
                               allow_cpu=allow_cpu)
    device, autocast_dtype = placement.device, placement.autocast_dtype
    n_classes = len(train_info.class_names)
    scale = config.heads.distance_scale
    dtype = getattr(torch, config.data.store_dtype)
    train = load_scenes(train_info.path, n_classes=n_classes, with_distance=with_distance, distance_scale=scale,
                        device=device, dtype=dtype)
    dev = load_scenes(dev_info.path, n_classes=n_classes, with_distance=with_distance, distance_scale=scale,
                      device=device, dtype=dtype)
    window_frames = round(config.data.window_seconds / train.hop_s)
    if window_frames < 1 or abs(window_frames * train.hop_s - config.data.window_seconds) > 1e-6:
        raise SeldError(f"data.window_seconds={config.data.window_seconds} is not a whole number of {train.hop_s} s "
                        f"label frames (the windows are aligned to them)")
    used = fraction_scenes(len(train), fraction=config.fraction, seed=config.seed)
    swap = ChannelSwap(train_info.mic_offsets).to(device) if config.data.channel_swap else None
    matrices = symmetry_matrices(swap).to(device) if swap is not None else None
    n_sym = swap.n_symmetries if swap is not None else 1
    grad = config.finetune.encoder_grad_scale if config.mode == "finetune" else 1.0
    encoder = encoder.to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = SeldModel(encoder, n_classes=n_classes, with_distance=with_distance,
                          encoder_grad_scale=grad).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    reference_windows = len(tiling_windows(train.n_frames, np.arange(len(train)), window_frames=window_frames))

    def autocast():
        return autocast_context(device, autocast_dtype)

    def predict(audio: torch.Tensor, n_frames: int) -> torch.Tensor:
        with autocast():
            return model(audio, n_frames).float()

    def dev_eval() -> dict:
        preds = predict_scenes(predict, dev, n_classes=n_classes, with_distance=with_distance, distance_scale=scale)
        return score(preds, dev.labels, n_classes=n_classes, use_distance=with_distance)

    log.info("seld %s: %d of %d training scenes (fraction %g), %d dev scenes, %d-frame windows, %s", config.mode,
             len(used), len(train), config.fraction, len(dev), window_frames, setting)
    train_started = time.perf_counter()
    if config.mode in LINEAR_MODES:
        fit, n_examples = _linear(config, model, train, used, window_frames, swap, matrices, autocast, dev_eval,
                                  reference_windows * n_sym, generator)
        epochs = config.linear.epochs
    else:
        epochs = config.finetune.epochs
        steps = max(1, math.ceil(reference_windows / config.optim.batch_size))
        fit = fit_end_to_end(model, data=train, scenes=used, window_frames=window_frames, swap=swap,
                             matrices=matrices, optim=config.optim, lr=config.finetune.lr, epochs=epochs,
                             steps_per_epoch=steps, dev_eval=dev_eval, generator=generator, autocast=autocast,
                             active_weight=config.loss.active_weight)
        n_examples = steps * config.optim.batch_size * epochs
    train_s = time.perf_counter() - train_started
    # The selected weights are fixed: only now are the test scenes read, and scored once.
    test_started = time.perf_counter()
    test = load_scenes(test_info.path, n_classes=n_classes, with_distance=False, distance_scale=scale,
                       device=device, dtype=dtype)
    use_distance = with_distance and all(lab.has_distance for lab in test.labels)
    predictions = predict_scenes(predict, test, n_classes=n_classes, with_distance=with_distance,
                                 distance_scale=scale)
    metrics = score(predictions, test.labels, n_classes=n_classes, use_distance=use_distance)
    test_s = time.perf_counter() - test_started
    metrics["dev"] = fit.selection.metrics
    metrics["run"] = {
        "mode": config.mode, "fraction": config.fraction, "seed": config.seed, "label": config.label,
        "setting": setting, **{k: source[k] for k in ("checkpoint", "checkpoint_sha256", "checkpoint_config_sha256")},
        "data": {"train": str(train_info.path), "dev": str(dev_info.path), "test": str(test_info.path)},
        "n_scenes": {"train_file": train_info.n_clips, "train_used": len(used), "dev": dev_info.n_clips,
                     "test": test_info.n_clips},
        "train_scenes": used.tolist(), "train_examples": n_examples, "window_frames": window_frames,
        "with_distance": with_distance, "use_distance_in_test_metrics": use_distance,
        "channel_swap_symmetries": n_sym, "selected_epoch": fit.selection.epoch, "epochs": epochs,
        "select_on": "dev dcase2024 F20 (ties: lower DOAE_CD)", "encoder_grad_scale":
            None if config.mode in LINEAR_MODES else grad,
        "bn_stats": config.linear.bn_stats if config.mode in LINEAR_MODES else None,
        "class_names": list(train_info.class_names), "features": source["features"], "encoder": source["encoder"],
        "device": str(device), "package_version": mcsimclr.__version__,
        "timings_s": {"train_and_dev": round(train_s, 3), "test": round(test_s, 3),
                      "total": round(time.perf_counter() - started, 3)},
    }
    write_seld_result(out, metrics=metrics, config_yaml=dump_yaml(config), history=fit.history,
                      predictions=labels_arrays(predictions),
                      state={"head": model.head.state_dict(),
                             "encoder": None if config.mode in LINEAR_MODES else model.encoder.encoder.state_dict()})
    m = metrics["dcase2024"]
    log.info("seld %s: test F20 %.3f, DOAE_CD %.1f deg (epoch %d selected on dev); %s", config.mode, m["F20"],
             m["DOAE_CD"], fit.selection.epoch, out)
    return SeldOutcome(out_dir=out, metrics=metrics, model=model)


def _linear(config: SeldConfig, model: SeldModel, train: SceneSet, used: np.ndarray, window_frames: int,
            swap: ChannelSwap | None, matrices: torch.Tensor | None, autocast, dev_eval, n_reference: int,
            generator: torch.Generator) -> tuple[SeldFit, int]:
    """Frozen encoder (eval mode): frame features of the tiling windows of the used scenes, once per symmetry;
    then the head alone is trained on them."""
    encoder = model.encoder
    encoder.eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    rows = tiling_windows(train.n_frames, used, window_frames=window_frames)
    batch = config.trainer.eval_batch
    symmetries = range(swap.n_symmetries) if swap is not None else [0]

    def batches():
        for s in symmetries:
            for i in range(0, len(rows), batch):
                audio, events, count = gather_windows(train, rows[i:i + batch], window_frames=window_frames)
                if swap is not None:
                    index = torch.full((len(audio),), s, dtype=torch.long, device=audio.device)
                    audio, events = swap_windows(swap, matrices, audio, events, index)
                yield audio, events, count

    def frames(audio: torch.Tensor) -> torch.Tensor:
        with autocast():
            return model.label_frame_features(audio, window_frames).float()

    if config.linear.bn_stats == "recompute":
        recompute_bn_stats(encoder, (a for a, _, _ in batches()), forward=frames)
    feats, events, counts = [], [], []
    with torch.no_grad():
        for audio, ev, cnt in batches():
            feats.append(frames(audio))
            events.append(ev)
            counts.append(cnt)
    features = torch.cat(feats)
    steps = max(1, math.ceil(n_reference / config.optim.batch_size))
    fit = fit_linear_head(model.head, features=features, events=torch.cat(events), count=torch.cat(counts),
                          optim=config.optim, lr=config.linear.lr, epochs=config.linear.epochs, steps_per_epoch=steps,
                          dev_eval=dev_eval, generator=generator, active_weight=config.loss.active_weight)
    return fit, int(features.shape[0])
