"""Shared test fixtures: a white-noise source set (a real SourceSet, for physics checks) and tiny builds."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from simulate.sources.base import ClipRef, SourceSet


class NoiseSource(SourceSet):
    """Broadband white-noise clips: the ideal probe for delays and directions. Two classes, one split."""

    kind = "noise"

    def __init__(self, *, n_clips: int = 8, seconds: float = 1.0, seed: int = 0) -> None:
        self.n_clips, self.seconds, self.seed = n_clips, seconds, seed

    @property
    def class_names(self) -> tuple[str, ...]:
        return ("noise_a", "noise_b")

    def splits(self) -> dict[str, list[ClipRef]]:
        return {"test": [ClipRef("test", i, i % 2, f"noise:{i}") for i in range(self.n_clips)]}

    def load(self, ref: ClipRef, *, sample_rate: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, zlib.crc32(ref.split.encode()), ref.index])
        return (0.1 * rng.standard_normal(int(self.seconds * sample_rate))).astype(np.float32)


@pytest.fixture
def noise_source() -> NoiseSource:
    return NoiseSource()
