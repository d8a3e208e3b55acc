"""``simulate verify`` for a scene file: the schema (mcsimclr/core/scene_schema.py) and the label rules."""

from __future__ import annotations

import h5py
import numpy as np

from mcsimclr.core.scene_schema import EVENT_FIELDS, FRAME_FIELDS, PER_SCENE_FIELDS, REQUIRED_SCENE_ATTRS
from simulate.verify import field_problems


def verify_scene_file(f: h5py.File, *, check_audio: bool = False) -> list[str]:
    """The problems of the open scene file ``f`` (empty if it conforms): attributes, shapes and types, offsets
    against ``audio`` and ``frames/``, the label rules (class -1 and NaN directions exactly where inactive, classes
    in range, at most ``max_tracks`` at once), events that belong to their scenes; with ``check_audio`` the audio
    is finite with its peak within [0, 1]."""
    problems = [f"missing attribute {a!r}" for a in REQUIRED_SCENE_ATTRS if a not in f.attrs]
    if problems:
        return problems
    n, n_mics, tracks = int(f.attrs["n_scenes"]), int(f.attrs["n_mics"]), int(f.attrs["max_tracks"])
    n_classes = len(f.attrs["class_names"])
    if "audio" not in f or f["audio"].ndim != 2 or f["audio"].shape[0] != n_mics:
        problems.append(f"audio must be (n_mics={n_mics}, total_samples)")
    problems += field_problems(f, PER_SCENE_FIELDS, rows=n, dims={"tracks": tracks})
    n_frames = int(f["n_frames"][()].sum()) if "n_frames" in f else 0
    n_events = int(f["n_events"][()].sum()) if "n_events" in f else 0
    for name, fields, rows in (("frames", FRAME_FIELDS, n_frames), ("events", EVENT_FIELDS, n_events)):
        if name not in f:
            problems.append(f"missing group {name!r}")
        else:
            problems += field_problems(f[name], fields, rows=rows, dims={"tracks": tracks}, where=f"{name}/")
    if problems:
        return problems
    offsets, lengths = f["offsets"][()], f["lengths"][()]
    if n and (offsets[0] != 0 or np.any(offsets[1:] != np.cumsum(lengths)[:-1])
              or int(lengths.sum()) != f["audio"].shape[1]):
        problems.append("offsets/lengths do not tile `audio`")
    frame_offsets = f["frame_offsets"][()]
    if n and (frame_offsets[0] != 0 or np.any(frame_offsets[1:] != np.cumsum(f["n_frames"][()])[:-1])):
        problems.append("frame_offsets/n_frames do not tile `frames/`")
    hop = float(f.attrs["label_hop_s"])
    fs = int(f.attrs["sample_rate"])
    needed = np.ceil(lengths / (hop * fs) - 1e-9).astype(np.int64)
    if np.any(f["n_frames"][()] > needed + 1):
        problems.append("a scene has more label frames than its audio lasts")
    g = f["frames"]
    active, cls = g["active"][()], g["class_index"][()]
    if np.any(cls[~active] != -1) or np.any(cls[active] < 0) or np.any(cls[active] >= n_classes):
        problems.append(f"frames/class_index must be -1 exactly where inactive and in [0, {n_classes}) elsewhere")
    for name in ("azimuth_deg", "elevation_deg"):
        v = g[name][()]
        if not np.all(np.isnan(v[~active])) or np.any(np.isnan(v[active])):
            problems.append(f"frames/{name} must be NaN exactly where inactive")
    az, el = g["azimuth_deg"][()][active], g["elevation_deg"][()][active]
    if np.any((az <= -180.0 - 1e-3) | (az > 180.0 + 1e-3)) or np.any(np.abs(el) > 90.0 + 1e-3):
        problems.append("frames/ directions out of range (azimuth (-180, 180], elevation [-90, 90])")
    e = f["events"]
    scene = e["scene"][()]
    if np.any(scene < 0) or np.any(scene >= n) or np.any(np.bincount(scene, minlength=n) != f["n_events"][()]):
        problems.append("events/scene does not match n_events per scene")
    if np.any(e["track"][()] >= tracks) or np.any(e["class_index"][()] >= n_classes):
        problems.append("events/track or events/class_index out of range")
    ends = e["onset_s"][()] + e["duration_s"][()]
    if n_events and np.any(ends > lengths[scene] / fs + 1e-6):
        problems.append("an event ends after its scene")
    if check_audio:
        peak = 0.0
        for start in range(0, f["audio"].shape[1], 1 << 20):
            block = f["audio"][:, start : start + (1 << 20)]
            if not np.all(np.isfinite(block)):
                problems.append("audio holds NaN or infinite samples")
                break
            peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
        if peak > 1.0:
            problems.append(f"audio peak {peak:.3f} > 1")
    return problems
