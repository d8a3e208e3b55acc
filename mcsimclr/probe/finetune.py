"""Fine-tuning and supervised training from scratch: encoder and heads trained together on random crops.

A plain loop rather than a LightningModule: one process, one device, a few hundred steps, and the evaluation
(window-averaged embeddings of whole validation clips) and the selection of the best epoch are part of the
protocol. It is deterministic for a seed and easy to test; docs/evaluation.md, "Training loops".
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.data.clip_store import ClipStore
from mcsimclr.data.crops import draw_starts, gather_crops
from mcsimclr.probe.config import ProbeOptimConfig
from mcsimclr.probe.embed import Embedded, embed_clips
from mcsimclr.probe.linear_probe import FitResult
from mcsimclr.probe.probe_model import ProbeModel
from mcsimclr.probe.training import (
    BatchStream,
    BestEpoch,
    LossSum,
    evaluate_heads,
    host_to_device,
    make_optimizer,
    make_scheduler,
)


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` on ``device`` for ``dtype``, or a no-op for ``None`` (float32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def embed_with(model: ProbeModel, store: ClipStore, clips: np.ndarray, *, window: int, hop: int, batch_size: int,
               autocast_dtype: torch.dtype | None = None) -> Embedded:
    """Window-averaged embeddings of whole clips with ``model.encoder`` in eval mode (training mode restored)."""
    was_training = model.encoder.training
    model.encoder.eval()
    try:
        with autocast_context(store.device, autocast_dtype):
            return embed_clips(model.encoder, store, clips, window=window, hop=hop, batch_size=batch_size)
    finally:
        model.encoder.train(was_training)


def finetune(model: ProbeModel, *, train_store: ClipStore, train_clips: np.ndarray, val_store: ClipStore,
             val_clips: np.ndarray, crop: int, hop: int, swap: ChannelSwap | None, optim: ProbeOptimConfig,
             epochs: int, steps_per_epoch: int, eval_every: int, direction_weight: float,
             generator: torch.Generator, embed_batch_size: int = 256,
             autocast_dtype: torch.dtype | None = None) -> FitResult:
    """Train ``model`` (encoder in training mode, gradient scaled as the model says) and leave it at the selected
    epoch in eval mode.

    Each step: ``min(batch_size, n)`` clips of ``train_clips``, one random ``crop``-sample crop each (shorter clips
    zero-padded), a random ChannelSwap symmetry per clip with its azimuth label transformed (``swap``; ``None``
    for no augmentation), then the loss of both heads. Every ``eval_every`` epochs (and after the last) the
    validation clips are embedded by the window rule and scored; the best epoch by ``optim.select_on`` is kept.

    Args:
        model: encoder + heads, on the stores' device.
        train_store, train_clips: training clips (store indices).
        val_store, val_clips: validation clips.
        crop, hop: training crop and evaluation hop, samples (evaluation windows are ``crop`` long).
        swap: ChannelSwap of the data's array, or ``None``.
        optim, epochs, steps_per_epoch, eval_every, direction_weight: the recipe.
        generator: CPU generator for batches, crops and symmetries.
        embed_batch_size: windows per forward pass when evaluating.
        autocast_dtype: e.g. ``torch.bfloat16`` on a GPU; ``None`` runs float32.
    """
    device = train_store.device
    train_clips = np.asarray(train_clips, dtype=np.int64)
    # Batches, crops and symmetries are drawn on the CPU (the generator's device) from host copies of the clip
    # indices and lengths, and only then copied to the device: no step waits for the device.
    clips_cpu = torch.as_tensor(train_clips)
    lengths_cpu = train_store.lengths.cpu()
    opt = make_optimizer(model.parameters(), optim)
    sched = make_scheduler(opt, optim, epochs * steps_per_epoch)
    stream = BatchStream(len(train_clips), batch_size=optim.batch_size, generator=generator)
    best = BestEpoch(optim.select_on)
    history = []
    if swap is not None:
        swap = swap.to(device)
    for epoch in range(1, epochs + 1):
        model.train()
        total = LossSum()
        for _ in range(steps_per_epoch):
            idx_cpu = clips_cpu[stream.next()]
            idx = host_to_device(idx_cpu, device)
            lengths = train_store.lengths[idx]
            starts = host_to_device(draw_starts(lengths_cpu[idx_cpu], crop, generator=generator), device)
            audio = gather_crops(train_store.audio, train_store.offsets[idx], lengths, starts, crop).float()
            azimuth = train_store.labels["azimuth_deg"][idx].float()
            if swap is not None:
                sym = host_to_device(torch.randint(swap.n_symmetries, (len(idx),), generator=generator), device)
                audio, azimuth = swap.apply(audio, sym), swap.transform_azimuth(azimuth, sym)
            with autocast_context(device, autocast_dtype):
                logits, direction = model(audio)
            loss, _ = model.heads.loss(logits, direction, train_store.labels["label"][idx], azimuth,
                                       direction_weight=direction_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total.add(loss)
        if epoch % eval_every and epoch != epochs:
            continue
        val = embed_with(model, val_store, val_clips, window=crop, hop=hop, batch_size=embed_batch_size,
                         autocast_dtype=autocast_dtype)
        metrics, _, _ = evaluate_heads(model.heads, val, direction_weight=direction_weight)
        history.append({"epoch": epoch, "steps": epoch * steps_per_epoch, "train_loss": total.mean(steps_per_epoch),
                        **{f"val_{k}": v for k, v in metrics.items()}})
        best.update(epoch, metrics, model)
    best.restore(model)
    model.eval()
    return FitResult(best_epoch=best.epoch, best_val=best.metrics, history=history)
