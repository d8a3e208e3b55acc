"""Frame-level sound event labels: per 100 ms frame and track, the class and direction of an active event.

Conventions (docs/dataset.md, the same as DCASE): azimuth counter-clockwise from the front (+x) seen from
above, degrees in (-180, 180]; elevation up from the horizontal plane, degrees in [-90, 90]; distance from the
array centre in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FrameLabels"]

_FIELDS: tuple[tuple[str, type], ...] = (
    ("active", np.bool_),
    ("class_index", np.int16),
    ("azimuth_deg", np.float32),
    ("elevation_deg", np.float32),
    ("distance_m", np.float32),
)


@dataclass(frozen=True)
class FrameLabels:
    """Labels of one scene, every array ``(frames, tracks)``.

    A track holds at most one event per frame; several tracks give polyphony (two events of the same class
    may be active at once on different tracks). Inactive entries hold ``class_index == -1`` and NaN
    directions and distances; ``distance_m`` is NaN also where the data has no distance. The arrays are
    checked when the object is made (dtypes, shapes, these rules); they are plain NumPy arrays after that.

    Attributes:
        active: bool ``(frames, tracks)``, the track holds an event in the frame.
        class_index: int16 ``(frames, tracks)``, class index, -1 when inactive.
        azimuth_deg: float32 ``(frames, tracks)``, degrees in (-180, 180], NaN when inactive.
        elevation_deg: float32 ``(frames, tracks)``, degrees in [-90, 90], NaN when inactive.
        distance_m: float32 ``(frames, tracks)``, metres, NaN when inactive or unknown.
        hop_s: frame hop in seconds (frame ``k`` covers ``[k * hop_s, (k + 1) * hop_s)``).
    """

    active: np.ndarray
    class_index: np.ndarray
    azimuth_deg: np.ndarray
    elevation_deg: np.ndarray
    distance_m: np.ndarray
    hop_s: float = 0.1

    def __post_init__(self) -> None:
        shape = np.shape(self.active)
        if len(shape) != 2:
            raise ValueError(f"FrameLabels arrays must be (frames, tracks), got active of shape {shape}")
        for name, dtype in _FIELDS:
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.dtype != dtype:
                got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
                raise ValueError(f"FrameLabels.{name} must be a {np.dtype(dtype)} array, got {got}")
            if value.shape != shape:
                raise ValueError(f"FrameLabels.{name} has shape {value.shape}, expected {shape} like active")
        if not self.hop_s > 0:
            raise ValueError(f"FrameLabels.hop_s must be > 0 s, got {self.hop_s}")
        inactive = ~self.active
        if np.any(self.class_index[inactive] != -1) or np.any(self.class_index[self.active] < 0):
            raise ValueError("FrameLabels.class_index must be -1 exactly where the track is inactive")
        for name in ("azimuth_deg", "elevation_deg"):
            value = getattr(self, name)
            if not np.all(np.isnan(value[inactive])) or np.any(np.isnan(value[self.active])):
                raise ValueError(f"FrameLabels.{name} must be NaN exactly where the track is inactive")
        if not np.all(np.isnan(self.distance_m[inactive])):
            raise ValueError("FrameLabels.distance_m must be NaN where the track is inactive")

    @classmethod
    def empty(cls, *, n_frames: int, n_tracks: int, hop_s: float = 0.1) -> FrameLabels:
        """Labels with no active event ``(n_frames, n_tracks)``."""
        shape = (n_frames, n_tracks)
        nan = np.full(shape, np.nan, dtype=np.float32)
        return cls(active=np.zeros(shape, dtype=bool), class_index=np.full(shape, -1, dtype=np.int16),
                   azimuth_deg=nan, elevation_deg=nan.copy(), distance_m=nan.copy(), hop_s=hop_s)

    @property
    def frames(self) -> int:
        return int(self.active.shape[0])

    @property
    def tracks(self) -> int:
        return int(self.active.shape[1])

    def frame_centres(self) -> np.ndarray:
        """Centre of each frame in seconds ``(frames,)``."""
        return (np.arange(self.frames) + 0.5) * self.hop_s

    @property
    def n_frames(self) -> int:
        return int(self.active.shape[0])

    @property
    def n_tracks(self) -> int:
        return int(self.active.shape[1])

    @property
    def has_distance(self) -> bool:
        """Whether every active entry has a distance (``False`` for labels without distance; ``True`` when
        nothing is active)."""
        return bool(np.all(np.isfinite(self.distance_m[self.active])))
