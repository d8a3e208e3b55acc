"""Pieces shared by the probe's two training loops: optimiser, schedule, batches, evaluation, epoch selection."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from mcsimclr.metrics import azimuth_error_deg
from mcsimclr.pretrain.schedule import warmup_cosine
from mcsimclr.probe.config import ProbeOptimConfig
from mcsimclr.probe.embed import Embedded
from mcsimclr.probe.heads import ProbeHeads


def host_to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a CPU tensor to ``device`` without waiting for it: a plain ``.to("cuda")`` of pageable memory
    synchronises the stream, once per training step where the batch indices are drawn on the CPU."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


class LossSum:
    """The sum of a training loop's step losses, kept on their device (float64) and read once per epoch; the
    same number as summing ``float(loss)`` on the host step by step, without a host sync per step."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None

    def add(self, loss: torch.Tensor) -> None:
        value = loss.detach().double()
        self.total = value if self.total is None else self.total + value

    def mean(self, steps: int) -> float:
        return (float(self.total) if self.total is not None else 0.0) / steps


def make_optimizer(params: Iterable[nn.Parameter], cfg: ProbeOptimConfig) -> torch.optim.Optimizer:
    """SGD with momentum (default) or Adam, at ``cfg.lr`` with (coupled) ``cfg.weight_decay``."""
    params = list(params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected 'sgd' or 'adam'")


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: ProbeOptimConfig,
                   total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step factor on the learning rate: cosine decay to 0 over ``total_steps``, or constant."""
    if cfg.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, warmup_steps=0, total_steps=total_steps))


def steps_per_epoch(*, n_examples: int, n_reference: int, batch_size: int, equal_steps: bool) -> int:
    """Steps in one epoch: a pass over ``n_reference`` examples (the 100 % training set) when ``equal_steps``,
    else over the ``n_examples`` actually used."""
    n = n_reference if equal_steps else n_examples
    return max(1, math.ceil(n / batch_size))


class BatchStream:
    """An endless seeded stream of index batches over ``n`` examples: one random permutation after another,
    cut into batches of ``min(batch_size, n)`` (all batches the same size; a batch may span two permutations).

    Args:
        n: examples, >= 2.
        batch_size: wanted batch size.
        generator: CPU generator (seeded by the caller).
    """

    def __init__(self, n: int, *, batch_size: int, generator: torch.Generator) -> None:
        if n < 2:
            raise ValueError(f"training needs at least 2 examples (batch norm), got {n}")
        self.n, self.batch_size, self.generator = n, min(batch_size, n), generator
        self._buffer = torch.zeros(0, dtype=torch.long)

    def next(self) -> torch.Tensor:
        """``(batch_size,)`` long indices in ``[0, n)``."""
        while len(self._buffer) < self.batch_size:
            self._buffer = torch.cat([self._buffer, torch.randperm(self.n, generator=self.generator)])
        batch, self._buffer = self._buffer[: self.batch_size], self._buffer[self.batch_size :]
        return batch


@torch.no_grad()
def evaluate_heads(heads: ProbeHeads, data: Embedded, *, direction_weight: float,
                   batch_size: int = 4096) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Heads in eval mode on embedded clips.

    Returns:
        ``{"loss", "accuracy" (%), "azimuth_error" (mean, degrees)}``, predicted classes ``(n,)`` and predicted
        azimuths ``(n,)`` (degrees). The heads' training mode is restored.
    """
    was_training = heads.training
    heads.eval()
    try:
        logits, direction = [], []
        for i in range(0, len(data), batch_size):
            lo, di = heads(data.embedding[i : i + batch_size])
            logits.append(lo)
            direction.append(di)
        logits_t, direction_t = torch.cat(logits), torch.cat(direction)
        loss, _ = heads.loss(logits_t, direction_t, data.label, data.azimuth_deg, direction_weight=direction_weight)
        pred_class = logits_t.argmax(dim=1)
        pred_az = heads.coding.decode(direction_t)
    finally:
        heads.train(was_training)
    metrics = {
        "loss": float(loss),
        "accuracy": 100.0 * float((pred_class == data.label).float().mean()),
        "azimuth_error": float(azimuth_error_deg(pred_az, data.azimuth_deg.float()).mean()),
    }
    return metrics, pred_class, pred_az


@dataclass
class BestEpoch:
    """Keeps the state of the epoch with the best validation value of ``select_on`` (ties: the earlier epoch).

    ``loss`` and ``azimuth_error`` are minimised, ``accuracy`` maximised.
    """

    select_on: str
    epoch: int = -1
    value: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)
    state: dict | None = None

    def update(self, epoch: int, metrics: dict[str, float], module: nn.Module) -> bool:
        value = metrics[self.select_on]
        sign = -1.0 if self.select_on == "accuracy" else 1.0
        better = self.epoch < 0 or (math.isfinite(value) and not sign * value >= sign * self.value)
        if better:
            self.epoch, self.value, self.metrics = epoch, value, dict(metrics)
            self.state = copy.deepcopy(module.state_dict())
        return better

    def restore(self, module: nn.Module) -> None:
        if self.state is None:
            raise RuntimeError("no epoch was evaluated")
        module.load_state_dict(self.state)
