"""``simulate info`` for a scene file: scenes, events per class, polyphony, paths and directions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcsimclr.core.scene_schema import SpatialScenesFile
from simulate.info import text_histogram


def polyphony_fractions(active: np.ndarray) -> np.ndarray:
    """Fraction of frames with 0, 1, ..., tracks events active, from ``active (frames, tracks)``."""
    counts = np.bincount(active.sum(axis=1), minlength=active.shape[1] + 1).astype(np.float64)
    return counts / max(active.shape[0], 1)


def describe_scenes(path: str | Path) -> str:
    """The report that ``simulate info`` prints for one scene file."""
    with SpatialScenesFile(path) as scenes:
        a = scenes.attrs
        names = scenes.class_names
        fs = int(a["sample_rate"])
        lengths = scenes.column("lengths")
        frames = scenes.all_frames()
        events = scenes.events()
        lines = [
            f"{path}",
            f"  split {a['split']}: {len(lengths)} scenes, {lengths.sum() / fs / 3600:.3f} h (scene length "
            f"{lengths.min() / fs:.2f}-{lengths.max() / fs:.2f} s), {len(events['scene'])} events, labels every "
            f"{float(a['label_hop_s']):g} s on {int(a['max_tracks'])} tracks",
            f"  {a['n_mics']} mics ({a['array_geometry']}), {fs} Hz, {a['audio_dtype']}, source {a['source_kind']}, "
            f"backend {a['backend']} ({a['backend_version']}), schema {a['schema_version']}",
            "  frames at each polyphony (events active at once):",
        ]
        fractions = polyphony_fractions(frames["active"])
        lines += [f"    {k}: {100 * p:5.1f} %" for k, p in enumerate(fractions)]
        lines.append("  events per class:")
        counts = np.bincount(events["class_index"], minlength=len(names))
        width = max(len(n) for n in names)
        lines += [f"    {n:{width}} {c:7d}" for n, c in zip(names, counts, strict=True)]
        kinds, per_kind = np.unique(events["trajectory"].astype(str), return_counts=True)
        lines.append("  paths: " + ", ".join(f"{k} {c}" for k, c in zip(kinds, per_kind, strict=True)))
        az = frames["azimuth_deg"][frames["active"]]
        lines.append("  azimuth of active frames (deg):")
        lines += text_histogram(az, np.linspace(-180, 180, 13))
        dist = frames["distance_m"][frames["active"]]
        if np.isfinite(dist).any():
            lines.append("  distance of active frames (m):")
            lines += text_histogram(dist, np.arange(0.0, np.ceil(np.nanmax(dist) * 2) / 2 + 0.5, 0.5))
        rt60 = scenes.column("rt60_target")
        if np.isfinite(rt60).any():
            lines.append("  RT60 target (s):")
            lines += text_histogram(rt60, np.arange(0.0, np.ceil(np.nanmax(rt60) * 10) / 10 + 0.1, 0.1))
    return "\n".join(lines)
