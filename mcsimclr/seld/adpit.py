"""ADPIT: auxiliary duplicating permutation invariant training of multi-ACCDOA outputs (Shimada et al., ICASSP
2022), the loss of the DCASE 2022-2024 SELD baselines.

Per frame and class there are ``n`` events (0 to 3) and 3 output tracks. The allowed targets of the three tracks:
``n = 0``: all zero; ``n = 1``: the event on every track (duplicated); ``n = 2``: each track holds one of the two
events and both appear (6 arrangements); ``n = 3``: the 6 permutations. The loss of a frame and class is the mean
squared error of the best allowed target (the minimum over them), averaged over batch, frames and classes. Built as
13 candidate targets per frame and class (the baseline's A0A0A0, 6 B arrangements, 6 C permutations; a class-frame
with fewer distinct arrangements repeats one), so the minimum is one vectorised reduction.
"""

from __future__ import annotations

import itertools

import torch

from mcsimclr.seld.accdoa import TRACKS

# Slot of each track in each candidate, for 2 events (6 arrangements using both) and 3 events (6 permutations).
_TWO = [p for p in itertools.product(range(2), repeat=TRACKS) if set(p) == {0, 1}]
_THREE = list(itertools.permutations(range(3)))
CANDIDATES = 13


def adpit_targets(events: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """All candidate targets: ``events (batch, frames, classes, 3, coords)``, ``count (batch, frames, classes)``
    -> ``(CANDIDATES, batch, frames, classes, tracks, coords)``."""
    zeros = torch.zeros_like(events[..., 0, :])  # (batch, frames, classes, coords)
    one = events[..., 0, :]
    candidates = []
    for k in range(CANDIDATES):
        two = _TWO[k] if k < len(_TWO) else _TWO[0]
        three = _THREE[k] if k < len(_THREE) else _THREE[0]
        tracks = []
        for t in range(TRACKS):
            by_count = torch.stack([zeros, one, events[..., two[t], :], events[..., three[t], :]], dim=0)
            tracks.append(by_count.gather(0, count.clamp(max=3)[None, ..., None].expand(1, *zeros.shape))[0])
        candidates.append(torch.stack(tracks, dim=-2))  # (batch, frames, classes, tracks, coords)
    return torch.stack(candidates, dim=0)


def adpit_loss(output: torch.Tensor, events: torch.Tensor, count: torch.Tensor, *,
               active_weight: float = 1.0) -> torch.Tensor:
    """The ADPIT loss (module docstring), a scalar.

    Args:
        output: ``(batch, frames, tracks, coords, classes)`` multi-ACCDOA output.
        events: ``(batch, frames, classes, 3, coords)`` from ``accdoa.class_events`` (per scene, stacked).
        count: ``(batch, frames, classes)`` events per frame and class.
        active_weight: weight of a class-frame with an event relative to an empty one (1: the plain mean, the
            baseline's loss); the result is the weighted mean ``sum(w * e) / sum(w)`` over batch, frames and
            classes. Active class-frames are few (a few % of them in the demo scenes), and with weight 1 a small
            model learns to output nothing (docs/results.md, "SELD", dev trials).
    """
    if active_weight <= 0:
        raise ValueError(f"active_weight must be > 0, got {active_weight}")
    if output.ndim != 5 or output.shape[2] != TRACKS:
        raise ValueError(f"output must be (batch, frames, {TRACKS}, coords, classes), got {tuple(output.shape)}")
    pred = output.permute(0, 1, 4, 2, 3)  # (batch, frames, classes, tracks, coords)
    if pred.shape != (*events.shape[:3], TRACKS, events.shape[-1]):
        raise ValueError(f"output {tuple(output.shape)} does not match events {tuple(events.shape)}")
    targets = adpit_targets(events.to(pred.dtype), count)
    errors = ((pred[None] - targets) ** 2).mean(dim=(-2, -1))  # (candidates, batch, frames, classes)
    best = errors.min(dim=0).values  # (batch, frames, classes)
    if active_weight == 1.0:
        return best.mean()
    weights = torch.where(count > 0, active_weight, 1.0).to(best.dtype)
    return (best * weights).sum() / weights.sum()
