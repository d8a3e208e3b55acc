"""All-gather that keeps autograd: every process gets the whole batch, gradients flow back to their owners."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist


def distributed_world_size() -> int:
    """The number of processes of the default group, or 1 when torch.distributed is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _AllGatherWithGrad(torch.autograd.Function):
    """Forward: ``(n, ...)`` on each of W processes -> ``(W * n, ...)``, rank r's rows at ``r*n : (r+1)*n``.

    Backward: the gradient of every process's output is summed over processes (all_reduce) and each process keeps
    the rows of its own input. So process r receives ``sum_p d loss_p / d x_r``: the gradient of the *sum* of the
    per-process losses. ``all_reduce`` works on every backend (gloo has no reduce_scatter).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)  # all_reduce works in place
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``(n, ...)`` per process -> ``(world_size * n, ...)`` in rank order, differentiable (see the class above).

    Every process must pass the same shape. Without an initialised process group (or with one process) returns
    ``x`` itself.
    """
    if distributed_world_size() == 1:
        return x
    return _AllGatherWithGrad.apply(x)
