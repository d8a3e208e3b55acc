"""Symmetries of a microphone array, derived from its coordinates, and what each does to a direction.

A symmetry is an orthogonal map ``g`` of the horizontal plane that fixes the array's centroid (a rotation about
the vertical axis, or a reflection across a vertical plane through the centroid) and maps the set of mic
positions onto itself. Relabelling the recorded channels by ``g`` gives exactly the recording of the scene
transformed by ``g`` (direct path; the room is transformed too), so the azimuth label moves with it.

Direction convention (docs/features.md): the scene transformed by ``g`` puts the source at ``g s``. Mic ``p``
then hears what mic ``perm[p]`` heard before, where ``g r[perm[p]] = r[p]``, because
``|r[p] - g s| = |g^-1 r[p] - s|``. So ``new[:, p] = old[:, perm[p]]``. For ``circular4`` (mic 0 on +x,
counter-clockwise), the rotation by +90 deg has ``perm = (3, 0, 1, 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

# A float, NumPy array or torch tensor of angles: the formulas below work on each alike.
Angles = TypeVar("Angles")


def wrap_degrees(angle: Angles) -> Angles:
    """Wrap angles in degrees to (-180, 180], elementwise (NumPy, torch or float)."""
    return 180.0 - (180.0 - angle) % 360.0


@dataclass(frozen=True)
class ArraySymmetry:
    """One symmetry of the array (see the module docstring for the conventions).

    Attributes:
        perm: channel permutation, ``new[:, p] = old[:, perm[p]]``, ``(mics,)``.
        reflection: False for a rotation by ``angle_deg``, True for a reflection across the vertical plane
            through the centroid at azimuth ``angle_deg``.
        angle_deg: the rotation angle in [0, 360) or the reflection axis in [0, 180), degrees.
    """

    perm: tuple[int, ...]
    reflection: bool
    angle_deg: float

    @property
    def azimuth_sign(self) -> float:
        """``-1`` for a reflection (it reverses the sense of rotation), ``+1`` for a rotation."""
        return -1.0 if self.reflection else 1.0

    @property
    def azimuth_offset_deg(self) -> float:
        """The transformed azimuth is ``wrap(azimuth_sign * a + azimuth_offset_deg)``."""
        return 2.0 * self.angle_deg if self.reflection else self.angle_deg

    def transform_azimuth(self, azimuth_deg: Angles) -> Angles:
        """Azimuth (degrees) of a source at ``azimuth_deg`` after the transform, in (-180, 180]."""
        return wrap_degrees(self.azimuth_sign * azimuth_deg + self.azimuth_offset_deg)

    def matrix(self) -> np.ndarray:
        """The transform as a ``(3, 3)`` matrix acting on column vectors ``(x, y, z)`` (z is unchanged)."""
        if self.reflection:
            c, s = math.cos(math.radians(2 * self.angle_deg)), math.sin(math.radians(2 * self.angle_deg))
            return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, 1.0]])
        c, s = math.cos(math.radians(self.angle_deg)), math.sin(math.radians(self.angle_deg))
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def __str__(self) -> str:
        kind = "reflection across" if self.reflection else "rotation by"
        return f"{kind} {self.angle_deg:g} deg, perm {self.perm}"


def array_symmetries(mic_positions: np.ndarray, *, atol: float = 1e-6) -> list[ArraySymmetry]:
    """All symmetries of the array, identity first, then rotations by angle, then reflections by axis.

    Args:
        mic_positions: ``(mics, 3)`` (or ``(mics, 2)``: z = 0) positions or offsets in metres, any origin.
        atol: distance (metres) under which two positions count as the same.

    Each candidate is found by sending the mic farthest from the vertical axis through the centroid onto
    every mic at the same radius and height (one rotation and one reflection each), then kept if it maps every
    mic onto a mic. A planar uniform circle of ``n`` mics gives ``2 n`` (``circular4``: 4 rotations x 2
    reflections = 8); the tetrahedral array gives 4. Mics collinear through the centroid also admit the mirror
    across their line (identity permutation, ``a -> -a``): such arrays cannot tell those directions apart.

    Raises:
        ValueError: bad shape, or every mic on the vertical axis (every rotation would be a symmetry).
    """
    pos = np.asarray(mic_positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] not in (2, 3) or pos.shape[0] < 1:
        raise ValueError(f"mic_positions must be (mics, 3) or (mics, 2), got shape {pos.shape}")
    if pos.shape[1] == 2:
        pos = np.concatenate([pos, np.zeros((pos.shape[0], 1))], axis=1)
    pos = pos - pos.mean(axis=0)
    radius = np.hypot(pos[:, 0], pos[:, 1])
    ref = int(np.argmax(radius))
    if radius[ref] < atol:
        raise ValueError("all microphones lie on one vertical line: the array has no finite symmetry group")
    angle = np.degrees(np.arctan2(pos[:, 1], pos[:, 0]))
    partners = np.flatnonzero((np.abs(radius - radius[ref]) < atol) & (np.abs(pos[:, 2] - pos[ref, 2]) < atol))
    candidates = set()
    for k in partners:
        candidates.add((False, round(float((angle[k] - angle[ref]) % 360.0), 9) % 360.0))
        candidates.add((True, round(float(((angle[k] + angle[ref]) / 2.0) % 180.0), 9) % 180.0))
    found = []
    for reflection, angle_deg in sorted(candidates):
        trial = ArraySymmetry(perm=(), reflection=reflection, angle_deg=angle_deg)
        moved = pos @ trial.matrix().T  # moved[i] = g r[i]
        dist = np.linalg.norm(moved[:, None, :] - pos[None, :, :], axis=-1)  # (mics, mics)
        image = dist.argmin(axis=1)  # g r[i] = r[image[i]]
        if np.all(dist[np.arange(len(pos)), image] < atol) and len(set(image.tolist())) == len(pos):
            perm = np.empty(len(pos), dtype=int)
            perm[image] = np.arange(len(pos))  # new[:, image[i]] = old[:, i]
            found.append(ArraySymmetry(perm=tuple(int(p) for p in perm), reflection=reflection,
                                       angle_deg=angle_deg))
    return found
