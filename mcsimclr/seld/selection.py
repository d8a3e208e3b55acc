"""Epoch selection on the dev split: the best DCASE 2024 F20, ties broken by the lower DOAE_CD, then the earlier
epoch."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from torch import nn


@dataclass
class DevSelection:
    """Keeps the state of the selected epoch and the dev metrics it had (``metrics["dcase2024"]``)."""

    epoch: int = -1
    f20: float = math.nan
    doae: float = math.nan
    metrics: dict = field(default_factory=dict)
    state: dict | None = None

    def update(self, epoch: int, metrics: dict, module: nn.Module) -> bool:
        f20 = float(metrics["dcase2024"]["F20"])
        doae = float(metrics["dcase2024"]["DOAE_CD"])
        doae_key = doae if math.isfinite(doae) else math.inf
        best_doae = self.doae if math.isfinite(self.doae) else math.inf
        better = self.epoch < 0 or f20 > self.f20 or (f20 == self.f20 and doae_key < best_doae)
        if better:
            self.epoch, self.f20, self.doae, self.metrics = epoch, f20, doae, metrics
            self.state = copy.deepcopy(module.state_dict())
        return better

    def restore(self, module: nn.Module) -> None:
        if self.state is None:
            raise RuntimeError("no epoch was evaluated on dev")
        module.load_state_dict(self.state)
