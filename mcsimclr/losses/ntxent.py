"""NT-Xent, the SimCLR contrastive loss (Chen et al. 2020, Eq. 1), with negatives gathered across processes."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from mcsimclr.losses.all_gather import all_gather_with_grad, distributed_world_size


class NTXentLoss(nn.Module):
    """Normalised-temperature cross entropy of positive pairs ``(z1[i], z2[i])`` against all other examples.

    With ``u = z / ||z||`` and the 2N vectors ``u_1 .. u_2N`` of a batch of N pairs, anchor ``k`` with positive
    ``p(k)`` contributes ``l_k = -log( exp(u_k.u_p(k) / T) / sum_{j != k} exp(u_k.u_j / T) )``: one positive and
    2N-2 negatives (every view of every other pair). The loss is the mean of ``l_k`` over the 2N anchors (both
    directions, so it is symmetric in ``z1``, ``z2``).

    Temperature: ``T = 0.1`` by default, SimCLR's value for large batches (their Table 5 / Appendix B.9: lower T
    is better with batch >= 512 and L2-normalised outputs); the paper's value is not known. Configurable.

    Precision: logits are computed in float32 (float64 inputs stay float64) with autocast disabled, so a bf16 or
    fp16 forward pass does not round ``1 / T``-scaled cosines before the softmax.

    Distributed (``gather_distributed=True``, torch.distributed initialised, world size W > 1): every process
    passes its own N/W pairs (the same number on every process, as DistributedSampler gives); the projections of
    all processes are gathered so each local anchor sees the 2N-2 negatives of the *global* batch, and its
    positive is found at its global index (rank-major order). Each process returns the mean over its own 2N/W
    anchors, so the mean of the W returned values equals the single-process loss of the whole batch. The gather
    sends every process's gradient back to the owner of each row (summed), so the gradient reaching process r's
    ``z1``/``z2`` is W times the single-process gradient of those rows; DDP's averaging of parameter gradients
    over processes divides by W again, so the parameter update is exactly that of the full-batch loss.
    """

    def __init__(self, *, temperature: float = 0.1, gather_distributed: bool = True) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.gather_distributed = gather_distributed

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Projections of the two views, ``z1, z2: (batch, dim)``, row i of each a positive pair -> scalar loss."""
        if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[1] < 1:
            raise ValueError(f"NTXentLoss expects z1, z2 of one shape (batch, dim), got {tuple(z1.shape)} and "
                             f"{tuple(z2.shape)}")
        world = distributed_world_size() if self.gather_distributed else 1
        n = z1.shape[0]
        if n * world < 2:
            raise ValueError(f"NTXentLoss needs at least 2 pairs in the (global) batch to have negatives, got "
                             f"{n} pair(s) on {world} process(es)")
        dtype = torch.promote_types(torch.promote_types(z1.dtype, z2.dtype), torch.float32)
        with torch.autocast(device_type=z1.device.type, enabled=False):
            u1 = F.normalize(z1.to(dtype), dim=1)  # (n, dim)
            u2 = F.normalize(z2.to(dtype), dim=1)
            rank = dist.get_rank() if world > 1 else 0
            all1 = all_gather_with_grad(u1) if world > 1 else u1  # (N, dim), N = world * n, rank-major
            all2 = all_gather_with_grad(u2) if world > 1 else u2
            total = all1.shape[0]
            anchors = torch.cat([u1, u2])  # (2n, dim): local anchors
            candidates = torch.cat([all1, all2])  # (2N, dim): view 1 of all pairs, then view 2
            logits = anchors @ candidates.T / self.temperature  # (2n, 2N)
            local = torch.arange(n, device=z1.device) + rank * n  # global index of each local pair
            self_idx = torch.cat([local, local + total])  # (2n,): where each anchor sits among the candidates
            positive_idx = torch.cat([local + total, local])  # (2n,): its other view
            is_self = F.one_hot(self_idx, 2 * total).bool()  # (2n, 2N)
            logits = logits.masked_fill(is_self, float("-inf"))
            return F.cross_entropy(logits, positive_idx)
