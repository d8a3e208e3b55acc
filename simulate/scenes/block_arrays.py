"""The arrays of one block of scenes, as saved in a block file and assembled by ``simulate.scenes.build``.

Keys: ``audio`` ``(mics, samples)`` (the block's scenes one after another), ``scene__<field>`` per scene,
``frames__<field>`` ``(frames, tracks)`` and ``events__<field>`` per event (``events__scene``: the scene's row in
the block), the fields of ``mcsimclr.core.scene_schema``. Simulated and recorded scenes both make these.
"""

from __future__ import annotations

import numpy as np

from mcsimclr.core.h5schema import Field
from mcsimclr.core.scene_schema import EVENT_FIELDS, FRAME_FIELDS, PER_SCENE_FIELDS

__all__ = ["PER_SCENE_NAMES", "block_arrays", "column"]

PER_SCENE_NAMES = tuple(f.name for f in PER_SCENE_FIELDS if f.name not in ("offsets", "frame_offsets"))
"""The per-scene fields a renderer gives (``offsets`` and ``frame_offsets`` are computed when the file is written)."""


def column(values: list, field: Field) -> np.ndarray:
    """``values`` (one per row) as the array of ``field``: ``(rows, *field.shape)``."""
    if field.dtype == "str":
        return np.array([str(v) for v in values], dtype=str)
    trailing = tuple(s for s in field.shape if isinstance(s, int))
    return np.asarray(values, dtype=field.dtype).reshape((len(values), *trailing))


def block_arrays(*, audio: list[np.ndarray], scenes: dict[str, list], frames: dict[str, list[np.ndarray]],
                 events: dict[str, list], tracks: int) -> dict[str, np.ndarray]:
    """The arrays of a block file from per-scene lists.

    Args:
        audio: each scene's ``(mics, samples)``.
        scenes: ``PER_SCENE_NAMES`` -> one value per scene.
        frames: ``FRAME_FIELDS`` names -> each scene's ``(frames, tracks)`` array.
        events: ``EVENT_FIELDS`` names -> one value per event.
        tracks: tracks of the labels.
    """
    arrays: dict[str, np.ndarray] = {"audio": np.concatenate(audio, axis=1)}
    arrays |= {f"scene__{f.name}": column(scenes[f.name], f) for f in PER_SCENE_FIELDS if f.name in scenes}
    arrays |= {f"frames__{f.name}": np.concatenate(frames[f.name]).astype(f.dtype).reshape(-1, tracks)
               for f in FRAME_FIELDS}
    arrays |= {f"events__{f.name}": column(events[f.name], f) for f in EVENT_FIELDS}
    return arrays
