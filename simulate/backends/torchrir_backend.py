"""Torch backend: torchrir's image-source model on the CPU or a CUDA GPU (``pip install torchrir``)."""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Sequence

import numpy as np
import torch
from torchrir import MicrophoneArray, Room, Source, StaticScene
from torchrir.config import SimulationConfig
from torchrir.sim import simulate

from simulate.backends.base import RIRBackend
from simulate.geometry import Scene


class TorchRIRBackend(RIRBackend):
    """RIRs from ``torchrir.sim.simulate``, one room per call, on ``device``.

    The same model as the pyroomacoustics backend, computed in torch: image sources of L1 order up to
    ``order_for`` (``RIRBackend``'s rule: with the tail, the default, what ``T_diff`` needs, then the project's
    seeded ``simulate.tail.DiffuseTail``; without, what the RT60 needs), capped by ``max_order``, each an
    81-tap Hann-windowed sinc; the two backends agree to ~6e-4 of the peak (the windows differ slightly).
    torchrir's own diffuse tail is not used: it gives every room the same noise unless seeded per call, and
    the project's tail keeps all backends on one convention.

    Delays: torchrir centres each image's fractional-delay filter on its exact delay ``dist / c * fs`` with no
    latency, so sample 0 is the emission time. Level: amplitude ``1 / d`` per image, as pyroomacoustics.
    ``device="auto"`` takes CUDA when available. float32 by default: float64 is 2x slower on the CPU and no
    closer to pyroomacoustics.
    """

    name = "torchrir"

    def __init__(self, *, sample_rate: int, max_order: int | None, speed_of_sound: float,
                 air_absorption: bool = False, tail: bool = True, att_diff_db: float = 15.0,
                 att_max_db: float = 60.0, device: str = "auto", dtype: torch.dtype = torch.float32) -> None:
        super().__init__(sample_rate=sample_rate, max_order=max_order, speed_of_sound=speed_of_sound,
                         air_absorption=air_absorption, tail=tail, att_diff_db=att_diff_db, att_max_db=att_max_db)
        if air_absorption:
            raise ValueError("backend 'torchrir' has no air absorption; set backend.air_absorption=false")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)  # spatialize convolves on the GPU when a backend lives there
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("backend 'torchrir' was asked for device 'cuda' but no CUDA GPU is available")
        self.dtype = dtype

    @staticmethod
    def version() -> str:
        return f"torchrir {importlib.metadata.version('torchrir')}"

    def rirs(self, scenes: Sequence[Scene]) -> list[tuple[np.ndarray, int]]:
        return [self._one(scene) for scene in scenes]

    def _one(self, scene: Scene) -> tuple[np.ndarray, int]:
        c, fs = self.speed_of_sound, self.sample_rate
        opts = {"device": self.device, "dtype": self.dtype}
        room = Room.shoebox(size=[float(v) for v in scene.room_dims], fs=fs, c=c,
                            beta=[math.sqrt(1.0 - scene.absorption)] * 6, **opts)
        torch_scene = StaticScene(room=room, sources=Source.from_positions([list(scene.source_pos)], **opts),
                                  mics=MicrophoneArray.from_positions(np.asarray(scene.mic_positions), **opts))
        order = self.order_for(scene)
        if self.tail is not None:
            t_diff, _ = self.tail.times(scene, speed_of_sound=c)
            nsample = round(t_diff * fs) + 1  # the tail keeps the image sources before round(T_diff * fs)
        else:
            # Every image of L1 order <= N lies within (N + 3) x the longest side; trailing zeros are cut below.
            nsample = math.ceil((order + 3) * float(np.max(scene.room_dims)) / c * fs) + 64
        rirs = simulate(torch_scene, SimulationConfig(max_order=order, nsample=nsample, **opts))
        rirs = rirs.rirs[0].double().cpu().numpy()
        if self.tail is not None:
            return self.tail.apply(rirs, scene, sample_rate=fs, speed_of_sound=c), order
        last = np.flatnonzero(np.any(rirs != 0.0, axis=0))
        return rirs[:, : int(last.max()) + 1 if last.size else 1], order
