"""Microphone arrays: the presets, the array config, and the direction convention of the data contract.

Conventions (docs/dataset.md): room axes x (width), y (length), z (height, up). The array keeps the room's axes.
Azimuth is measured at the array centre in the horizontal plane, counter-clockwise from +x seen from above (+y is
90 deg), in (-180, 180] degrees; elevation is the angle above the horizontal plane, in [-90, 90] degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def circular_array(n_mics: int, diameter: float) -> np.ndarray:
    """Mic offsets ``(n_mics, 3)`` of a horizontal uniform circle, mic 0 on +x, counter-clockwise."""
    angles = 2.0 * np.pi * np.arange(n_mics) / n_mics
    radius = diameter / 2.0
    xy = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    xy[np.abs(xy) < 1e-12] = 0.0  # exact zeros on the axes, so presets print and compare cleanly
    return np.concatenate([radius * xy, np.zeros((n_mics, 1))], axis=1)


def _tetrahedral(radius: float) -> np.ndarray:
    # DCASE SELD "MIC" format (Eigenmike em32 capsules 6, 10, 26, 22): (azimuth, elevation) in degrees.
    dirs = np.radians([[45.0, 35.0], [-45.0, -35.0], [135.0, -35.0], [-135.0, 35.0]])
    az, el = dirs[:, 0], dirs[:, 1]
    return radius * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)


ARRAY_PRESETS: dict[str, np.ndarray] = {
    "circular4": circular_array(4, 0.1),
    "circular6": circular_array(6, 0.1),
    "circular8": circular_array(8, 0.1),
    "tetrahedral": _tetrahedral(0.042),
}


@dataclass
class ArrayConfig:
    """The microphone array: a named preset, or ``custom`` with explicit positions.

    ``mic_positions`` are offsets from the array centre in metres, ``(x, y, z)`` per mic, in the room's
    axes. Presets: ``circular4`` (the paper's 4 mics on a horizontal circle of 0.1 m diameter),
    ``circular6``, ``circular8`` (same diameter) and ``tetrahedral`` (DCASE/Eigenmike-style, radius 4.2 cm).
    """

    geometry: str = "circular4"
    mic_positions: list[tuple[float, float, float]] | None = None

    def __post_init__(self) -> None:
        if self.geometry == "custom":
            if not self.mic_positions or len(self.mic_positions) < 2:
                raise ValueError("geometry 'custom' needs mic_positions with at least 2 microphones")
        elif self.geometry not in ARRAY_PRESETS:
            raise ValueError(
                f"unknown array geometry {self.geometry!r}; choose one of "
                f"{', '.join(sorted(ARRAY_PRESETS))} or 'custom' with mic_positions"
            )
        elif self.mic_positions is not None:
            raise ValueError(
                f"mic_positions is given but geometry is the preset {self.geometry!r}; "
                "set geometry: custom to use explicit positions"
            )



def mic_offsets(config: ArrayConfig) -> np.ndarray:
    """Mic offsets from the array centre ``(n_mics, 3)`` in metres, for a preset or custom geometry."""
    if config.geometry == "custom":
        assert config.mic_positions is not None
        return np.asarray(config.mic_positions, dtype=np.float64)
    return ARRAY_PRESETS[config.geometry].copy()


def direction_of(source: np.ndarray, array_center: np.ndarray) -> tuple[float, float, float]:
    """Azimuth (deg, (-180, 180]), elevation (deg) and distance (m) of ``source`` seen from ``array_center``."""
    d = np.asarray(source, dtype=np.float64) - np.asarray(array_center, dtype=np.float64)
    distance = float(np.linalg.norm(d))
    azimuth = math.degrees(math.atan2(d[1], d[0]))
    elevation = math.degrees(math.asin(d[2] / distance)) if distance > 0 else 0.0
    return azimuth, elevation, distance


