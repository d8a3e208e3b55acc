"""Labelled split files for the probe: checked for usable labels, then held in memory as a :class:`ClipStore`."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from mcsimclr.data.clip_store import ClipStore
from mcsimclr.data.clips_dataset import LABEL_FIELDS
from mcsimclr.data.data_info import DataError, DataInfo, read_data_info


def check_labels(path: str | Path, *, what: str = "probe") -> DataInfo:
    """Read a split file's header and check that every clip has what the probe needs.

    Needed: at least two ``class_names``; a ``label`` in ``0 .. len(class_names) - 1`` for every clip (no
    ``-1`` "unlabelled" clips); a finite ``azimuth_deg`` for every clip; and the columns
    ``elevation_deg, distance_m, rt60_measured, rt60_target`` (results are binned by RT60 and distance).

    Raises:
        DataError: naming the file, what is wrong and what is expected.
    """
    info = read_data_info(path)
    if info.kind == "scenes":
        raise DataError(f"{info.path}: a scene file (`simulate scenes`, labels per frame); the {what} evaluates one "
                        "label per clip and needs a clip file from `simulate build`")
    expect = ("the probe needs a labelled split written by `simulate build` (clean_train or test): class_names, "
              "a class label and an azimuth for every clip")
    if len(info.class_names) < 2:
        raise DataError(f"{info.path}: class_names holds {len(info.class_names)} name(s); {expect}")
    with h5py.File(info.path, "r") as f:
        missing = [k for k in LABEL_FIELDS if k not in f]
        if missing:
            raise DataError(f"{info.path}: no {', '.join(missing)} column(s); {expect}")
        label = f["label"][()]
        azimuth = f["azimuth_deg"][()]
    if label.size == 0:
        raise DataError(f"{info.path}: holds no clips; {expect}")
    bad = (label < 0) | (label >= len(info.class_names))
    if bad.all():
        raise DataError(f"{info.path}: no clip has a class label (labels {np.unique(label[bad])[:5].tolist()}, "
                        f"expected 0..{len(info.class_names) - 1}); {expect}")
    if bad.any():
        raise DataError(f"{info.path}: {int(bad.sum())} of {label.size} clips have no valid class label (e.g. "
                        f"{int(label[bad][0])}, expected 0..{len(info.class_names) - 1}); {expect}")
    if not np.isfinite(azimuth).all():
        raise DataError(f"{info.path}: {int((~np.isfinite(azimuth)).sum())} clips have no azimuth (NaN); {expect}")
    return info


def check_same_classes(train: DataInfo, test: DataInfo) -> None:
    """Train and test must share one class list, in one order (labels are indices into it)."""
    if train.class_names != test.class_names:
        only_train = [c for c in train.class_names if c not in test.class_names]
        only_test = [c for c in test.class_names if c not in train.class_names]
        detail = (f"only in train: {only_train[:5]}, only in test: {only_test[:5]}" if only_train or only_test
                  else "same names in another order")
        raise DataError(f"class lists differ between {train.path} ({len(train.class_names)} classes) and "
                        f"{test.path} ({len(test.class_names)} classes): {detail}; build both splits with one "
                        "`simulate build` config")


def load_store(info: DataInfo, *, device: torch.device, dtype: torch.dtype) -> ClipStore:
    """The whole split in memory on ``device`` (see :class:`ClipStore`)."""
    return ClipStore(info.path, device=device, dtype=dtype)
