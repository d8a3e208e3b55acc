"""A progress display for a run made of stages: what runs, how long it took, and the time left."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


class Stages:
    """Announce stages ``[i/n]`` with an estimate, then report their time and an ETA for the rest.

    The ETA is the sum of the remaining stages' expected times (measured on a 2-core CPU). It is not scaled by how
    fast the finished stages went: simulation speed says little about training speed. Within a stage, the
    stage's own progress bar (tqdm, Lightning) shows its rate and ETA.
    """

    def __init__(self, names: Sequence[str], expected_seconds: Sequence[float],
                 log: Callable[[str], None] = print) -> None:
        if len(names) != len(expected_seconds):
            raise ValueError("one expected time per stage")
        self.names, self.expected, self.log = list(names), list(expected_seconds), log
        self.done: list[float] = []
        self.start = time.perf_counter()
        self._stage_start = 0.0

    def begin(self, index: int) -> None:
        self._stage_start = time.perf_counter()
        self.log(f"[{index + 1}/{len(self.names)}] {self.names[index]} (about {_fmt(self.eta_from(index))} left "
                 "in the demo)")

    def end(self, index: int) -> None:
        took = time.perf_counter() - self._stage_start
        self.done.append(took)
        left = self.eta_from(index + 1)
        self.log(f"[{index + 1}/{len(self.names)}] {self.names[index]}: done in {_fmt(took)}"
                 + (f"; about {_fmt(left)} left" if index + 1 < len(self.names) else
                    f"; total {_fmt(time.perf_counter() - self.start)}"))

    def eta_from(self, index: int) -> float:
        """Expected seconds for stages ``index..``."""
        return sum(self.expected[index:])


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
