"""``simulate info``: what a split file holds: counts per class, duration, and label histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcsimclr.core.h5schema import SpatialClipsFile
from mcsimclr.core.scene_schema import SCENE_FORMAT_NAME


def text_histogram(values: np.ndarray, edges: np.ndarray, *, width: int = 40, unit: str = "") -> list[str]:
    """One line per bin: range, count and a bar scaled to the largest bin."""
    counts, _ = np.histogram(values[np.isfinite(values)], bins=edges)
    top = max(int(counts.max()), 1) if counts.size else 1
    return [f"  [{lo:7.2f}, {hi:7.2f}){unit} {c:7d} {'#' * round(width * c / top)}"
            for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]


def paired_histogram(a: np.ndarray, b: np.ndarray, edges: np.ndarray, *, names: tuple[str, str],
                     width: int = 30) -> list[str]:
    """Two histograms on the same bins side by side (e.g. RT60 target vs measured)."""
    ca, _ = np.histogram(a[np.isfinite(a)], bins=edges)
    cb, _ = np.histogram(b[np.isfinite(b)], bins=edges)
    top = max(int(ca.max()), int(cb.max()), 1)
    lines = [f"  {'bin (s)':>16} {names[0]:>8} {'':{width}} {names[1]:>8}"]
    for lo, hi, x, y in zip(edges[:-1], edges[1:], ca, cb, strict=True):
        lines.append(f"  [{lo:5.2f}, {hi:5.2f}) {x:8d} {'#' * round(width * x / top):{width}} {y:8d} "
                     f"{'#' * round(width * y / top)}")
    return lines


def describe(path: str | Path) -> str:
    """The report that ``simulate info`` prints for one file (a clip file, or a scene file)."""
    import h5py

    with h5py.File(path, "r") as f:
        is_scenes = f.attrs.get("format") == SCENE_FORMAT_NAME
    if is_scenes:
        from simulate.scenes.info import describe_scenes

        return describe_scenes(path)
    with SpatialClipsFile(path) as clips:
        a = clips.attrs
        names = clips.class_names
        labels = clips.column("label")
        lengths = clips.column("lengths")
        fs = int(a["sample_rate"])
        lines = [
            f"{path}",
            f"  split {a['split']}: {len(labels)} clips, {lengths.sum() / fs / 3600:.3f} h "
            f"(clip length {lengths.min() / fs:.2f}-{lengths.max() / fs:.2f} s, mean {lengths.mean() / fs:.2f} s)",
            f"  {a['n_mics']} mics ({a['array_geometry']}), {fs} Hz, {a['audio_dtype']}, source {a['source_kind']}, "
            f"backend {a['backend_version']}, schema {a['schema_version']}",
        ]
        skipped = clips.skipped()
        if skipped:
            lines.append(f"  {len(skipped)} source clips skipped as bad input (first: {skipped[0][0]}: "
                         f"{skipped[0][1]})")
        lines.append("  clips per class:")
        counts = np.bincount(labels, minlength=len(names))
        width = max(len(n) for n in names)
        lines += [f"    {n:{width}} {c:7d}" for n, c in zip(names, counts, strict=True)]
        lines.append("  azimuth (deg):")
        lines += text_histogram(clips.column("azimuth_deg"), np.linspace(-180, 180, 13))
        dist = clips.column("distance_m")
        lines.append("  distance (m):")
        lines += text_histogram(dist, np.arange(0.0, np.ceil(dist.max() * 2) / 2 + 0.5, 0.5))
        target, measured = clips.column("rt60_target"), clips.column("rt60_measured")
        top = float(np.nanmax(np.concatenate([target, measured])))
        lines.append("  RT60 target vs measured (Schroeder):")
        lines += paired_histogram(target, measured, np.arange(0.0, np.ceil(top * 10) / 10 + 0.1, 0.1),
                                  names=("target", "measured"))
        ok = np.isfinite(measured)
        rel = (measured[ok] - target[ok]) / target[ok]
        if rel.size:
            within = float(np.mean(np.abs(rel) <= 0.1)) * 100
            lines.append(f"  measured/target - 1: median {np.median(rel) * 100:+.1f} %, {within:.0f} % of rooms "
                         f"within +-10 %; {int((~ok).sum())} not measurable")
        infeasible = int(np.sum(clips.column("rt60_sabine") > clips.column("rt60_target") * (1 + 1e-6)))
        if infeasible:
            lines.append(f"  {infeasible} rooms could not be as dry as drawn (absorption clamped)")
    return "\n".join(lines)
