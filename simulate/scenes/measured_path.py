"""The path of an event in a measured room: a sequence of measured source positions, one every
``seconds_per_position`` (``static``: one position; ``measured``: neighbouring positions stepped through).

Position ``k`` of the path is the current one over ``[k spp, (k + 1) spp)`` seconds from the onset (the last one
until the end); times are clamped to ``[0, duration_s]`` as for ``simulate.scenes.trajectory.Trajectory``, whose
interface (``positions``, ``directions``, ``speed``) this follows, so that labels and the scene file treat both
alike. Points are offsets from the array centre in the array's frame (``SofaRoom.positions``); directions are the
file's own (``SofaRoom.angles``), never recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MEASURED_KINDS: tuple[str, ...] = ("static", "measured")


@dataclass(frozen=True)
class MeasuredPath:
    """An event's measured positions in time.

    Attributes:
        kind: ``static`` (one position) or ``measured`` (steps through neighbouring positions).
        indices: the measured positions' indices in the SOFA file ``(K,)``.
        points: their offsets from the array centre ``(K, 3)``, metres, array frame.
        angles: their azimuth (deg), elevation (deg) and distance (m) ``(K, 3)``.
        seconds_per_position: how long each position is held.
        duration_s: the event's length.
    """

    kind: str
    indices: np.ndarray
    points: np.ndarray
    angles: np.ndarray
    seconds_per_position: float
    duration_s: float
    angular_speed_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in MEASURED_KINDS:
            raise ValueError(f"unknown measured path kind {self.kind!r}; choose one of {', '.join(MEASURED_KINDS)}")
        k = len(self.indices)
        if k < 1 or np.shape(self.points) != (k, 3) or np.shape(self.angles) != (k, 3):
            raise ValueError(f"a measured path needs K >= 1 indices (K,), points and angles (K, 3); got "
                             f"{np.shape(self.indices)}, {np.shape(self.points)}, {np.shape(self.angles)}")
        if self.kind == "static" and k != 1:
            raise ValueError(f"a static path has one position, got {k}")
        if not (self.seconds_per_position > 0 and math.isfinite(self.duration_s) and self.duration_s >= 0):
            raise ValueError(f"need seconds_per_position > 0 and duration_s >= 0, got {self.seconds_per_position}, "
                             f"{self.duration_s}")

    @property
    def speed(self) -> float:
        """0: a measured path has no drawn speed (``seconds_per_position`` sets its pace)."""
        return 0.0

    def current(self, times: np.ndarray | Sequence[float]) -> np.ndarray:
        """The path step current at ``times`` ``(n,)`` (seconds from the onset): indices into the path ``(n,)``."""
        t = np.clip(np.asarray(times, dtype=np.float64).reshape(-1), 0.0, self.duration_s)
        # The 1e-9 guard keeps a time that is a whole number of positions (up to rounding) on the later one.
        step = np.floor(t / self.seconds_per_position + 1e-9).astype(np.int64)
        return np.minimum(step, len(self.indices) - 1)

    def positions(self, times: np.ndarray | Sequence[float]) -> np.ndarray:
        """Offsets from the array centre ``(n, 3)`` of the positions current at ``times``."""
        return np.asarray(self.points)[self.current(times)]

    def directions(self, times: np.ndarray | Sequence[float]) -> np.ndarray:
        """Azimuth, elevation, distance ``(n, 3)`` of the positions current at ``times``."""
        return np.asarray(self.angles)[self.current(times)]


def positions_needed(duration_s: float, *, seconds_per_position: float) -> int:
    """Measured positions a moving event of ``duration_s`` steps through (at least 1)."""
    return max(math.ceil(duration_s / seconds_per_position - 1e-9), 1)
