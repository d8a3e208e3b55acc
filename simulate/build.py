"""``simulate build``: spatialise every clip of every split into one HDF5 file per split, resumably.

Work is cut into blocks of ``output.chunk_clips`` consecutive clips. Each block is simulated by a worker
and saved atomically (write to a temporary name, then rename) into ``<out>/<split>.h5.work/``. When every
block of a split exists, they are joined into ``<split>.h5.partial``, which is renamed to ``<split>.h5``
only once complete. So an interrupted build (Ctrl-C or kill -9) never leaves a file named ``*.h5``, and
running the same command again redoes only the missing blocks. Every clip's room is drawn from its own
seed (build seed, split, index), so the output is bit-identical whatever the number of workers and
however often the build was interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import mcsimclr
from mcsimclr.config import dump_yaml
from simulate.backends import backend_class, make_backend
from simulate.config import SimulateConfig
from simulate.geometry import check_feasible, mic_offsets
from simulate.h5schema import (
    AZIMUTH_CONVENTION,
    FORMAT_NAME,
    PER_CLIP_FIELDS,
    SCHEMA_VERSION,
    publish,
    string_array,
    write_split_file,
)
from simulate.sources import ClipRef, SourceSet, make_source
from simulate.spatialize import spatialize_block

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class BuildError(RuntimeError):
    """A build that cannot go on: an output from another config, a work directory that does not match."""


def config_digest(config: SimulateConfig) -> tuple[str, str]:
    """The resolved config as YAML, and a digest of it with the package and schema versions."""
    text = dump_yaml(config)
    key = f"{text}\npackage={mcsimclr.__version__}\nschema={SCHEMA_VERSION}\n"
    return text, hashlib.sha256(key.encode()).hexdigest()


def listing_digest(refs: list[ClipRef]) -> str:
    h = hashlib.sha256()
    for r in refs:
        h.update(f"{r.index}\t{r.label}\t{r.source_id}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class _Task:
    """One block of consecutive clips and the file its result goes to."""

    refs: list[ClipRef]
    path: Path


_WORKER: dict = {}


def worker_gpu(index: int, gpus: list[str]) -> str | None:
    """The GPU of worker ``index`` (0, 1, ...): round-robin over ``gpus`` (CUDA device ids), ``None`` if empty."""
    return gpus[index % len(gpus)] if gpus else None


def backend_gpus(backend: object) -> list[str]:
    """The CUDA devices a backend's workers share out: the visible ones if the backend runs on CUDA, else none."""
    device = getattr(backend, "device", None)
    if device is None or not str(device).startswith("cuda"):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _init_worker(config: SimulateConfig, source: SourceSet, gpus: list[str], counter) -> None:
    """Start of a worker process: one thread, its GPU (CUDA backends: worker i gets ``gpus[i % len(gpus)]``,
    set before anything in the process starts CUDA), and the state every block needs."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    gpu = worker_gpu(index, gpus)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    if "torch" in sys.modules:  # never import it here: it costs seconds per worker and simulate needs none
        sys.modules["torch"].set_num_threads(1)
    _set_state(config, source)


def _set_state(config: SimulateConfig, source: SourceSet) -> None:
    """Per-process state: the backend is built once per process, not once per block."""
    _WORKER["config"] = config
    _WORKER["source"] = source
    _WORKER["offsets"] = mic_offsets(config.array)
    b = config.backend
    _WORKER["backend"] = make_backend(b.name, sample_rate=config.sample_rate, max_order=b.max_order,
                                      speed_of_sound=config.room.speed_of_sound, air_absorption=b.air_absorption,
                                      **b.options())


def _run_task(task: _Task) -> int:
    """Simulate one block and save it atomically; returns the number of clips it covered."""
    block = spatialize_block(task.refs, config=_WORKER["config"], source=_WORKER["source"],
                             backend=_WORKER["backend"], offsets=_WORKER["offsets"])
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
    tmp = task.path.with_name(f"{task.path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, task.path)
    return len(task.refs)


@contextlib.contextmanager
def _single_threaded_env() -> Iterator[None]:
    """Worker processes inherit these at start, before numpy loads: one BLAS/OpenMP thread each."""
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update({k: "1" for k in THREAD_ENV})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _prepare_work_dir(work: Path, plan: dict, overwrite: bool) -> None:
    plan_path = work / "plan.json"
    if work.exists() and plan_path.exists():
        old = json.loads(plan_path.read_text())
        if old != plan:
            if not overwrite:
                raise BuildError(
                    f"{work} holds an unfinished build from a different config or source listing; "
                    "delete it, or pass --overwrite to start this split again"
                )
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("*.tmp*"):
        stale.unlink()
    if not plan_path.exists():
        _atomic_write_text(plan_path, json.dumps(plan, indent=1, sort_keys=True))


def _assemble(final: Path, block_paths: list[Path], *, attrs: dict, n_mics: int, audio_dtype: str) -> None:
    blocks = [np.load(p, allow_pickle=False) for p in block_paths]
    try:
        columns = {f.name: np.concatenate([b[f.name] for b in blocks]) for f in PER_CLIP_FIELDS if f.name != "offsets"}
        skipped = ([str(s) for b in blocks for s in b["skipped_ids"]],
                   [str(s) for b in blocks for s in b["skipped_reasons"]])
        partial = final.with_name(final.name + ".partial")
        parts: list[Callable[[], np.ndarray]] = [lambda b=b: b["audio"] for b in blocks]
        write_split_file(partial, attrs=attrs, columns=columns, audio_parts=parts, n_mics=n_mics,
                         audio_dtype=audio_dtype, skipped=skipped)
        publish(partial, final)
    finally:
        for b in blocks:
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
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {shard[0]}/{shard[1]}")
    offsets = mic_offsets(config.array)
    check_feasible(config.room, offsets)
    b = config.backend
    probe = make_backend(b.name, sample_rate=config.sample_rate, max_order=b.max_order,
                         speed_of_sound=config.room.speed_of_sound, air_absorption=b.air_absorption, **b.options())
    gpus = backend_gpus(probe)
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
    outputs = []
    with contextlib.ExitStack() as stack:
        pools: list[mp.pool.Pool] = []

        def get_pool() -> mp.pool.Pool:
            """One pool of spawned workers for all splits, started only if some work needs it."""
            if not pools:
                stack.enter_context(_single_threaded_env())
                ctx = mp.get_context("spawn")
                pools.append(stack.enter_context(ctx.Pool(
                    workers, initializer=_init_worker, initargs=(config, source, gpus, ctx.Value("i", 0)))))
            return pools[0]

        for split, refs in listing.items():
            outputs.append(_build_split(
                split, refs, config=config, source=source, out_dir=out_dir, workers=workers, get_pool=get_pool,
                digest=digest, config_yaml=config_yaml, overwrite=overwrite, progress=progress, shard=shard, log=log))
    return outputs


def _build_split(split: str, refs: list[ClipRef], *, config: SimulateConfig, source: SourceSet, out_dir: Path,
                 workers: int, get_pool: Callable[[], mp.pool.Pool], digest: str, config_yaml: str,
                 overwrite: bool, progress: bool, shard: tuple[int, int] | None,
                 log: Callable[[str], None]) -> Path:
    """Build (or resume, or skip if up to date) one split's file (or one shard of it); returns its path."""
    chunk = config.output.chunk_clips
    offsets = mic_offsets(config.array)
    b = config.backend
    name = split if shard is None else f"{split}.shard-{shard[0]}-of-{shard[1]}"
    final = out_dir / f"{name}.h5"
    if final.exists():
        import h5py

        with h5py.File(final, "r") as f:
            same = f.attrs.get("config_sha256") == digest
        if same:
            log(f"{final}: already built from this config, skipping")
            return final
        if not overwrite:
            raise BuildError(f"{final} exists and was built from a different config; "
                             "pass --overwrite to replace it, or choose another --out")
        final.unlink()
    if not refs:
        raise BuildError(f"split {split!r} has no clips")
    work = out_dir / f"{name}.h5.work"
    plan = {"config_sha256": digest, "split": split, "n_clips": len(refs), "chunk_clips": chunk,
            "listing_sha256": listing_digest(refs), "shard": list(shard) if shard else None}
    _prepare_work_dir(work, plan, overwrite)
    n_blocks = (len(refs) + chunk - 1) // chunk
    first, stop = (0, n_blocks) if shard is None else (shard[0] * n_blocks // shard[1],
                                                       (shard[0] + 1) * n_blocks // shard[1])
    paths = [work / f"block_{k:06d}.npz" for k in range(first, stop)]
    blocks = zip(range(first, stop), paths, strict=True)
    todo = [_Task(refs[k * chunk : (k + 1) * chunk], path) for k, path in blocks if not path.exists()]
    clip_start, clip_stop = min(first * chunk, len(refs)), min(stop * chunk, len(refs))
    total = clip_stop - clip_start
    done = total - sum(len(t.refs) for t in todo)
    if done:
        log(f"{name}: resuming, {done} of {total} clips already simulated")
    with tqdm(total=total, initial=done, unit="clip", desc=name, disable=not progress,
              dynamic_ncols=True, smoothing=0.1) as bar:
        if workers == 1 or len(todo) <= 1:
            _set_state(config, source)
            for task in todo:
                bar.update(_run_task(task))
        else:
            for n in get_pool().imap_unordered(_run_task, todo):
                bar.update(n)
    attrs = {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "split": split,
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
        "package_version": mcsimclr.__version__,
        "audio_dtype": config.output.audio_dtype,
        "keep_tail": config.output.keep_tail,
        "peak": config.output.peak,
    }
    if shard is not None:
        attrs.update(shard_index=shard[0], shard_count=shard[1], clip_start=clip_start, clip_stop=clip_stop,
                     listing_clips=len(refs))
    _assemble(final, paths, attrs=attrs, n_mics=offsets.shape[0], audio_dtype=config.output.audio_dtype)
    shutil.rmtree(work)
    log(f"{final}: {total} clips written")
    return final

