"""The interface every source set implements: which clips make up each split, and how to load one."""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np


class SourceError(ValueError):
    """A source clip or data set that cannot be used; the message names the file or value and why."""


@dataclass(frozen=True)
class ClipRef:
    """One mono clip of a split, before spatialisation.

    Attributes:
        split: split name (``noisy_train``, ``clean_train``, ``test``, ...).
        index: position of the clip in its split's listing; with the build seed it fixes the room.
        label: class index into ``SourceSet.class_names``.
        source_id: where the clip comes from: a path relative to the data set root, or ``synthetic:...``.
    """

    split: str
    index: int
    label: int
    source_id: str


class SourceSet(abc.ABC):
    """A labelled collection of mono clips, split into named splits.

    Implementations must be picklable (they are sent to worker processes) and deterministic: the same
    config gives the same listing on every machine, and bit-identical samples in every process of one
    machine (across CPU types, vectorised float math may differ in the last bit).
    """

    kind: str = ""

    @property
    @abc.abstractmethod
    def class_names(self) -> tuple[str, ...]:
        """Class names, indexed by ``ClipRef.label``."""

    @abc.abstractmethod
    def splits(self) -> dict[str, list[ClipRef]]:
        """The clips of every split, in a fixed order. Validates the data set's layout and labels.

        Raises:
            SourceError: missing directory or file, missing CSV column, unknown label, ...
        """

    @abc.abstractmethod
    def load(self, ref: ClipRef, *, sample_rate: int) -> np.ndarray:
        """The clip as mono float32 samples ``(samples,)`` at ``sample_rate``.

        Raises:
            SourceError: unreadable or corrupt file, multichannel audio, empty or silent clip.
        """


def check_waveform(samples: np.ndarray, *, source_id: str, silence_peak: float = 1e-4) -> np.ndarray:
    """Validate a decoded mono clip ``(samples,)``: finite, not empty, not silent. Returns it as float32."""
    if samples.ndim != 1:
        raise SourceError(f"{source_id}: expected mono audio (samples,), got shape {samples.shape}")
    if samples.size == 0:
        raise SourceError(f"{source_id}: clip is empty (0 samples)")
    if not np.all(np.isfinite(samples)):
        raise SourceError(f"{source_id}: clip holds NaN or infinite samples")
    peak = float(np.max(np.abs(samples)))
    if peak < silence_peak:
        raise SourceError(f"{source_id}: clip is silent (peak {peak:.2e} < {silence_peak:.0e})")
    return samples.astype(np.float32, copy=False)
