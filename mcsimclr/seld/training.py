"""The two SELD training loops (plain PyTorch, one device): the linear head on cached frame features, and the
encoder with its head on random training windows. Both evaluate on dev after every epoch and keep the selected
epoch (:class:`~mcsimclr.seld.selection.DevSelection`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.seld.adpit import adpit_loss
from mcsimclr.seld.config import SeldOptimConfig
from mcsimclr.seld.data import SceneSet, draw_windows, gather_windows, swap_windows
from mcsimclr.seld.model import AccdoaHead, SeldModel
from mcsimclr.seld.selection import DevSelection

DevEval = Callable[[], dict]


@dataclass
class SeldFit:
    """What a loop leaves: the selection (epoch, dev metrics) and one history row per epoch."""

    selection: DevSelection
    history: list[dict]


def make_optimizer(params: Iterable[nn.Parameter], cfg: SeldOptimConfig, *, lr: float) -> torch.optim.Optimizer:
    """Adam (default) or SGD with momentum at ``lr`` with ``cfg.weight_decay``."""
    params = list(params)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _row(epoch: int, loss: float, metrics: dict) -> dict:
    m = metrics["dcase2024"]
    return {"epoch": epoch, "train_loss": loss, "dev_F20": m["F20"], "dev_DOAE_CD": m["DOAE_CD"],
            "dev_ER20": m["ER20"], "dev_LR_CD": m["LR_CD"], "dev_SELD_score": m["SELD_score"],
            "dev_RDE_CD": m.get("RDE_CD", float("nan"))}


def _train(module: nn.Module, step: Callable[[], torch.Tensor], *, opt: torch.optim.Optimizer, epochs: int,
           steps_per_epoch: int, dev_eval: DevEval, device: torch.device) -> SeldFit:
    """The loop both fits share: ``steps_per_epoch`` optimiser steps on ``step()``'s loss per epoch (train mode),
    then the dev metrics (eval mode) and the selection; ``module`` is left at the selected epoch, in eval mode."""
    selection, history = DevSelection(), []
    for epoch in range(epochs):
        module.train()
        total = torch.zeros((), dtype=torch.float64, device=device)
        for _ in range(steps_per_epoch):
            loss = step()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach().double()
        module.eval()
        metrics = dev_eval()
        selection.update(epoch, metrics, module)
        history.append(_row(epoch, float(total) / steps_per_epoch, metrics))
    selection.restore(module)
    module.eval()
    return SeldFit(selection=selection, history=history)


def fit_linear_head(head: AccdoaHead, *, features: torch.Tensor, events: torch.Tensor, count: torch.Tensor,
                    optim: SeldOptimConfig, lr: float, epochs: int, steps_per_epoch: int, dev_eval: DevEval,
                    generator: torch.Generator, active_weight: float = 1.0) -> SeldFit:
    """Train ``head`` on cached features and leave it at the selected epoch (eval mode).

    Args:
        features: ``(n, frames, dim)`` frame features of the training windows (all ChannelSwap copies).
        events: ``(n, frames, classes, 3, coords)`` ADPIT events of the same windows (transformed alike).
        count: ``(n, frames, classes)``.
        dev_eval: dev metrics of the current head (``evaluate.score`` output).
        active_weight: ADPIT weight of the class-frames with an event (``adpit_loss``).
    """
    n = features.shape[0]
    batch = min(optim.batch_size, n)

    def step() -> torch.Tensor:
        idx = torch.randint(n, (batch,), generator=generator).to(features.device)
        return adpit_loss(head(features[idx]), events[idx], count[idx], active_weight=active_weight)

    return _train(head, step, opt=make_optimizer(head.parameters(), optim, lr=lr), epochs=epochs,
                  steps_per_epoch=steps_per_epoch, dev_eval=dev_eval, device=features.device)


def fit_end_to_end(model: SeldModel, *, data: SceneSet, scenes: np.ndarray, window_frames: int,
                   swap: ChannelSwap | None, matrices: torch.Tensor | None, optim: SeldOptimConfig, lr: float,
                   epochs: int, steps_per_epoch: int, dev_eval: DevEval, generator: torch.Generator,
                   autocast: Callable[[], object], active_weight: float = 1.0) -> SeldFit:
    """Train encoder and head on random windows of ``scenes`` (a random symmetry per window) and leave the model
    at the selected epoch (eval mode).

    Each step: ``min(batch_size, ...)`` windows drawn by :func:`draw_windows`, ChannelSwap applied to audio and
    labels together, ADPIT loss (class-frames with an event weighted by ``active_weight``), one optimiser step.
    """
    batch = optim.batch_size
    n_frames = data.n_frames
    device = data.audio[0].device

    def step() -> torch.Tensor:
        rows = draw_windows(n_frames, scenes, window_frames=window_frames, batch=batch, generator=generator)
        audio, events, count = gather_windows(data, rows, window_frames=window_frames)
        if swap is not None:
            index = torch.randint(swap.n_symmetries, (batch,), generator=generator).to(device)
            audio, events = swap_windows(swap, matrices, audio, events, index)
        with autocast():
            out = model(audio, window_frames)
        return adpit_loss(out.float(), events, count, active_weight=active_weight)

    return _train(model, step, opt=make_optimizer(model.parameters(), optim, lr=lr), epochs=epochs,
                  steps_per_epoch=steps_per_epoch, dev_eval=dev_eval, device=device)
