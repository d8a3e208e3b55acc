"""``simulate build``: spatialise every clip of every split into one HDF5 file per split, resumably.

Work is cut into blocks of ``output.chunk_clips`` consecutive clips. Each block is simulated by a worker
and saved atomically (write to a temporary name, then rename) into ``<out>/<split>.h5.work/``. When every
block of a split exists, they are joined into ``<split>.h5.partial``, which is renamed to ``<split>.h5``
only once complete. So an interrupted build (Ctrl-C or kill -9) never leaves a file named ``*.h5``, and
running the same command again redoes only the missing blocks. Every clip's room is drawn from its own
seed (build seed, split, index), so the output is bit-identical whatever the number of workers and
however often the build was interrupted. The block machinery (work directories, workers, shards, resume) is
``simulate.blocks``, shared with ``simulate scenes``; this module says what a clip block holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mcsimclr.core.array import mic_offsets
from mcsimclr.core.config import dump_yaml
from mcsimclr.core.h5schema import (
    AZIMUTH_CONVENTION,
    FORMAT_NAME,
    PER_CLIP_FIELDS,
    SCHEMA_VERSION,
    publish,
    string_array,
    write_split_file,
)
from simulate import SIMULATOR_VERSION
from simulate.backends import backend_class, make_backend
from simulate.blocks import BlockRenderer, BuildError, WorkerPool, backend_gpus, build_split_file, check_shard
from simulate.config import SimulateConfig
from simulate.geometry import check_feasible
from simulate.sources import ClipRef, SourceSet, make_source
from simulate.spatialize import spatialize_block


def config_digest(config: SimulateConfig) -> tuple[str, str]:
    """The resolved config as YAML, and a digest of it with the simulator's own version and the schema version.

    The ML package's version (``mcsimclr.__version__``) is not part of it: releasing a new model or probe does not
    make an unfinished build stale. (The key keeps its ``package=`` label so that digests, and the files that store
    them, stay what they were when the label held the package's version, also ``0.1.0``.)
    """
    text = dump_yaml(config)
    key = f"{text}\npackage={SIMULATOR_VERSION}\nschema={SCHEMA_VERSION}\n"
    return text, hashlib.sha256(key.encode()).hexdigest()


def listing_digest(refs: list[ClipRef]) -> str:
    h = hashlib.sha256()
    for r in refs:
        h.update(f"{r.index}\t{r.label}\t{r.source_id}\n".encode())
    return h.hexdigest()


class ClipRenderer(BlockRenderer):
    """Spatialises blocks of clips (``spatialize_block``) into the arrays of a block file."""

    unit = "clip"

    def __init__(self, config: SimulateConfig, source: SourceSet, *, gpus: Sequence[str] = ()) -> None:
        self.config, self.source, self.gpus = config, source, list(gpus)

    def __getstate__(self) -> dict:
        return {"config": self.config, "source": self.source}

    def setup(self) -> None:
        c, b = self.config, self.config.backend
        self.offsets = mic_offsets(c.array)
        self.backend = make_backend(b.name, sample_rate=c.sample_rate, max_order=b.max_order,
                                    speed_of_sound=c.room.speed_of_sound, air_absorption=b.air_absorption,
                                    **b.options())

    def render(self, refs: Sequence[ClipRef]) -> dict[str, np.ndarray]:
        block = spatialize_block(list(refs), config=self.config, source=self.source, backend=self.backend,
                                 offsets=self.offsets)
        arrays: dict[str, np.ndarray] = {"audio": block.audio}
        for f in PER_CLIP_FIELDS:
            if f.name == "offsets":
                continue
            values = block.columns.get(f.name, [])
            if f.dtype == "str":
                arrays[f.name] = np.array([str(v) for v in values], dtype=str)
            else:
                trailing = tuple(s for s in f.shape if isinstance(s, int))
                arrays[f.name] = np.asarray(values, dtype=f.dtype).reshape((len(values), *trailing))
        arrays["skipped_ids"] = np.array(block.skipped_ids, dtype=str)
        arrays["skipped_reasons"] = np.array(block.skipped_reasons, dtype=str)
        return arrays


def _empty_block(n_mics: int) -> dict[str, np.ndarray]:
    """The arrays of a block of no clips (an empty shard)."""
    arrays = {f.name: np.zeros((0, *(s for s in f.shape if isinstance(s, int))), dtype=str if f.dtype == "str"
                               else f.dtype) for f in PER_CLIP_FIELDS if f.name != "offsets"}
    return {**arrays, "audio": np.zeros((n_mics, 0), dtype=np.float32), "skipped_ids": np.zeros(0, dtype=str),
            "skipped_reasons": np.zeros(0, dtype=str)}


def _assemble(final: Path, block_paths: list[Path], attrs: dict) -> None:
    blocks = [np.load(p, allow_pickle=False) for p in block_paths] or [_empty_block(int(attrs["n_mics"]))]
    try:
        columns = {f.name: np.concatenate([b[f.name] for b in blocks]) for f in PER_CLIP_FIELDS if f.name != "offsets"}
        skipped = ([str(s) for b in blocks for s in b["skipped_ids"]],
                   [str(s) for b in blocks for s in b["skipped_reasons"]])
        partial = final.with_name(final.name + ".partial")
        parts: list[Callable[[], np.ndarray]] = [lambda b=b: b["audio"] for b in blocks]
        write_split_file(partial, attrs=attrs, columns=columns, audio_parts=parts, n_mics=int(attrs["n_mics"]),
                         audio_dtype=str(attrs["audio_dtype"]), skipped=skipped)
        publish(partial, final)
    finally:
        for b in blocks:
            if hasattr(b, "close"):
                b.close()


def build(config: SimulateConfig, *, out_dir: str | Path, workers: int = 1, splits: list[str] | None = None,
          overwrite: bool = False, progress: bool = True, shard: tuple[int, int] | None = None,
          log: Callable[[str], None] = print) -> list[Path]:
    """Build (or resume) one HDF5 file per split in ``out_dir``; returns their paths.

    Args:
        config: the resolved build config.
        out_dir: output directory (created).
        workers: worker processes (each single-threaded); 1 runs in this process.
        splits: build only these splits (default: all that the source defines).
        overwrite: replace outputs and unfinished work made from a different config.
        progress: show a progress bar (clips/s and ETA) per split.
        shard: ``(i, n)`` builds only the i-th of n contiguous slices of every split's blocks, into
            ``<split>.shard-<i>-of-<n>.h5`` (for job arrays); ``simulate merge`` joins the n shards into a file
            bit-identical to an unsharded build.
        log: where status lines go.

    Raises:
        GeometryError, SourceError, BackendUnavailable, BuildError: with the offending value or file named.
    """
    check_shard(shard, workers)
    offsets = mic_offsets(config.array)
    check_feasible(config.room, offsets)
    b = config.backend
    probe = make_backend(b.name, sample_rate=config.sample_rate, max_order=b.max_order,
                         speed_of_sound=config.room.speed_of_sound, air_absorption=b.air_absorption, **b.options())
    source = make_source(config.source)
    listing = source.splits()
    if splits is not None:
        unknown = [s for s in splits if s not in listing]
        if unknown:
            raise BuildError(f"unknown split {unknown[0]!r}; this source has: {', '.join(listing)}")
        listing = {s: listing[s] for s in splits}
    config_yaml, digest = config_digest(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    b = config.backend
    base = {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "sample_rate": config.sample_rate,
        "n_mics": offsets.shape[0],
        "mic_offsets": offsets,
        "array_geometry": config.array.geometry,
        "class_names": string_array(list(source.class_names)),
        "source_kind": config.source.kind,
        "backend": b.name,
        "backend_version": backend_class(b.name).version(),
        "azimuth_convention": AZIMUTH_CONVENTION,
        "config_yaml": config_yaml,
        "config_sha256": digest,
        "package_version": SIMULATOR_VERSION,
        "audio_dtype": config.output.audio_dtype,
        "keep_tail": config.output.keep_tail,
        "peak": config.output.peak,
    }
    outputs = []
    with WorkerPool(ClipRenderer(config, source, gpus=backend_gpus(probe)), workers) as pool:
        for split, refs in listing.items():
            name = split if shard is None else f"{split}.shard-{shard[0]}-of-{shard[1]}"
            outputs.append(build_split_file(
                name=name, split=split, items=refs, out_dir=out_dir, chunk=config.output.chunk_clips,
                digest=digest, listing_sha256=listing_digest(refs), pool=pool, overwrite=overwrite,
                progress=progress, shard=shard, attrs={**base, "split": split}, assemble=_assemble, log=log))
    return outputs
