"""Recompute an encoder's batch-norm running statistics on given data ("precise BN"), nothing else changed.

The recipe's prototype found that a random encoder's linear probe moves a lot with its batch-norm statistics:
a fresh ``BatchNorm`` holds mean 0 and variance 1, far from the statistics of log-Mel dB inputs. The probe's
default keeps every encoder's own stored statistics; ``linear.bn_stats: recompute`` calls this on the training
windows first, for the pretrained and the random encoder alike (docs/evaluation.md, "Batch norm").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, batches: Iterable[torch.Tensor],
                       forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> int:
    """Replace the running mean and variance of every batch-norm layer of ``model`` by their average over
    ``batches`` (cumulative average of the per-batch statistics, as ``momentum=None`` gives).

    Only batch-norm layers run in training mode; dropout and everything else stay in eval mode, weights are not
    touched, and ``model`` is left in eval mode with the layers' momentum restored.

    Args:
        model: holds the batch-norm layers.
        batches: model inputs.
        forward: how to run a batch (default ``model``).

    Returns:
        number of batch-norm layers updated (0: nothing to do).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    run = forward or model
    seen = 0
    try:
        for batch in batches:
            run(batch)
            seen += 1
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    if seen == 0:
        raise ValueError("recompute_bn_stats got no batches")
    return len(norms)
