"""What a training run needs to know about a split file, read once and checked with clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np

from mcsimclr.core.errors import DataError
from mcsimclr.core.h5schema import FORMAT_NAME, SCHEMA_VERSION
from mcsimclr.core.scene_schema import SCENE_FORMAT_NAME, SCENE_SCHEMA_VERSION


@dataclass(frozen=True)
class DataInfo:
    """Header of one split file: a clip file (``simulate build``, schema 1) or a scene file (``simulate scenes``,
    schema 2; ``n_clips`` is then its number of scenes, each a long multi-event recording)."""

    path: Path
    sample_rate: int
    n_clips: int
    mic_offsets: np.ndarray  # (mics, 3)
    array_geometry: str
    class_names: tuple[str, ...]
    kind: Literal["clips", "scenes"] = "clips"

    @property
    def n_mics(self) -> int:
        return int(self.mic_offsets.shape[0])


def read_data_info(path: str | Path) -> DataInfo:
    """Read and check a split file's header: it exists, is ours, and has the schema version this code reads."""
    path = Path(path)
    if not str(path) or not path.is_file():
        raise DataError(f"data file not found: {path} (make one with `simulate build`)")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})") from err
    with f:
        fmt = f.attrs.get("format")
        kind, expected, count = (("scenes", SCENE_SCHEMA_VERSION, "n_scenes") if fmt == SCENE_FORMAT_NAME
                                 else ("clips", SCHEMA_VERSION, "n_clips"))
        if fmt not in (FORMAT_NAME, SCENE_FORMAT_NAME):
            raise DataError(f"{path}: not a `simulate build` or `simulate scenes` file (format {fmt!r})")
        version = int(f.attrs.get("schema_version", -1))
        if version != expected:
            command = "simulate build" if kind == "clips" else "simulate scenes"
            raise DataError(f"{path}: schema_version {version}, this version of mcsimclr reads {expected} for "
                            f"{kind[:-1]} files; rebuild it with this version's `{command}`")
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs["class_names"])
        return DataInfo(path=path, sample_rate=int(f.attrs["sample_rate"]), n_clips=int(f.attrs[count]),
                        mic_offsets=np.asarray(f.attrs["mic_offsets"], dtype=np.float64),
                        array_geometry=str(f.attrs["array_geometry"]), class_names=names, kind=kind)


def check_compatible(infos: list[DataInfo], *, sample_rate: int, mic_offsets: np.ndarray | None = None,
                     what: str = "the features") -> None:
    """Every file has ``sample_rate`` and the same array (and ``mic_offsets`` if given, e.g. a checkpoint's)."""
    reference = infos[0].mic_offsets if mic_offsets is None else np.asarray(mic_offsets)
    for info in infos:
        if info.sample_rate != sample_rate:
            raise DataError(f"{info.path}: sample rate {info.sample_rate} Hz, but {what} expect {sample_rate} Hz "
                            f"(set features.sample_rate={info.sample_rate}, or rebuild the data)")
        if info.mic_offsets.shape != reference.shape or not np.allclose(info.mic_offsets, reference, atol=1e-6):
            raise DataError(f"{info.path}: array geometry {info.array_geometry!r} with {info.n_mics} mics does not "
                            f"match {what} ({reference.shape[0]} mics at {np.round(reference, 4).tolist()})")
