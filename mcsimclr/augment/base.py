"""The base of the batch augmentations: what every one of them does the same way, done once.

A batch augmentation is an ``nn.Module`` whose ``forward(x, *, generator=None)`` checks the input's shape (a
``ValueError`` that names the module, what it expects and what came), returns ``x`` itself in eval mode or when its
parameters make it the identity, checks that the ``generator`` lives on the data's device, draws the random
parameters of the batch on that device and applies them. A subclass only says what is its own:

- ``expected_shape(x)``: ``None`` when ``x`` is fine, else the shape it expects, in words;
- ``is_identity()``: whether its parameters make it a no-op (e.g. a drop probability of 0);
- ``draw_for(x, generator=...)``: the random parameters for the batch ``x`` (through its own ``draw``);
- ``apply(x, params)``: the deterministic transform, also usable in eval mode with given parameters.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mcsimclr.augment.draws import check_generator


class BatchAugmentation(nn.Module):
    """Shape check, eval-mode identity, generator check, draw, apply (module docstring)."""

    def expected_shape(self, x: torch.Tensor) -> str | None:
        """``None`` if ``x`` has a shape this augmentation takes, else what it expects (``"(batch, ...)"``)."""
        raise NotImplementedError

    def is_identity(self) -> bool:
        """True when the parameters make the augmentation a no-op, so that nothing is drawn."""
        return False

    def draw_for(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> Any:
        """The random parameters for the batch ``x``, drawn on ``x.device``."""
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: Any) -> torch.Tensor:
        """``x`` transformed by ``params`` (from :meth:`draw_for`)."""
        raise NotImplementedError

    def check_shape(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` naming this module, the expected shape and the one given."""
        expected = self.expected_shape(x)
        if expected is not None:
            raise ValueError(f"{type(self).__name__} expects {expected}, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """The augmented batch, the same shape as ``x``; ``x`` itself in eval mode or as the identity."""
        self.check_shape(x)
        if not self.training or self.is_identity():
            return x
        check_generator(generator, x.device)
        return self.apply(x, self.draw_for(x, generator=generator))
