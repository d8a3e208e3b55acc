"""Spatialise one block of clips: draw each clip's room, compute its RIRs, convolve, measure, record."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import fftconvolve

from mcsimclr.core.array import direction_of
from simulate.backends import RIRBackend
from simulate.config import SimulateConfig
from simulate.geometry import sample_scene
from simulate.rt60 import measure_rt60_mics
from simulate.sources import ClipRef, SourceError, SourceSet


def clip_rng(*, seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that draws clip ``index`` of ``split``'s room: independent of worker and order."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode()), index]))


def convolve_block(dry_clips: Sequence[np.ndarray], rirs: Sequence[np.ndarray], *,
                   backend: RIRBackend) -> Iterator[np.ndarray]:
    """Each dry clip ``(samples,)`` convolved with its RIRs ``(mics, rir_samples)``: ``(mics, samples +
    rir_samples - 1)`` float64, in order.

    A backend that lives on a CUDA device (its ``device`` attribute) gets the whole block convolved there in
    batched FFTs (``simulate.convolve``); the others clip by clip with ``scipy.signal.fftconvolve`` in float64,
    which keeps pyroomacoustics builds bit-identical to earlier ones. torch is imported only on the GPU path.
    """
    device = getattr(backend, "device", None)
    if getattr(device, "type", None) == "cuda":
        from simulate.convolve import convolve_clips

        yield from convolve_clips(dry_clips, rirs, device=device)
        return
    for dry, rir in zip(dry_clips, rirs, strict=True):
        yield fftconvolve(dry[None, :].astype(np.float64), rir, axes=1)


@dataclass
class Block:
    """The spatialised clips of one block, in order, and the clips skipped as bad input.

    ``audio`` is ``(mics, sum of lengths)``; ``columns`` maps each per-clip field to a list of values.
    """

    audio: np.ndarray
    columns: dict[str, list] = field(default_factory=dict)
    skipped_ids: list[str] = field(default_factory=list)
    skipped_reasons: list[str] = field(default_factory=list)


def spatialize_block(refs: list[ClipRef], *, config: SimulateConfig, source: SourceSet, backend: RIRBackend,
                     offsets: np.ndarray) -> Block:
    """Spatialise ``refs`` (consecutive clips of one split).

    Args:
        refs: the clips.
        config: the build config (sample rate, room ranges, output level, dtype).
        source: loads the dry clips.
        backend: computes the RIRs.
        offsets: mic offsets from the array centre ``(mics, 3)``.

    Raises:
        SourceError: a clip cannot be used and ``config.source.skip_bad_files`` is off.
    """
    fs = config.sample_rate
    dry_clips, kept = [], []
    skipped_ids, skipped_reasons = [], []
    for ref in refs:
        try:
            dry_clips.append(source.load(ref, sample_rate=fs))
        except SourceError as err:
            if not config.source.skip_bad_files:
                raise
            skipped_ids.append(ref.source_id)
            skipped_reasons.append(str(err))
            continue
        kept.append(ref)
    scenes = [sample_scene(clip_rng(seed=config.seed, split=r.split, index=r.index), config.room, offsets)
              for r in kept]
    rirs = backend.rirs(scenes)
    columns: dict[str, list] = {}
    audio_parts = []

    def add(name: str, value: object) -> None:
        columns.setdefault(name, []).append(value)

    wets = convolve_block(dry_clips, [rir for rir, _ in rirs], backend=backend)
    for ref, dry, scene, (rir, order), wet in zip(kept, dry_clips, scenes, rirs, wets, strict=True):
        if not config.output.keep_tail:
            wet = wet[:, : dry.shape[0]]
        peak = float(np.max(np.abs(wet)))
        if peak == 0.0 or not np.isfinite(peak):
            raise RuntimeError(f"{ref.source_id}: spatialised clip is silent or not finite (peak {peak})")
        gain = config.output.peak / peak
        audio_parts.append((wet * gain).astype(config.output.audio_dtype))
        azimuth, elevation, distance = direction_of(scene.source_pos, scene.array_center)
        rt60 = measure_rt60_mics(rir, sample_rate=fs)
        add("lengths", wet.shape[1])
        add("label", ref.label)
        add("azimuth_deg", azimuth)
        add("elevation_deg", elevation)
        add("distance_m", distance)
        add("room_dims", scene.room_dims)
        add("rt60_target", scene.rt60_target)
        add("rt60_sabine", scene.rt60_sabine)
        add("rt60_measured", float(np.nanmean(rt60)) if np.any(np.isfinite(rt60)) else float("nan"))
        add("absorption", scene.absorption)
        add("max_order", order)
        add("source_pos", scene.source_pos)
        add("array_center", scene.array_center)
        add("gain", gain)
        add("source_index", ref.index)
        add("source_id", ref.source_id)
    n_mics = offsets.shape[0]
    audio = (np.concatenate(audio_parts, axis=1) if audio_parts
             else np.zeros((n_mics, 0), dtype=config.output.audio_dtype))
    return Block(audio=audio, columns=columns, skipped_ids=skipped_ids, skipped_reasons=skipped_reasons)
