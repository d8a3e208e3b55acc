"""Where a run goes and in which precision: the one policy that pretraining, probes and the demo follow.

``accelerator: auto`` takes a CUDA GPU when there is one, else the CPU. ``accelerator: gpu`` needs CUDA: without
it the run stops with a ``DeviceError``, unless ``allow_cpu`` (``--allow-cpu``) is given, and then it runs on the
CPU with a warning. ``accelerator: cpu`` is the CPU. The configured precision applies on a GPU; the CPU always
runs in float32 (``"32"``), whatever the config says.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mcsimclr.core.errors import DeviceError

if TYPE_CHECKING:  # torch is imported when a choice is made, so that importing the policy (--help) stays cheap
    import torch

DEVICE_POLICY = (
    "Device policy (pretrain, probe, demo alike): accelerator auto = a CUDA GPU if there is one, else the CPU; "
    "gpu = CUDA or an error, unless --allow-cpu (then the CPU, with a warning); cpu = the CPU. The precision "
    "setting applies on a GPU; the CPU always runs float32."
)

_AUTOCAST = {"bf16-mixed": "bfloat16", "16-mixed": "float16", "32": None}


@dataclass(frozen=True)
class DeviceChoice:
    """The resolved placement: Lightning's ``accelerator`` (``"gpu"`` or ``"cpu"``) and ``precision``."""

    accelerator: Literal["gpu", "cpu"]
    precision: Literal["bf16-mixed", "16-mixed", "32"]

    @property
    def device(self) -> torch.device:
        """The torch device of the first (or only) process: ``cuda`` or ``cpu``."""
        import torch

        return torch.device("cuda" if self.accelerator == "gpu" else "cpu")

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast type of the mixed precisions, ``None`` for float32."""
        import torch

        name = _AUTOCAST[self.precision]
        return None if name is None else getattr(torch, name)


def resolve_device(*, accelerator: Literal["auto", "gpu", "cpu"], precision: str, allow_cpu: bool = False,
                   setting: str = "trainer.accelerator=gpu") -> DeviceChoice:
    """Apply the device policy (module docstring) to a config's ``accelerator`` and ``precision``.

    Args:
        setting: how the user asked for a GPU, for the error message (``--device cuda`` for the demo).

    Raises:
        DeviceError: a GPU was asked for, CUDA is not available and ``allow_cpu`` is false.
        ValueError: an unknown accelerator or precision.
    """
    if accelerator not in ("auto", "gpu", "cpu"):
        raise ValueError(f"accelerator must be auto, gpu or cpu, got {accelerator!r}")
    if precision not in _AUTOCAST:
        raise ValueError(f"precision must be one of {', '.join(_AUTOCAST)}, got {precision!r}")
    import torch

    cuda = torch.cuda.is_available()
    if accelerator == "gpu" and not cuda:
        if not allow_cpu:
            raise DeviceError(f"this run asks for a GPU ({setting}) and CUDA is not available; pass --allow-cpu "
                              "to run on the CPU anyway (slow), or ask for the CPU or auto")
        warnings.warn("no GPU: running on the CPU in float32 (--allow-cpu)", stacklevel=2)
        return DeviceChoice(accelerator="cpu", precision="32")
    on_gpu = accelerator == "gpu" or (accelerator == "auto" and cuda)
    return DeviceChoice(accelerator="gpu", precision=precision) if on_gpu else DeviceChoice(accelerator="cpu",
                                                                                           precision="32")
