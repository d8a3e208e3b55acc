"""The interface of a room impulse response simulator, and the errors for asking for a missing one."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from simulate.geometry import Scene
from simulate.tail import DiffuseTail


class BackendUnavailable(RuntimeError):
    """A backend that is unknown, or whose package or device is missing here."""


class RIRBackend(abc.ABC):
    """Computes the impulse responses from one source to every microphone of a shoebox room.

    Every backend returns RIRs whose sample 0 is the moment the source emits (no processing latency), so
    the direct path of a mic at distance d arrives at ``d / c * sample_rate`` samples, whatever the backend.
    Backends take a list of scenes so that GPU backends can batch them.

    ``tail=True`` (default): image sources only up to the diffuse time ``T_diff`` of ``simulate.tail.DiffuseTail``
    (``att_diff_db``, ``att_max_db``), then its seeded tail, so the RT60 follows the target; ``self.tail`` is that
    ``DiffuseTail``, or ``None`` with ``tail=False``. ``self.diffuse`` is the ``DiffuseTail`` either way (its
    ``T_max`` bounds the RIR length of backends that need one).
    """

    name: ClassVar[str]

    def __init__(self, *, sample_rate: int, max_order: int | None, speed_of_sound: float,
                 air_absorption: bool = False, tail: bool = True, att_diff_db: float = 15.0,
                 att_max_db: float = 60.0) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if max_order is not None and max_order < 0:
            raise ValueError(f"max_order must be >= 0 or None, got {max_order}")
        self.sample_rate = sample_rate
        self.max_order = max_order
        self.speed_of_sound = speed_of_sound
        self.air_absorption = air_absorption
        self.diffuse = DiffuseTail(att_diff_db=att_diff_db, att_max_db=att_max_db)  # validates either way
        self.tail = self.diffuse if tail else None

    @abc.abstractmethod
    def rirs(self, scenes: Sequence[Scene]) -> list[tuple[np.ndarray, int]]:
        """For each scene: the RIRs ``(mics, rir_samples)`` (float64, one length for all mics) and the
        image-source order used."""

    @staticmethod
    @abc.abstractmethod
    def version() -> str:
        """The version of the underlying simulator, stored in every output file."""

    def order_for(self, scene: Scene) -> int:
        """Image-source order, capped by ``max_order``: with the tail, the order that holds every arrival before
        ``T_diff``; without, what the RT60 needs (the largest sphere of images within ``c * rt60``, as in
        pyroomacoustics' ``inverse_sabine``)."""
        if self.tail is not None:
            needed = self.tail.image_order(scene, speed_of_sound=self.speed_of_sound)
        else:
            dims = scene.room_dims
            radii = [a * b / np.hypot(a, b) for a, b in ((dims[0], dims[1]), (dims[0], dims[2]), (dims[1], dims[2]))]
            needed = max(int(np.ceil(self.speed_of_sound * scene.rt60_sabine / min(radii) - 1)), 0)
        return needed if self.max_order is None else min(needed, self.max_order)
