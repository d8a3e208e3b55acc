"""Open a clip file (schema 1) or a scene file (schema 2) for the classical baselines, with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcsimclr.core.errors import DataError
from mcsimclr.core.h5schema import FORMAT_NAME, SCHEMA_VERSION, SpatialClipsFile, check_format
from mcsimclr.core.scene_schema import SpatialScenesFile, open_scene_file

__all__ = ["mic_positions_of", "open_clip_file", "open_scene_file"]


def open_clip_file(path: str | Path) -> SpatialClipsFile:
    """``path`` as a clip file of this schema version (``simulate build``).

    Raises:
        DataError: a missing or unreadable file, a scene file or another format, another schema version.
    """
    path = Path(path)
    check_format(path, format_name=FORMAT_NAME, version=SCHEMA_VERSION)
    return SpatialClipsFile(path)


def mic_positions_of(data: SpatialClipsFile | SpatialScenesFile) -> np.ndarray:
    """The file's mic offsets from the array centre ``(mics, 3)`` metres (attribute ``mic_offsets``)."""
    mics = np.asarray(data.attrs["mic_offsets"], dtype=np.float64)
    if mics.ndim != 2 or mics.shape[1] != 3:
        raise DataError(f"{data.path}: attribute mic_offsets has shape {mics.shape}, expected (mics, 3)")
    return mics
