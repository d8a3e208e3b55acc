"""Array geometry and random scene sampling: shoebox room, RT60, array and source placement.

Conventions (see docs/dataset.md): room axes x (width), y (length), z (height, up), origin at a floor
corner. The array keeps the room's axes. Azimuth is measured at the array centre in the horizontal plane,
counter-clockwise from +x seen from above (+y is 90 deg), in (-180, 180] degrees; elevation is the angle
above the horizontal plane, in [-90, 90] degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcsimclr.core.errors import GeometryError
from simulate.config import RoomConfig


def sabine_absorption(rt60: float, dims: np.ndarray, *, speed_of_sound: float) -> float:
    """Energy absorption coefficient that gives ``rt60`` in a shoebox of ``dims`` by Sabine's formula."""
    volume = float(np.prod(dims))
    surface = 2.0 * float(dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    return 24.0 * math.log(10.0) * volume / (speed_of_sound * surface * rt60)


def sabine_rt60(absorption: float, dims: np.ndarray, *, speed_of_sound: float) -> float:
    """RT60 (s) that Sabine's formula gives for uniform energy ``absorption`` in a shoebox of ``dims``."""
    return sabine_absorption(1.0, dims, speed_of_sound=speed_of_sound) / absorption


@dataclass(frozen=True)
class Scene:
    """One sampled room with its source and array (metres, seconds).

    ``rt60_target`` is the value drawn; ``rt60_sabine`` the one the chosen ``absorption`` implies. They
    differ only when the target is infeasible for the room (Sabine absorption > ``max_absorption``): then
    the absorption is clamped to ``max_absorption`` and the room is as dry as it can be (docs/dataset.md).
    """

    room_dims: np.ndarray  # (3,)
    rt60_target: float
    rt60_sabine: float
    absorption: float
    source_pos: np.ndarray  # (3,)
    array_center: np.ndarray  # (3,)
    mic_positions: np.ndarray  # (n_mics, 3)


def _placement_box(dims: np.ndarray, margin: float, extent_lo: np.ndarray, extent_hi: np.ndarray,
                   height: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Box of valid centre positions: every point of the object ``margin`` from every wall, z in ``height``.

    ``extent_lo`` / ``extent_hi`` are how far the object reaches below / above its centre on each axis (>= 0).
    """
    lo = margin + extent_lo
    hi = dims - margin - extent_hi
    lo[2] = max(lo[2], height[0])
    hi[2] = min(hi[2], height[1])
    return lo, hi


def check_feasible(room: RoomConfig, offsets: np.ndarray) -> None:
    """Raise ``GeometryError`` if the smallest room of the ranges cannot hold the array and a source.

    Checks that the array (all mics) and the source fit ``wall_margin`` from every wall within their height
    ranges, and that they can be ``min_source_distance`` apart.
    """
    dims = np.array([room.width[0], room.length[0], room.height[0]])
    a_lo, a_hi = _placement_box(dims, room.wall_margin, -offsets.min(axis=0), offsets.max(axis=0),
                                room.array_height)
    s_lo, s_hi = _placement_box(dims, room.wall_margin, np.zeros(3), np.zeros(3), room.source_height)
    what = (f"smallest room {dims[0]:g} x {dims[1]:g} x {dims[2]:g} m with wall_margin {room.wall_margin:g} m")
    if np.any(a_lo > a_hi):
        raise GeometryError(f"impossible geometry: the array (extent {np.ptp(offsets, axis=0).round(3)} m) "
                            f"does not fit in the {what} and array_height {room.array_height}")
    if np.any(s_lo > s_hi):
        raise GeometryError(f"impossible geometry: no source position fits in the {what} "
                            f"and source_height {room.source_height}")
    # Largest possible source-to-array-centre distance: opposite corners of the two boxes.
    far = np.maximum(np.abs(s_hi - a_lo), np.abs(a_hi - s_lo))
    radius = float(np.max(np.linalg.norm(offsets, axis=1)))
    if float(np.linalg.norm(far)) - radius < room.min_source_distance:
        raise GeometryError(f"impossible geometry: source and array cannot be {room.min_source_distance:g} m "
                            f"apart in the {what}")


def sample_scene(rng: np.random.Generator, room: RoomConfig, offsets: np.ndarray) -> Scene:
    """Draw one room, RT60, array position and source position (recipe.md, "Room simulation").

    Args:
        rng: the clip's own generator (the same seed gives the same scene).
        room: ranges and margins.
        offsets: mic offsets from the array centre ``(n_mics, 3)``.

    Raises:
        GeometryError: no valid placement was found in ``room.placement_tries`` draws.
    """
    dims = np.array([rng.uniform(*room.width), rng.uniform(*room.length), rng.uniform(*room.height)])
    rt60 = float(rng.uniform(*room.rt60))
    c = room.speed_of_sound
    absorption = sabine_absorption(rt60, dims, speed_of_sound=c)
    if absorption > room.max_absorption:
        absorption = room.max_absorption
    rt60_sabine = sabine_rt60(absorption, dims, speed_of_sound=c)

    a_lo, a_hi = _placement_box(dims, room.wall_margin, -offsets.min(axis=0), offsets.max(axis=0),
                                room.array_height)
    s_lo, s_hi = _placement_box(dims, room.wall_margin, np.zeros(3), np.zeros(3), room.source_height)
    if np.any(a_lo > a_hi) or np.any(s_lo > s_hi):
        raise GeometryError(f"impossible geometry: room {dims.round(2)} m cannot hold the array and source "
                            f"with wall_margin {room.wall_margin} m")
    for _ in range(room.placement_tries):
        center = rng.uniform(a_lo, a_hi)
        source = rng.uniform(s_lo, s_hi)
        mics = center + offsets
        if np.min(np.linalg.norm(mics - source, axis=1)) >= room.min_source_distance:
            return Scene(room_dims=dims, rt60_target=rt60, rt60_sabine=rt60_sabine, absorption=absorption,
                         source_pos=source, array_center=center, mic_positions=mics)
    raise GeometryError(f"no placement with source {room.min_source_distance} m from every mic found in "
                        f"{room.placement_tries} tries in room {dims.round(2)} m")
