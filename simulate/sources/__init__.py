"""Source sets: where the mono clips come from (``synthetic``, ``fsdnoisy18k``, ``folder``)."""

from __future__ import annotations

from simulate.config import SourceConfig
from simulate.sources.base import ClipRef, SourceError, SourceSet

__all__ = ["ClipRef", "SourceError", "SourceSet", "make_source"]


def make_source(config: SourceConfig) -> SourceSet:
    """The source set that ``config.kind`` names, built from its config section."""
    if config.kind == "synthetic":
        from simulate.sources.synthetic import SyntheticSource

        c = config.synthetic
        return SyntheticSource(seed=c.seed, splits=dict(c.splits), min_duration=c.min_duration,
                               max_duration=c.max_duration, silence_peak=config.silence_peak)
    if config.kind == "fsdnoisy18k":
        from simulate.sources.fsdnoisy18k import FSDnoisy18kSource

        f = config.fsdnoisy18k
        return FSDnoisy18kSource(root=f.root, splits=tuple(f.splits), max_clips_per_split=f.max_clips_per_split,
                                 dev_clips=f.dev_clips, dev_seed=f.dev_seed, silence_peak=config.silence_peak)
    if config.kind == "folder":
        from simulate.sources.folder import FolderSource

        d = config.folder
        return FolderSource(root=d.root or None, manifest=d.manifest, class_names=d.class_names,
                            split_fractions=dict(d.split_fractions), split_seed=d.split_seed,
                            silence_peak=config.silence_peak)
    raise ValueError(f"unknown source kind {config.kind!r}")
