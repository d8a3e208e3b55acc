"""CPU backend: pyroomacoustics' image-source model (the fallback used in CI)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pyroomacoustics as pra

from simulate.backends.base import RIRBackend
from simulate.geometry import Scene


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

    With the tail (the default, see ``RIRBackend``) the image sources stop at ``T_diff`` and the seeded tail
    continues them; the order reported is the image-source order used (``order_for``).
    """

    name = "pyroomacoustics"

    @staticmethod
    def version() -> str:
        return f"pyroomacoustics {pra.__version__}"

    def rirs(self, scenes: Sequence[Scene]) -> list[tuple[np.ndarray, int]]:
        with _constants(c=self.speed_of_sound, rir_hpf_enable=False):
            return [self._one(scene) for scene in scenes]

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
