"""What a training run needs to know about a split file, read once and checked with clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mcsimclr.core.errors import DataError
from mcsimclr.core.h5schema import FORMAT_NAME, SCHEMA_VERSION


@dataclass(frozen=True)
class DataInfo:
    """Header of one split file."""

    path: Path
    sample_rate: int
    n_clips: int
    mic_offsets: np.ndarray  # (mics, 3)
    array_geometry: str
    class_names: tuple[str, ...]

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
        if f.attrs.get("format") != FORMAT_NAME:
            raise DataError(f"{path}: not a `simulate build` file (format {f.attrs.get('format')!r})")
        version = int(f.attrs.get("schema_version", -1))
        if version != SCHEMA_VERSION:
            raise DataError(f"{path}: schema_version {version}, this version of mcsimclr reads {SCHEMA_VERSION}; "
                            "rebuild it with this version's `simulate build`")
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs["class_names"])
        return DataInfo(path=path, sample_rate=int(f.attrs["sample_rate"]), n_clips=int(f.attrs["n_clips"]),
                        mic_offsets=np.asarray(f.attrs["mic_offsets"], dtype=np.float64),
                        array_geometry=str(f.attrs["array_geometry"]), class_names=names)


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
