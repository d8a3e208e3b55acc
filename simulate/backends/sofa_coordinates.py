"""SOFA coordinates (AES69): spherical to Cartesian, and global positions into the listener's (array's) frame.

SOFA's spherical coordinates are (azimuth, elevation, radius) in (degree, degree, metre), azimuth counter-clockwise
from +x seen from above and elevation up: the same angles as docs/dataset.md. ``ReceiverPosition`` is given in
the listener's own frame, whose +x is ``ListenerView`` and +z ``ListenerUp``; ``SourcePosition`` and
``ListenerPosition`` are global.
"""

from __future__ import annotations

import numpy as np

__all__ = ["listener_axes", "spherical_to_cartesian", "to_listener_frame"]


def spherical_to_cartesian(values: np.ndarray) -> np.ndarray:
    """``(..., 3)`` (azimuth deg, elevation deg, radius) to ``(..., 3)`` (x, y, z) in the radius' unit."""
    values = np.asarray(values, dtype=np.float64)
    az, el, r = np.radians(values[..., 0]), np.radians(values[..., 1]), values[..., 2]
    return np.stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], axis=-1)


def listener_axes(view: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rows: the listener's x (front), y (left) and z (up) axes in global coordinates, ``(..., 3, 3)``.

    ``view`` and ``up`` are ``(..., 3)``; ``up`` is made orthogonal to ``view`` (Gram-Schmidt), and y = z x x.

    Raises:
        ValueError: a zero ``view`` or ``up``, or ``up`` parallel to ``view``.
    """
    view = np.asarray(view, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    norm = np.linalg.norm(view, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("ListenerView is a zero vector")
    x = view / norm
    up_norm = np.linalg.norm(up, axis=-1, keepdims=True)
    z = up - np.sum(up * x, axis=-1, keepdims=True) * x
    z_norm = np.linalg.norm(z, axis=-1, keepdims=True)
    if np.any(up_norm < 1e-12) or np.any(z_norm < 1e-9 * up_norm):
        raise ValueError("ListenerUp is zero or parallel to ListenerView")
    z = z / z_norm
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-2)


def to_listener_frame(points: np.ndarray, *, listener: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Global ``points`` ``(M, 3)`` as offsets from ``listener`` ``(M, 3)`` in its frame ``axes`` ``(M, 3, 3)``.

    ``out[m, i] = sum_j axes[m, i, j] * (points[m, j] - listener[m, j])`` (einsum ``mij,mj->mi``).
    """
    return np.einsum("mij,mj->mi", axes, np.asarray(points, dtype=np.float64) - listener)
