"""Resumable, sharded, parallel block builds: the machinery that ``simulate build`` and ``simulate scenes`` share.

A split's items (clips or scenes) are cut into blocks of consecutive items. Each block is rendered by a worker
and saved atomically (write to a temporary name, then rename) into ``<out>/<name>.h5.work/block_*.npz``. When every
block exists they are assembled into ``<name>.h5.partial``, renamed to ``<name>.h5`` only once complete. So an
interrupted build never leaves a file named ``*.h5``, and the same command again redoes only the missing blocks.
Items draw their randomness from their own seed, so the output is bit-identical for any number of workers, after
any number of interruptions, and (with ``simulate merge``) for any sharding.
"""

from __future__ import annotations

import abc
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
SHARD_ATTRS = ("shard_index", "shard_count", "clip_start", "clip_stop", "listing_clips")


class BuildError(RuntimeError):
    """A build that cannot go on: an output from another config, a work directory that does not match."""


class BlockRenderer(abc.ABC):
    """Renders blocks of items into arrays; sent to each worker process (so it must pickle) and set up there."""

    unit: str = "item"
    gpus: Sequence[str] = ()  # CUDA device ids its workers take in turn (``backend_gpus``); none on the CPU

    @abc.abstractmethod
    def setup(self) -> None:
        """Per-process state (a backend, say), built once per process rather than once per block."""

    @abc.abstractmethod
    def render(self, items: Sequence[Any]) -> dict[str, np.ndarray]:
        """The arrays of one block of consecutive items (saved as one ``.npz``)."""


@dataclass(frozen=True)
class _Task:
    """One block of consecutive items and the file its result goes to."""

    items: list
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


def start_worker(gpus: list[str], counter: Any) -> None:
    """What every worker process does first: take the next index from the shared ``counter`` (a
    ``multiprocessing.Value``), see only its GPU (CUDA backends: worker i gets ``gpus[i % len(gpus)]``, set before
    anything in the process starts CUDA), and run torch, if loaded, on one thread."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    gpu = worker_gpu(index, gpus)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    if "torch" in sys.modules:  # never import it here: it costs seconds per worker and simulate needs none
        sys.modules["torch"].set_num_threads(1)


def _init_worker(renderer: BlockRenderer, gpus: list[str], counter: Any) -> None:
    """Start of a worker process (``start_worker``), then the state every block needs."""
    start_worker(gpus, counter)
    _set_state(renderer)


def _set_state(renderer: BlockRenderer) -> None:
    renderer.setup()
    _WORKER["renderer"] = renderer


def _run_task(task: _Task) -> int:
    """Render one block and save it atomically; returns the number of items it covered."""
    arrays = _WORKER["renderer"].render(task.items)
    tmp = task.path.with_name(f"{task.path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, task.path)
    return len(task.items)


@contextlib.contextmanager
def single_threaded_env() -> Iterator[None]:
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


class WorkerPool:
    """One pool of spawned single-threaded workers for all splits of a build, started only if some work needs
    it; a context manager that ends the pool (and restores the environment) on exit. With the renderer's ``gpus``
    (CUDA device ids, see ``backend_gpus``) worker i works on ``gpus[i % len(gpus)]``."""

    def __init__(self, renderer: BlockRenderer, workers: int) -> None:
        self.renderer, self.workers, self.gpus = renderer, workers, list(renderer.gpus)
        self._stack = contextlib.ExitStack()
        self._pool: mp.pool.Pool | None = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def get(self) -> mp.pool.Pool:
        if self._pool is None:
            self._stack.enter_context(single_threaded_env())
            ctx = mp.get_context("spawn")
            self._pool = self._stack.enter_context(ctx.Pool(
                self.workers, initializer=_init_worker, initargs=(self.renderer, self.gpus, ctx.Value("i", 0))))
        return self._pool


def build_split_file(*, name: str, split: str, items: list, out_dir: Path, chunk: int, digest: str,
                     listing_sha256: str, pool: WorkerPool, overwrite: bool, progress: bool,
                     shard: tuple[int, int] | None, attrs: dict,
                     assemble: Callable[[Path, list[Path], dict], None], log: Callable[[str], None]) -> Path:
    """Build (or resume, or skip if up to date) ``out_dir/<name>.h5`` from the blocks of ``items``.

    Args:
        name: the file's stem (``split`` or ``<split>.shard-I-of-N``).
        chunk: items per block.
        digest: the config digest stored as ``config_sha256``; a finished file with another is not overwritten
            without ``overwrite``, unfinished work with another is never mixed in.
        listing_sha256: digest of the items themselves (the source listing), part of the work plan.
        attrs: the file's attributes; the shard attributes (``SHARD_ATTRS``) are added here for a shard.
        assemble: ``(final path, block files in order, attrs)`` writes and publishes the file. A shard of a split
            with fewer blocks than shards may get none: it is then a valid file of 0 items (merge skips nothing).
    """
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
    if not items:
        raise BuildError(f"split {split!r} has no {pool.renderer.unit}s")
    n_blocks = (len(items) + chunk - 1) // chunk
    first, stop = (0, n_blocks) if shard is None else (shard[0] * n_blocks // shard[1],
                                                       (shard[0] + 1) * n_blocks // shard[1])
    work = out_dir / f"{name}.h5.work"
    plan = {"config_sha256": digest, "split": split, f"n_{pool.renderer.unit}s": len(items),
            f"chunk_{pool.renderer.unit}s": chunk, "listing_sha256": listing_sha256,
            "shard": list(shard) if shard else None}
    _prepare_work_dir(work, plan, overwrite)
    paths = [work / f"block_{k:06d}.npz" for k in range(first, stop)]
    blocks = zip(range(first, stop), paths, strict=True)
    todo = [_Task(items[k * chunk : (k + 1) * chunk], path) for k, path in blocks if not path.exists()]
    item_start, item_stop = min(first * chunk, len(items)), min(stop * chunk, len(items))
    total = item_stop - item_start
    done = total - sum(len(t.items) for t in todo)
    unit = pool.renderer.unit
    if done:
        log(f"{name}: resuming, {done} of {total} {unit}s already simulated")
    with tqdm(total=total, initial=done, unit=unit, desc=name, disable=not progress,
              dynamic_ncols=True, smoothing=0.1) as bar:
        if pool.workers == 1 or len(todo) <= 1:
            _set_state(pool.renderer)
            for task in todo:
                bar.update(_run_task(task))
        else:
            for n in pool.get().imap_unordered(_run_task, todo):
                bar.update(n)
    if shard is not None:
        attrs = {**attrs, "shard_index": shard[0], "shard_count": shard[1], "clip_start": item_start,
                 "clip_stop": item_stop, "listing_clips": len(items)}
    assemble(final, paths, attrs)
    shutil.rmtree(work)
    log(f"{final}: {total} {unit}s written")
    return final


def check_shard(shard: tuple[int, int] | None, workers: int) -> None:
    """Raise ``ValueError`` for a bad worker count or shard ``(i, n)``."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {shard[0]}/{shard[1]}")
