"""Source trajectories of a scene's events: static, a circular arc around the array, or a straight line.

Times are seconds from the event's onset, ``0 .. duration_s``; outside that span the source stays at the
path's end points (so positions at block centres just past the event stay valid). Directions follow
``simulate.geometry.direction_of``: azimuth counter-clockwise from +x seen from above, in degrees; elevation
above the horizontal plane; distance to the array centre in metres (docs/dataset.md, "Conventions").

- ``static``: one position.
- ``arc``: constant horizontal radius and height around the array centre (so constant distance and
  elevation), azimuth turning at a constant ``angular_speed_deg`` (signed: > 0 counter-clockwise).
- ``line``: a horizontal straight segment at constant ``velocity`` (m/s) and height.

Every point of a sampled path keeps ``wall_margin`` from every wall, ``min_source_distance`` from every mic
and a height within ``source_height``; the check is exact (``path_violation``: the extremes of an arc or a
segment are found analytically), not a check of a few sampled points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from mcsimclr.core.errors import GeometryError

TrajectoryKind = Literal["static", "arc", "line"]
TRAJECTORY_KINDS: tuple[str, ...] = ("static", "arc", "line")


class TrajectoryError(GeometryError):
    """No trajectory of the requested kind, duration and speed keeps the margins in the room."""


@dataclass(frozen=True)
class Trajectory:
    """The path of one event's source, in room coordinates (metres, seconds from the event's onset).

    Attributes:
        kind: ``static``, ``arc`` or ``line``.
        start: position at time 0 ``(3,)``.
        array_center: the array centre ``(3,)`` (the arc's axis; the reference of ``directions``).
        duration_s: length of the path in time; positions are held at the end points outside ``[0, duration_s]``.
        angular_speed_deg: ``arc`` only: azimuth rate in deg/s, > 0 counter-clockwise seen from above.
        velocity: ``line`` only: ``(3,)`` in m/s.
    """

    kind: str
    start: np.ndarray
    array_center: np.ndarray
    duration_s: float
    angular_speed_deg: float = 0.0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        if self.kind not in TRAJECTORY_KINDS:
            raise ValueError(f"unknown trajectory kind {self.kind!r}; choose one of {', '.join(TRAJECTORY_KINDS)}")
        if not (math.isfinite(self.duration_s) and self.duration_s >= 0.0):
            raise ValueError(f"trajectory duration_s must be finite and >= 0, got {self.duration_s}")
        object.__setattr__(self, "start", np.asarray(self.start, dtype=np.float64).reshape(3))
        object.__setattr__(self, "array_center", np.asarray(self.array_center, dtype=np.float64).reshape(3))
        object.__setattr__(self, "velocity", np.asarray(self.velocity, dtype=np.float64).reshape(3))
        if self.kind != "arc" and self.angular_speed_deg != 0.0:
            raise ValueError(f"angular_speed_deg is for arcs only, got {self.angular_speed_deg} for {self.kind!r}")
        if self.kind != "line" and np.any(self.velocity != 0.0):
            raise ValueError(f"velocity is for lines only, got {self.velocity} for {self.kind!r}")

    @property
    def speed(self) -> float:
        """The drawn speed: deg/s (absolute) for an arc, m/s for a line, 0 for a static source."""
        if self.kind == "arc":
            return abs(self.angular_speed_deg)
        return float(np.linalg.norm(self.velocity))

    def positions(self, times: np.ndarray | Sequence[float]) -> np.ndarray:
        """Source positions ``(n, 3)`` at ``times`` ``(n,)`` (seconds from the onset, clamped to the path)."""
        t = np.clip(np.asarray(times, dtype=np.float64).reshape(-1), 0.0, self.duration_s)
        if self.kind == "static":
            return np.repeat(self.start[None, :], t.size, axis=0)
        if self.kind == "line":
            return self.start[None, :] + t[:, None] * self.velocity[None, :]
        rel = self.start - self.array_center
        radius, phi0 = math.hypot(rel[0], rel[1]), math.atan2(rel[1], rel[0])
        phi = phi0 + np.radians(self.angular_speed_deg) * t
        out = np.empty((t.size, 3))
        out[:, 0] = self.array_center[0] + radius * np.cos(phi)
        out[:, 1] = self.array_center[1] + radius * np.sin(phi)
        out[:, 2] = self.start[2]
        return out

    def directions(self, times: np.ndarray | Sequence[float]) -> np.ndarray:
        """Azimuth (deg, (-180, 180]), elevation (deg) and distance (m) at ``times``: ``(n, 3)``."""
        return directions_of(self.positions(times), self.array_center)


def directions_of(points: np.ndarray, array_center: np.ndarray) -> np.ndarray:
    """``geometry.direction_of`` for many points ``(n, 3)``: ``(n, 3)`` azimuth, elevation, distance."""
    d = np.asarray(points, dtype=np.float64).reshape(-1, 3) - np.asarray(array_center, dtype=np.float64)
    distance = np.linalg.norm(d, axis=1)
    azimuth = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        elevation = np.where(distance > 0, np.degrees(np.arcsin(np.clip(d[:, 2] / distance, -1.0, 1.0))), 0.0)
    return np.stack([azimuth, elevation, distance], axis=1)


def _critical_times(trajectory: Trajectory, mic_positions: np.ndarray) -> np.ndarray:
    """Times at which a path reaches its extreme coordinates or its closest approach to a mic.

    A segment is convex, so its box extremes are its end points; its closest point to a mic is the
    projection, clamped. On an arc ``x - c_x = r cos(phi)``, the extremes are at the end points or where
    ``phi`` crosses a multiple of 90 deg, and the closest approach to a mic at horizontal angle ``psi_m`` is at
    ``phi = psi_m (mod 360)`` if the arc passes it, else at an end point (the distance grows with ``|phi - psi_m|``
    up to 180 deg).
    """
    T = trajectory.duration_s
    times = [0.0, T]
    if trajectory.kind == "line":
        v = trajectory.velocity
        vv = float(v @ v)
        if vv > 0:
            times.extend(np.clip((mic_positions - trajectory.start) @ v / vv, 0.0, T).tolist())
    elif trajectory.kind == "arc" and trajectory.angular_speed_deg != 0.0:
        rel = trajectory.start - trajectory.array_center
        phi0 = math.degrees(math.atan2(rel[1], rel[0]))
        omega = trajectory.angular_speed_deg
        lo, hi = sorted((phi0, phi0 + omega * T))
        mic_rel = mic_positions - trajectory.array_center
        targets = [90.0 * k for k in range(4)] + np.degrees(np.arctan2(mic_rel[:, 1], mic_rel[:, 0])).tolist()
        for target in targets:
            first = target + 360.0 * math.ceil((lo - target) / 360.0)
            for angle in np.arange(first, hi, 360.0):
                times.append((angle - phi0) / omega)
    return np.clip(np.asarray(times), 0.0, T)


def path_violation(trajectory: Trajectory, *, room_dims: np.ndarray, mic_positions: np.ndarray,
                   wall_margin: float, min_source_distance: float, source_height: tuple[float, float],
                   tolerance: float = 1e-9) -> str | None:
    """``None`` if every point of the path keeps the margins, else what is violated (for error messages).

    Args:
        trajectory: the path.
        room_dims: ``(3,)`` metres.
        mic_positions: ``(mics, 3)`` absolute positions.
        wall_margin: least distance of the source from every wall.
        min_source_distance: least distance of the source from every mic.
        source_height: ``(low, high)`` range of the source's z.
        tolerance: rounding slack (metres) of the analytic extremes.
    """
    dims = np.asarray(room_dims, dtype=np.float64)
    points = trajectory.positions(_critical_times(trajectory, mic_positions))
    lo = np.array([wall_margin, wall_margin, max(wall_margin, source_height[0])])
    hi = np.array([dims[0] - wall_margin, dims[1] - wall_margin, min(dims[2] - wall_margin, source_height[1])])
    if np.any(points < lo - tolerance) or np.any(points > hi + tolerance):
        return (f"the path leaves the box {lo.round(3).tolist()} .. {hi.round(3).tolist()} m "
                f"(wall_margin {wall_margin:g} m, source_height {tuple(source_height)})")
    closest = float(np.min(np.linalg.norm(points[:, None, :] - mic_positions[None, :, :], axis=2)))
    if closest < min_source_distance - tolerance:
        return f"the path comes {closest:.3f} m from a mic (min_source_distance {min_source_distance:g} m)"
    return None


def sample_trajectory(rng: np.random.Generator, *, kind: str, room_dims: np.ndarray, array_center: np.ndarray,
                      mic_positions: np.ndarray, duration: float, wall_margin: float, min_source_distance: float,
                      source_height: tuple[float, float], angular_speed_range: tuple[float, float] = (10.0, 40.0),
                      line_speed_range: tuple[float, float] = (0.2, 1.0), tries: int = 1000) -> Trajectory:
    """Draw a path of ``kind`` for an event of ``duration`` seconds that keeps every margin at every point.

    - ``static``: a position uniform in the valid box, redrawn until it keeps ``min_source_distance``.
    - ``arc``: height uniform in the valid range; horizontal radius uniform up to the farthest valid corner
      (up to the nearest wall when the arc turns a full circle or more); start azimuth uniform; angular speed
      uniform in ``angular_speed_range`` (deg/s) with a random direction.
    - ``line``: midpoint uniform in the valid box, horizontal heading uniform, speed uniform in
      ``line_speed_range`` (m/s).

    Each draw is redrawn until ``path_violation`` finds nothing, at most ``tries`` times.

    Args:
        rng: the scene's generator.
        room_dims: ``(3,)`` metres.
        array_center: ``(3,)``.
        mic_positions: ``(mics, 3)`` absolute.

    Raises:
        TrajectoryError: no draw in ``tries`` kept the margins; names the room, the duration and the speed.
        ValueError: an unknown kind, a negative duration or an empty speed range.
    """
    if kind not in TRAJECTORY_KINDS:
        raise ValueError(f"unknown trajectory kind {kind!r}; choose one of {', '.join(TRAJECTORY_KINDS)}")
    if not (math.isfinite(duration) and duration >= 0.0):
        raise ValueError(f"trajectory duration must be finite and >= 0 s, got {duration}")
    for name, (a, b) in (("angular_speed_range", angular_speed_range), ("line_speed_range", line_speed_range)):
        if not 0.0 <= a <= b:
            raise ValueError(f"{name} must be 0 <= low <= high, got ({a}, {b})")
    if tries < 1:
        raise ValueError(f"tries must be >= 1, got {tries}")
    dims = np.asarray(room_dims, dtype=np.float64)
    center = np.asarray(array_center, dtype=np.float64)
    mics = np.asarray(mic_positions, dtype=np.float64)
    lo = np.array([wall_margin, wall_margin, max(wall_margin, source_height[0])])
    hi = np.array([dims[0] - wall_margin, dims[1] - wall_margin, min(dims[2] - wall_margin, source_height[1])])
    speed_text = {"static": "static",
                  "arc": f"angular speed {angular_speed_range[0]:g}-{angular_speed_range[1]:g} deg/s",
                  "line": f"speed {line_speed_range[0]:g}-{line_speed_range[1]:g} m/s"}[kind]
    where = (f"room {dims.round(2).tolist()} m (wall_margin {wall_margin:g} m, min_source_distance "
             f"{min_source_distance:g} m, source_height {tuple(source_height)})")
    if np.any(lo > hi):
        raise TrajectoryError(f"no source position fits in the {where}")
    if kind == "line" and line_speed_range[0] * duration > float(np.hypot(*(hi - lo)[:2])):
        raise TrajectoryError(
            f"a line of {duration:g} s at {speed_text} is at least {line_speed_range[0] * duration:.2f} m long, more "
            f"than the {float(np.hypot(*(hi - lo)[:2])):.2f} m diagonal of the valid area of the {where}")
    last = ""
    for _ in range(tries):
        trajectory = _draw(rng, kind=kind, lo=lo, hi=hi, center=center, duration=duration,
                           angular_speed_range=angular_speed_range, line_speed_range=line_speed_range)
        last = path_violation(trajectory, room_dims=dims, mic_positions=mics, wall_margin=wall_margin,
                              min_source_distance=min_source_distance, source_height=source_height)
        if last is None:
            return trajectory
    raise TrajectoryError(f"no {kind} trajectory of {duration:g} s at {speed_text} keeps the margins in the {where} "
                          f"after {tries} tries (last draw: {last})")


def _draw(rng: np.random.Generator, *, kind: str, lo: np.ndarray, hi: np.ndarray, center: np.ndarray,
          duration: float, angular_speed_range: tuple[float, float],
          line_speed_range: tuple[float, float]) -> Trajectory:
    """One unchecked draw of ``sample_trajectory`` (``lo``/``hi``: the valid box of source positions)."""
    if kind == "static":
        return Trajectory(kind="static", start=rng.uniform(lo, hi), array_center=center, duration_s=duration)
    if kind == "arc":
        omega = float(rng.uniform(*angular_speed_range)) * (1.0 if rng.random() < 0.5 else -1.0)
        z = float(rng.uniform(lo[2], hi[2]))
        if abs(omega) * duration >= 360.0:  # a full circle: it must fit around the centre
            r_max = float(min(center[0] - lo[0], hi[0] - center[0], center[1] - lo[1], hi[1] - center[1]))
        else:
            corners = np.array([[x, y] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])]) - center[:2]
            r_max = float(np.max(np.linalg.norm(corners, axis=1)))
        radius = float(rng.uniform(0.0, max(r_max, 0.0)))
        phi = float(rng.uniform(-math.pi, math.pi))
        start = np.array([center[0] + radius * math.cos(phi), center[1] + radius * math.sin(phi), z])
        return Trajectory(kind="arc", start=start, array_center=center, duration_s=duration, angular_speed_deg=omega)
    speed = float(rng.uniform(*line_speed_range))
    heading = float(rng.uniform(-math.pi, math.pi))
    velocity = speed * np.array([math.cos(heading), math.sin(heading), 0.0])
    middle = rng.uniform(lo, hi)
    return Trajectory(kind="line", start=middle - velocity * duration / 2.0, array_center=center,
                      duration_s=duration, velocity=velocity)
