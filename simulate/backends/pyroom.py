"""CPU backend: pyroomacoustics' image-source model (the fallback used in CI)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pyroomacoustics as pra

from simulate.backends.base import RIRBackend
from simulate.geometry import Scene
from simulate.tail import DiffuseTail


@contextlib.contextmanager
def _constants(**values: object) -> Iterator[None]:
    """Set pyroomacoustics' package-wide constants for the duration of a block, then restore them."""
    saved = {k: pra.constants.get(k) for k in values}
    for k, v in values.items():
        pra.constants.set(k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            pra.constants.set(k, v)


class PyroomacousticsBackend(RIRBackend):
    """Image-source RIRs from ``pyroomacoustics.ShoeBox``, uniform energy absorption on all walls.

    ``fs`` and ``max_order`` are always passed explicitly (pyroomacoustics defaults to 8 kHz and order 1).
    pyroomacoustics centres a fractional-delay filter of ``frac_delay_length`` taps on each arrival; the
    first ``frac_delay_length // 2`` samples are trimmed so that sample 0 is the emission time. Its 10 Hz
    high-pass on the RIR is turned off: it is zero-phase, so it smears a pedestal of ~2 % of the direct
    sound to before the direct sound arrives (acausal), and the other backends have no such filter.

    ``tail=True`` (default): image sources only up to ``T_diff`` (the order ``DiffuseTail.image_order`` gives,
    capped by ``max_order``), then the seeded diffuse tail of ``simulate.tail`` to ``T_max``, so the RT60
    follows the target; the order reported is the image-source order used. ``tail=False``: the plain image
    sources at the order the RT60 needs (``order_for``), capped by ``max_order``.
    """

    name = "pyroomacoustics"

    def __init__(self, *, sample_rate: int, max_order: int | None, speed_of_sound: float,
                 air_absorption: bool = False, tail: bool = True, att_diff_db: float = 15.0,
                 att_max_db: float = 60.0) -> None:
        super().__init__(sample_rate=sample_rate, max_order=max_order, speed_of_sound=speed_of_sound,
                         air_absorption=air_absorption)
        diffuse = DiffuseTail(att_diff_db=att_diff_db, att_max_db=att_max_db)  # validates either way
        self.tail = diffuse if tail else None

    @staticmethod
    def version() -> str:
        return f"pyroomacoustics {pra.__version__}"

    def rirs(self, scenes: Sequence[Scene]) -> list[tuple[np.ndarray, int]]:
        with _constants(c=self.speed_of_sound, rir_hpf_enable=False):
            return [self._one(scene) for scene in scenes]

    def order_for(self, scene: Scene) -> int:
        """Image-source order: what the diffuse tail's ``T_diff`` needs (with the tail) or what the RT60
        needs (without), capped by ``max_order``."""
        if self.tail is None:
            return super().order_for(scene)
        needed = self.tail.image_order(scene, speed_of_sound=self.speed_of_sound)
        return needed if self.max_order is None else min(needed, self.max_order)

    def _one(self, scene: Scene) -> tuple[np.ndarray, int]:
        latency = pra.constants.get("frac_delay_length") // 2
        order = self.order_for(scene)
        room = pra.ShoeBox(
            scene.room_dims,
            fs=self.sample_rate,
            materials=pra.Material(float(scene.absorption)),
            max_order=order,
            air_absorption=self.air_absorption,
        )
        room.add_source(scene.source_pos)
        room.add_microphone_array(np.asarray(scene.mic_positions).T)
        room.compute_rir()
        per_mic = [np.asarray(room.rir[m][0], dtype=np.float64)[latency:] for m in range(len(room.rir))]
        length = max(len(r) for r in per_mic)
        rirs = np.zeros((len(per_mic), length))
        for m, r in enumerate(per_mic):
            rirs[m, : len(r)] = r
        if self.tail is not None:
            rirs = self.tail.apply(rirs, scene, sample_rate=self.sample_rate, speed_of_sound=self.speed_of_sound)
        return rirs, order
