"""Random draws for batch augmentations: on the tensor's device, from an optional ``torch.Generator``."""

from __future__ import annotations

import torch


def check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    """Raise ``ValueError`` if ``generator`` lives on another device type than the data it draws for."""
    if generator is not None and generator.device.type != device.type:
        raise ValueError(f"the generator is on {generator.device} but the data is on {device}: make it with "
                         f"torch.Generator(device={str(device)!r})")


def uniform(*shape: int, device: torch.device, generator: torch.Generator | None = None,
            low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Float32 draws from U[low, high) of ``shape`` on ``device``."""
    check_generator(generator, device)
    u = torch.rand(shape, device=device, generator=generator)
    return u if (low, high) == (0.0, 1.0) else u * (high - low) + low
