"""RIR backends, looked up by name; a backend's package is imported only when it is asked for.

``pyroomacoustics`` (CPU, installed, the default); ``gpurir`` (CUDA; gpuRIR is built from source);
``torchrir`` (CPU or CUDA; ``pip install torchrir`` or the ``torchrir`` extra). Backend-specific options
(``att_diff_db``, ``device``, ...) are keyword arguments of the backend's class, passed through ``make_backend``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from simulate.backends.base import BackendUnavailable, RIRBackend

__all__ = [
    "BACKENDS", "BackendSpec", "BackendUnavailable", "RIRBackend", "backend_class", "backend_status", "make_backend",
]


@dataclass(frozen=True)
class BackendSpec:
    """Where a backend lives and what it needs to run."""

    module: str
    cls: str
    requires: tuple[str, ...]
    needs_cuda: bool
    install_hint: str


BACKENDS: dict[str, BackendSpec] = {
    "pyroomacoustics": BackendSpec(
        module="simulate.backends.pyroom",
        cls="PyroomacousticsBackend",
        requires=("pyroomacoustics",),
        needs_cuda=False,
        install_hint="pip install pyroomacoustics",
    ),
    "gpurir": BackendSpec(
        module="simulate.backends.gpurir",
        cls="GpuRIRBackend",
        requires=("gpuRIR",),
        needs_cuda=True,
        install_hint="install it from source, which compiles CUDA code and needs nvcc and CMake: "
                     "pip install https://github.com/DavidDiazGuerra/gpuRIR/zipball/master",
    ),
    "torchrir": BackendSpec(
        module="simulate.backends.torchrir_backend",
        cls="TorchRIRBackend",
        requires=("torchrir",),
        needs_cuda=False,
        install_hint="pip install 'mcsimclr[torchrir]', or pip install torchrir --no-deps on an existing torch",
    ),
}


def backend_status(name: str) -> str | None:
    """``None`` if backend ``name`` can run here, else the reason it cannot."""
    if name not in BACKENDS:
        return f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}"
    spec = BACKENDS[name]
    for package in spec.requires:
        if importlib.util.find_spec(package) is None:
            return (f"backend {name!r} needs the Python package {package!r}, which is not installed "
                    f"({spec.install_hint})")
    if spec.needs_cuda:
        import torch

        if not torch.cuda.is_available():
            return f"backend {name!r} needs a CUDA GPU and none is available"
    return None


def backend_class(name: str) -> type[RIRBackend]:
    """The class of backend ``name``. Raises ``BackendUnavailable`` with the reason if it cannot run here."""
    reason = backend_status(name)
    if reason is not None:
        raise BackendUnavailable(reason)
    spec = BACKENDS[name]
    return getattr(importlib.import_module(spec.module), spec.cls)


def make_backend(name: str, *, sample_rate: int, max_order: int | None, speed_of_sound: float,
                 air_absorption: bool = False, **options: object) -> RIRBackend:
    """Build backend ``name``; ``options`` are its own keyword arguments (e.g. ``device`` for torchrir).

    Raises ``BackendUnavailable`` with the reason if it cannot run here, ``TypeError`` for an option the
    backend does not take.
    """
    return backend_class(name)(sample_rate=sample_rate, max_order=max_order, speed_of_sound=speed_of_sound,
                               air_absorption=air_absorption, **options)
