"""Linear probing on cached embeddings: the encoder never runs here, so it cannot change."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mcsimclr.probe.config import ProbeOptimConfig
from mcsimclr.probe.embed import Embedded
from mcsimclr.probe.heads import ProbeHeads
from mcsimclr.probe.training import (
    BatchStream,
    BestEpoch,
    LossSum,
    evaluate_heads,
    host_to_device,
    make_optimizer,
    make_scheduler,
)


@dataclass
class FitResult:
    """What a training loop leaves: the selected epoch (1-based), its validation metrics, and one row per
    evaluated epoch (``epoch, steps, train_loss, val_loss, val_accuracy, val_azimuth_error``)."""

    best_epoch: int
    best_val: dict[str, float]
    history: list[dict[str, float]]


def train_linear_heads(heads: ProbeHeads, train: Embedded, val: Embedded, *, optim: ProbeOptimConfig, epochs: int,
                       steps_per_epoch: int, direction_weight: float, generator: torch.Generator) -> FitResult:
    """Train ``heads`` on ``train`` embeddings (mini-batches of ``optim.batch_size``), validate every epoch on
    ``val``, and leave ``heads`` at the selected epoch (``optim.select_on``) in eval mode.

    The embeddings are standardised with the exact mean and variance of ``train`` (fixed, not batch statistics):
    each head is then a linear model of the embedding trained on a convex loss.

    Args:
        heads: fresh heads, on the embeddings' device.
        train, val: embedded examples (see :func:`mcsimclr.probe.embed.embed_clips`).
        epochs, steps_per_epoch: length of training.
        direction_weight: weight of the direction loss.
        generator: CPU generator for the batches.
    """
    opt = make_optimizer(heads.parameters(), optim)
    sched = make_scheduler(opt, optim, epochs * steps_per_epoch)
    stream = BatchStream(len(train), batch_size=optim.batch_size, generator=generator)
    best = BestEpoch(optim.select_on)
    history = []
    heads.fix_standardisation(train.embedding)
    heads.train()
    for epoch in range(1, epochs + 1):
        total = LossSum()
        for _ in range(steps_per_epoch):
            idx = host_to_device(stream.next(), train.embedding.device)
            logits, direction = heads(train.embedding[idx])
            loss, _ = heads.loss(logits, direction, train.label[idx], train.azimuth_deg[idx],
                                 direction_weight=direction_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total.add(loss)
        metrics, _, _ = evaluate_heads(heads, val, direction_weight=direction_weight)
        history.append({"epoch": epoch, "steps": epoch * steps_per_epoch, "train_loss": total.mean(steps_per_epoch),
                        **{f"val_{k}": v for k, v in metrics.items()}})
        best.update(epoch, metrics, heads)
    best.restore(heads)
    heads.eval()
    return FitResult(best_epoch=best.epoch, best_val=best.metrics, history=history)
