"""``simulate verify``: check a split file against the schema (mcsimclr/core/h5schema.py, docs/dataset.md); scene
files against theirs (simulate/scenes/verify.py)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from mcsimclr.core.h5schema import FORMAT_NAME, PER_CLIP_FIELDS, REQUIRED_ATTRS, SCHEMA_VERSION, Field
from mcsimclr.core.scene_schema import SCENE_FORMAT_NAME, SCENE_SCHEMA_VERSION

_KINDS = {"int64": "i", "int32": "i", "int16": "i", "float32": "f", "float64": "f", "str": "O", "bool": "b"}


def field_problems(group: h5py.Group, fields: Iterable[Field], *, rows: int, dims: dict[str, int],
                   where: str = "") -> list[str]:
    """Missing datasets, and datasets of another shape ``(rows, *field.shape)`` (named dims from ``dims``, e.g.
    ``mics``, ``tracks``) or dtype kind, for ``fields`` in ``group`` (``where``: the group's prefix in messages)."""
    problems = []
    for field in fields:
        if field.name not in group:
            problems.append(f"missing dataset {where}{field.name!r}")
            continue
        ds = group[field.name]
        trailing = tuple(dims.get(s, s) if isinstance(s, str) else s for s in field.shape)
        if ds.shape != (rows, *trailing):
            problems.append(f"{where}{field.name} has shape {ds.shape}, expected {(rows, *trailing)}")
        if ds.dtype.kind != _KINDS[field.dtype]:
            problems.append(f"{where}{field.name} has dtype {ds.dtype}, expected {field.dtype}")
    return problems


def verify_file(path: str | Path, *, check_audio: bool = False) -> list[str]:
    """The problems found in ``path`` (empty if it conforms).

    Checks attributes, every dataset's shape and type, offsets/lengths against ``audio``, label range,
    geometry (labels recomputed from positions, positions inside the room) and the stored config. With
    ``check_audio``, also reads all audio (finite, peak within [0, 1]).
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path}: no such file"]
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        return [f"{path}: not a readable HDF5 file ({err})"]
    problems: list[str] = []
    with f:
        if f.attrs.get("format") == SCENE_FORMAT_NAME:
            version = f.attrs.get("schema_version")
            if version != SCENE_SCHEMA_VERSION:
                return [f"{path}: scene schema_version {version}, this version of simulate reads "
                        f"{SCENE_SCHEMA_VERSION}"]
            from simulate.scenes.verify import verify_scene_file

            return [f"{path}: {p}" for p in verify_scene_file(f, check_audio=check_audio)]
        if f.attrs.get("format") != FORMAT_NAME:
            return [f"{path}: attribute format is {f.attrs.get('format')!r}, expected {FORMAT_NAME!r}"]
        version = f.attrs.get("schema_version")
        if version != SCHEMA_VERSION:
            return [f"{path}: schema_version {version}, this version of simulate reads {SCHEMA_VERSION}"]
        problems += [f"missing attribute {a!r}" for a in REQUIRED_ATTRS if a not in f.attrs]
        if problems:
            return [f"{path}: {p}" for p in problems]
        n = int(f.attrs["n_clips"])
        n_mics = int(f.attrs["n_mics"])
        n_classes = len(f.attrs["class_names"])
        if np.shape(f.attrs["mic_offsets"]) != (n_mics, 3):
            problems.append(f"mic_offsets has shape {np.shape(f.attrs['mic_offsets'])}, expected ({n_mics}, 3)")
        if "audio" not in f:
            problems.append("missing dataset 'audio'")
        elif f["audio"].ndim != 2 or f["audio"].shape[0] != n_mics:
            problems.append(f"audio has shape {f['audio'].shape}, expected ({n_mics}, total_samples)")
        elif f["audio"].dtype != np.dtype(str(f.attrs["audio_dtype"])):
            problems.append(f"audio dtype {f['audio'].dtype} differs from attribute audio_dtype")
        problems += field_problems(f, PER_CLIP_FIELDS, rows=n, dims={"mics": n_mics})
        if "skipped" not in f or "source_id" not in f["skipped"] or "reason" not in f["skipped"]:
            problems.append("missing group 'skipped' with datasets source_id and reason")
        if problems:
            return [f"{path}: {p}" for p in problems]
        problems += _check_values(f, n, n_classes)
        if check_audio:
            problems += _check_audio(f)
        problems += _check_config(f)
    return [f"{path}: {p}" for p in problems]


def _check_values(f: h5py.File, n: int, n_classes: int) -> list[str]:
    problems = []
    offsets, lengths = f["offsets"][()], f["lengths"][()]
    if n and (offsets[0] != 0 or np.any(offsets[1:] != offsets[:-1] + lengths[:-1])):
        problems.append("offsets are not the running sum of lengths")
    if np.any(lengths <= 0):
        problems.append(f"{int(np.sum(lengths <= 0))} clips have length <= 0")
    if int(lengths.sum()) != f["audio"].shape[1]:
        problems.append(f"lengths add up to {int(lengths.sum())} samples, audio holds {f['audio'].shape[1]}")
    labels = f["label"][()]
    if np.any((labels < 0) | (labels >= n_classes)):
        problems.append(f"labels outside [0, {n_classes})")
    src, ctr, dims = f["source_pos"][()], f["array_center"][()], f["room_dims"][()]
    for name in ("azimuth_deg", "elevation_deg", "distance_m", "rt60_target", "rt60_sabine", "absorption", "gain"):
        if not np.all(np.isfinite(f[name][()])):
            problems.append(f"{name} holds non-finite values")
    d = src - ctr
    dist = np.linalg.norm(d, axis=1)
    az = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
    az_err = np.abs((f["azimuth_deg"][()] - az + 180.0) % 360.0 - 180.0)
    if n and float(az_err.max()) > 1e-3:
        problems.append(f"azimuth_deg disagrees with the positions (max error {az_err.max():.3g} deg)")
    if n and float(np.abs(f["distance_m"][()] - dist).max()) > 1e-4:
        problems.append("distance_m disagrees with the positions")
    el = np.degrees(np.arcsin(np.clip(d[:, 2] / np.maximum(dist, 1e-12), -1, 1)))
    if n and float(np.abs(f["elevation_deg"][()] - el).max()) > 1e-3:
        problems.append("elevation_deg disagrees with the positions")
    mics = ctr[:, None, :] + np.asarray(f.attrs["mic_offsets"])[None]
    for name, pts in (("source_pos", src[:, None, :]), ("microphones", mics)):
        if np.any(pts < 0) or np.any(pts > dims[:, None, :]):
            problems.append(f"{name} outside the room")
    absorption = f["absorption"][()]
    if np.any((absorption <= 0) | (absorption > 1)):
        problems.append("absorption outside (0, 1]")
    return problems


def _check_audio(f: h5py.File) -> list[str]:
    audio = f["audio"]
    step = audio.chunks[1] * 64 if audio.chunks else 1 << 21
    peak = 0.0
    for start in range(0, audio.shape[1], step):
        block = audio[:, start : start + step]
        if not np.all(np.isfinite(block)):
            return [f"audio holds non-finite samples near sample {start}"]
        peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
    if peak > 1.0:
        return [f"audio peak {peak:.3f} exceeds 1"]
    return []


def _check_config(f: h5py.File) -> list[str]:
    import yaml

    from mcsimclr.core.config import ConfigError, from_dict
    from simulate.config import SimulateConfig

    try:
        data = yaml.safe_load(f.attrs["config_yaml"])
        from_dict(SimulateConfig, data, where="stored config")
    except (yaml.YAMLError, ConfigError) as err:
        return [f"config_yaml does not load as a SimulateConfig: {err}"]
    return []
