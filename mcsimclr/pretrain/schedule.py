"""Learning-rate schedule of the paper: linear warm-up, then cosine decay to 0 (applied per step)."""

from __future__ import annotations

import math


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int) -> float:
    """Factor on the base learning rate at optimiser step ``step`` (0-based).

    Rises linearly from ``1 / warmup_steps`` to 1 over ``warmup_steps`` steps, then follows
    ``0.5 (1 + cos(pi t))`` with ``t`` going from 0 to 1 over the remaining steps, reaching 0 at ``total_steps``.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay = max(total_steps - warmup_steps, 1)
    t = min((step - warmup_steps) / decay, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * t))
