"""Contrastive losses (plain ``nn.Module`` s, no Lightning)."""

from mcsimclr.losses.all_gather import all_gather_with_grad, distributed_world_size
from mcsimclr.losses.ntxent import NTXentLoss

__all__ = ["NTXentLoss", "all_gather_with_grad", "distributed_world_size"]
