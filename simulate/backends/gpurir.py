"""GPU backend: gpuRIR's image-source model on CUDA, with the project's diffuse tail (``simulate.tail``).

Install from source (it compiles CUDA code; needs nvcc and CMake):
``pip install https://github.com/DavidDiazGuerra/gpuRIR/zipball/master``.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Sequence

import gpuRIR
import numpy as np
import torch

from simulate.backends.base import RIRBackend
from simulate.geometry import Scene


class GpuRIRBackend(RIRBackend):
    """RIRs from ``gpuRIR.simulateRIR``: one call per room, or per group of scenes in one room that differ only
    in their source (its batch axes are sources and receivers; see :meth:`rirs`).

    Per scene: reflection coefficients ``beta = sqrt(1 - absorption)`` on all six walls (what
    ``gpuRIR.beta_SabineEstimation(room_sz, rt60_sabine)`` finds by minimisation, but exactly the absorption
    the scene stores, including the clamp of infeasible rooms); omnidirectional mics.

    ``tail=True`` (default): ``T_diff`` and ``T_max`` of ``simulate.tail.DiffuseTail`` (gpuRIR's
    ``att2t_SabineEstimator``: ``att_db / 60 * RT60``, with 15 and 60 dB as in gpuRIR's examples), image sources
    on the GPU until ``T_diff`` with ``nb_img = t2n(T_diff, room_sz, c)``, then the project's seeded tail on
    the CPU, the same as every backend's, so that builds stay bit-identical across workers and resumes.
    ``native_tail=True`` uses gpuRIR's own tail instead (``simulateRIR(..., Tmax, Tdiff=T_diff)``; its noise
    comes from one cuRAND generator per process, seeded once at import, so a room's tail depends on how many
    rooms the process simulated before it: not reproducible across workers or resumes). ``tail=False``: image
    sources until ``T_max`` (``Tdiff = Tmax``: gpuRIR's full ISM). ``max_order`` caps the images per axis at
    ``2 * max_order + 1`` (reflection indices ``-max_order .. max_order``); the order reported is the largest
    reflection index per axis, ``max(nb_img) // 2``.

    Delays: gpuRIR evaluates a Hann-windowed sinc (8 ms window) centred on each image's exact delay
    ``dist / c * fs`` at the integer sample times 0, 1, ... (``image_sample`` in ``src/gpuRIR_cuda.cu``), so
    sample 0 is the emission time and no latency is trimmed. Level: gpuRIR's amplitude is ``1 / (4 pi d)``;
    the RIRs are multiplied by ``4 pi`` to match pyroomacoustics' and torchrir's ``1 / d``.

    Precision: the sinc lookup table is on (gpuRIR's default, faster) and mixed precision (half2) is off
    (gpuRIR's default; half precision costs accuracy in the sub-sample delays that carry the direction).
    Both are process-wide settings of the gpuRIR module, set when the backend is built.
    """

    name = "gpurir"

    def __init__(self, *, sample_rate: int, max_order: int | None, speed_of_sound: float,
                 air_absorption: bool = False, tail: bool = True, att_diff_db: float = 15.0,
                 att_max_db: float = 60.0, native_tail: bool = False, mixed_precision: bool = False,
                 lut: bool = True) -> None:
        super().__init__(sample_rate=sample_rate, max_order=max_order, speed_of_sound=speed_of_sound,
                         air_absorption=air_absorption, tail=tail, att_diff_db=att_diff_db, att_max_db=att_max_db)
        if air_absorption:
            raise ValueError("backend 'gpurir' has no air absorption; set backend.air_absorption=false")
        if native_tail and not tail:
            raise ValueError("native_tail=True needs tail=True")
        if mixed_precision and lut:
            raise ValueError("gpuRIR cannot use mixed precision and the sinc lookup table together")
        self.native_tail = native_tail
        self.calls = 0  # simulateRIR calls of the last ``rirs``
        self.device = torch.device("cuda")  # spatialize convolves on the GPU when a backend lives there
        # Each call switches the other off when both are asked for, so switch off before switching on.
        if mixed_precision:
            gpuRIR.activateLUT(False)
            gpuRIR.activateMixedPrecision(True)
        else:
            gpuRIR.activateMixedPrecision(False)
            gpuRIR.activateLUT(lut)

    @staticmethod
    def version() -> str:
        try:
            return f"gpuRIR {importlib.metadata.version('gpuRIR')}"
        except importlib.metadata.PackageNotFoundError:
            return "gpuRIR (version unknown)"

    def rirs(self, scenes: Sequence[Scene]) -> list[tuple[np.ndarray, int]]:
        """One ``simulateRIR`` call per group of scenes that differ only in their source (same room size,
        absorption, mics, image counts and lengths): gpuRIR's source axis holds the group. Rooms drawn at random
        never share a size, so a build makes one call per room; the results are those of one call per room."""
        groups: dict[tuple, list[int]] = {}
        plans = [self._plan(scene) for scene in scenes]
        for i, (scene, plan) in enumerate(zip(scenes, plans, strict=True)):
            key = (tuple(float(v) for v in scene.room_dims), float(scene.absorption),
                   np.asarray(scene.mic_positions, dtype=np.float64).tobytes(), *plan)
            groups.setdefault(key, []).append(i)
        self.calls = len(groups)
        out: list[tuple[np.ndarray, int] | None] = [None] * len(scenes)
        for members in groups.values():
            for i, rirs in zip(members, self._simulate([scenes[i] for i in members], plans[members[0]]),
                               strict=True):
                out[i] = rirs
        return out

    def _plan(self, scene: Scene) -> tuple[float, float, tuple[int, ...]]:
        """``(T_diff, T_max, nb_img)`` of a scene."""
        t_diff, t_max = self.diffuse.times(scene, speed_of_sound=self.speed_of_sound)
        ism_until = t_diff if self.tail is not None else t_max
        nb_img = gpuRIR.t2n(ism_until, [float(v) for v in scene.room_dims], self.speed_of_sound)
        if self.max_order is not None:
            nb_img = [min(n, 2 * self.max_order + 1) for n in nb_img]
        return t_diff, t_max, tuple(int(n) for n in nb_img)

    def _simulate(self, group: list[Scene], plan: tuple[float, float, tuple[int, ...]]) -> list[tuple[np.ndarray, int]]:
        """One call for scenes that share everything but the source; returns host memory, where the RIRs are
        needed for the RT60 measurement."""
        c = self.speed_of_sound
        t_diff, t_max, nb_img = plan
        ism_until = t_diff if self.tail is not None else t_max
        first = group[0]
        sources = np.stack([np.asarray(s.source_pos, dtype=np.float64) for s in group])  # (n_src, 3)
        rirs = gpuRIR.simulateRIR(
            [float(v) for v in first.room_dims], [math.sqrt(1.0 - first.absorption)] * 6,
            sources, np.asarray(first.mic_positions, dtype=np.float64),
            list(nb_img), t_max if self.native_tail else ism_until, float(self.sample_rate),
            Tdiff=t_diff if self.native_tail else None, mic_pattern="omni", c=c,
        )  # (n_src, mics, samples)
        out = []
        for scene, per_source in zip(group, rirs, strict=True):
            r = np.asarray(per_source, dtype=np.float64) * (4.0 * math.pi)
            if self.tail is not None and not self.native_tail:
                r = self.tail.apply(r, scene, sample_rate=self.sample_rate, speed_of_sound=c)
            out.append((r, max(nb_img) // 2))
        return out
