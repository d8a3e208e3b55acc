"""CPU backend: pyroomacoustics' image-source model (the fallback used in CI)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyroomacoustics as pra

from simulate.backends.base import RIRBackend
from simulate.geometry import Scene


class PyroomacousticsBackend(RIRBackend):
    """Image-source RIRs from ``pyroomacoustics.ShoeBox``, uniform energy absorption on all walls.

    ``fs`` and ``max_order`` are always passed explicitly (pyroomacoustics defaults to 8 kHz and order 1).
    pyroomacoustics centres a fractional-delay filter of ``frac_delay_length`` taps on each arrival; the
    first ``frac_delay_length // 2`` samples are trimmed so that sample 0 is the emission time.
    """

    name = "pyroomacoustics"

    @staticmethod
    def version() -> str:
        return f"pyroomacoustics {pra.__version__}"

    def rirs(self, scenes: Sequence[Scene]) -> list[tuple[np.ndarray, int]]:
        if pra.constants.get("c") != self.speed_of_sound:
            pra.constants.set("c", self.speed_of_sound)
        latency = pra.constants.get("frac_delay_length") // 2
        out = []
        for scene in scenes:
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
            out.append((rirs, order))
        return out
