#!/usr/bin/env python
"""Benchmark pretraining through the real Lightning run: steps/s, the data share of a step, peak memory, MFU.

Usage:
    python scripts/bench_pretrain.py --config configs/pretrain/paper.yaml --device cuda --steps 30 \
        --variants eager compile
    python scripts/bench_pretrain.py --config configs/pretrain/tiny.yaml --device cpu --steps 2 --clips 48

What runs is what ``mcsimclr pretrain`` runs (``mcsimclr.pretrain.run.prepare_run``): the LightningModule, the data
module (the split held on the device when it fits, as ``data.mode=auto`` chooses) and the run's callbacks, under
the config's precision, with the kNN monitor and wandb off and ``max_steps`` ending the fit. The split is a
stand-in written as a ``simulate build`` file: ``--clips`` clips of noise with log-uniform durations in
``--seconds`` (the time of a step does not depend on the split's size or content; the clips only need to be
enough for ``--warmup + --steps`` steps in one epoch, so no epoch end falls inside the timed steps).

A callback times each step: the **data** part runs from the end of one step to the start of the next (fetching
the batch, moving it to the device and, in device mode, cutting the crop pairs there), the **compute** part from
there to the end of the step (features, augmentations, forward, loss, backward, optimiser). On CUDA the device is
synchronised at both points, so each part counts the device's work (these syncs are the benchmark's; a training
run has none per step). The first ``--warmup`` steps (kernels, autotuning, compilation) are not timed.

FLOPs: counted once, on the warm-up step after the first, by ``torch.utils.flop_counter.FlopCounterMode`` over the
whole training step (forward and backward of everything the step runs), in the eager variant, with cuDNN off for
that one step so that the GRU runs as matrix products the counter sees (cuDNN's fused RNN kernel is invisible to
it). MFU = FLOPs per step x steps/s / the device's peak: for H100 and H200 989.4 TFLOP/s (dense bf16, NVIDIA's
datasheet; bf16-mixed runs), otherwise not given. The projection is the paper's 500 epochs x 15,813 // batch
steps at the measured rate (the steps only: epoch-end work, the kNN monitor and checkpoints, comes on top).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import mcsimclr
from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.config import load_config
from mcsimclr.core.h5schema import (
    AZIMUTH_CONVENTION,
    FORMAT_NAME,
    PER_CLIP_FIELDS,
    SCHEMA_VERSION,
    string_array,
    write_split_file,
)
from mcsimclr.pretrain.config import PretrainConfig
from mcsimclr.pretrain.run import prepare_run

NOISY_TRAIN_CLIPS = 15_813
PAPER_EPOCHS = 500
#: Dense bf16 peak (NVIDIA datasheets, SXM parts), FLOP/s, by a substring of ``torch.cuda.get_device_name``.
PEAK_BF16_FLOPS = {"H100": 989.4e12, "H200": 989.4e12}


def write_standin_split(path: Path, *, n_clips: int, sample_rate: int, seconds: tuple[float, float],
                        seed: int = 0) -> Path:
    """A ``simulate build``-format split of ``n_clips`` 4-mic noise clips (float16, log-uniform durations)."""
    rng = np.random.default_rng(seed)
    lengths = np.round(np.exp(rng.uniform(np.log(seconds[0]), np.log(seconds[1]), n_clips)) * sample_rate)
    lengths = lengths.astype(np.int64)
    offsets = ARRAY_PRESETS["circular4"]
    columns: dict[str, np.ndarray] = {"lengths": lengths, "label": np.full(n_clips, -1, dtype=np.int32),
                                      "source_id": np.array([f"noise_{i}" for i in range(n_clips)]),
                                      "source_index": np.arange(n_clips)}
    for f in PER_CLIP_FIELDS:
        if f.name not in columns and f.name != "offsets":
            trailing = tuple(s for s in f.shape if isinstance(s, int))
            columns[f.name] = np.zeros((n_clips, *trailing), dtype=f.dtype)
    per_part = 64
    parts = [lambda a=a: (0.1 * np.random.default_rng([seed, a]).standard_normal(
        (4, int(lengths[a : a + per_part].sum())), dtype=np.float32)) for a in range(0, n_clips, per_part)]
    attrs = {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "split": "noisy_train",
             "sample_rate": sample_rate, "n_mics": 4, "mic_offsets": offsets, "array_geometry": "circular4",
             "class_names": string_array(["noise"]), "source_kind": "benchmark-noise", "backend": "none",
             "backend_version": "none", "azimuth_convention": AZIMUTH_CONVENTION, "config_yaml": "",
             "config_sha256": "", "package_version": mcsimclr.__version__, "audio_dtype": "float16",
             "keep_tail": False, "peak": 0.0}
    write_split_file(path, attrs=attrs, columns=columns, audio_parts=parts, n_mics=4, audio_dtype="float16",
                     skipped=([], []))
    return path


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer(L.Callback):
    """Per step after ``warmup`` steps: data seconds (previous step's end -> this step's start) and compute seconds
    (start -> end), the device synchronised at both; FLOPs of step ``count_flops_at`` (``None``: not counted)."""

    def __init__(self, *, warmup: int, count_flops_at: int | None) -> None:
        self.warmup, self.count_flops_at = warmup, count_flops_at
        self.data: list[float] = []
        self.compute: list[float] = []
        self.flops: int | None = None
        self._last_end: float | None = None
        self._start = 0.0
        self._counting: contextlib.ExitStack | None = None
        self._counter: FlopCounterMode | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        synchronize(pl_module.device)
        self._start = time.perf_counter()
        if batch_idx >= self.warmup and self._last_end is not None:
            self.data.append(self._start - self._last_end)
        if batch_idx == self.count_flops_at:
            self._counting = contextlib.ExitStack()
            self._counting.enter_context(torch.backends.cudnn.flags(enabled=False))
            self._counter = self._counting.enter_context(FlopCounterMode(display=False))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._counting is not None:
            self._counting.close()
            self.flops, self._counting = self._counter.get_total_flops(), None
        synchronize(pl_module.device)
        end = time.perf_counter()
        if batch_idx >= self.warmup:
            self.compute.append(end - self._start)
        if batch_idx == self.warmup - 1 and pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)
        self._last_end = time.perf_counter()


@dataclasses.dataclass
class Result:
    variant: str
    steps: int
    data_s: float
    compute_s: float
    peak_gib: float | None
    flops: int | None

    @property
    def step_s(self) -> float:
        return self.data_s + self.compute_s


def run_variant(cfg: PretrainConfig, *, compile_: bool, warmup: int, steps: int, count_flops: bool) -> Result:
    """One fit of ``warmup + steps`` steps; medians of the timed steps."""
    cfg = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, compile=compile_))
    timer = StepTimer(warmup=warmup, count_flops_at=1 if count_flops and warmup >= 2 else None)
    run = prepare_run(cfg, allow_cpu=True, extra_callbacks=[timer], max_steps=warmup + steps)
    run.trainer.fit(run.module, datamodule=run.data)
    if len(timer.compute) < steps:
        raise RuntimeError(f"only {len(timer.compute)} of {steps} steps were timed: give more --clips for "
                           f"{warmup + steps} steps of batch {cfg.optim.batch_size} in one epoch")
    device = run.module.device
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return Result(variant="torch.compile" if compile_ else "eager", steps=len(timer.compute),
                  data_s=statistics.median(timer.data), compute_s=statistics.median(timer.compute), peak_gib=peak,
                  flops=timer.flops)


def peak_flops(device: torch.device, precision: str) -> tuple[float | None, str]:
    """The peak the MFU is measured against, and its description."""
    if device.type != "cuda":
        return None, "no peak known for a CPU"
    name = torch.cuda.get_device_name(device)
    if precision != "bf16-mixed":
        return None, f"no peak given for precision {precision}"
    for key, value in PEAK_BF16_FLOPS.items():
        if key in name:
            return value, f"{value / 1e12:.1f} TFLOP/s dense bf16 ({key}, NVIDIA datasheet)"
    return None, f"no peak known for {name}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/pretrain/paper.yaml")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (>= 2 to count FLOPs)")
    p.add_argument("--variants", nargs="+", choices=["eager", "compile"], default=["eager"])
    p.add_argument("--clips", type=int, default=None,
                   help="clips in the stand-in split (default: enough for one epoch of warm-up + timed steps)")
    p.add_argument("--seconds", type=float, nargs=2, default=(1.0, 1.5), metavar=("MIN", "MAX"),
                   help="clip durations, log-uniform (default 1.0 1.5)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. optim.batch_size=256")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available")
    cfg = load_config(PretrainConfig, args.config, args.overrides)
    batch = cfg.optim.batch_size
    n_clips = args.clips or batch * (args.warmup + args.steps + 1)
    with tempfile.TemporaryDirectory(prefix="bench_pretrain_") as tmp:
        split = write_standin_split(Path(tmp) / "noisy_train.h5", n_clips=n_clips,
                                    sample_rate=cfg.features.sample_rate, seconds=tuple(args.seconds))
        cfg = dataclasses.replace(
            cfg, out_dir=str(Path(tmp) / "run"),
            data=dataclasses.replace(cfg.data, train=str(split), num_workers=0),
            monitor=dataclasses.replace(cfg.monitor, train="", dev=""),
            log=dataclasses.replace(cfg.log, wandb=False),
            trainer=dataclasses.replace(cfg.trainer, accelerator="gpu" if device.type == "cuda" else "cpu",
                                        devices=1, num_nodes=1, progress_bar=False, log_every_n_steps=10**6))
        precision = cfg.trainer.precision if device.type == "cuda" else "32"
        peak, peak_text = peak_flops(device, precision)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
            f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
        steps_per_epoch = NOISY_TRAIN_CLIPS // batch
        print(f"device: {name}; torch {torch.__version__}; config {args.config}; batch {batch}; precision "
              f"{precision}; stand-in split {n_clips} clips of {args.seconds[0]:g}-{args.seconds[1]:g} s; "
              f"{args.warmup} warm-up + {args.steps} timed steps per variant (medians)\n")
        print(f"peak assumed for MFU: {peak_text}\n", flush=True)
        flops = None
        for k, variant in enumerate(args.variants):  # each row as soon as it is measured
            run_cfg = dataclasses.replace(cfg, out_dir=str(Path(tmp) / f"run{k}"))
            r = run_variant(run_cfg, compile_=variant == "compile", warmup=args.warmup, steps=args.steps,
                            count_flops=variant == "eager")
            if r.flops and flops is None:
                flops = r.flops
                print(f"FLOPs per step: {flops / 1e9:.3f} GFLOP (FlopCounterMode, one eager step, cuDNN off for "
                      "it)\n")
            if k == 0:
                print("| variant | steps/s | clips/s | data s/step | compute s/step | data share | peak memory (GiB) | "
                      f"MFU | projected {PAPER_EPOCHS} epochs x {steps_per_epoch} steps |")
                print("|---|---|---|---|---|---|---|---|---|")
            rate = 1.0 / r.step_s
            mfu = f"{100 * flops * rate / peak:.1f} %" if (flops and peak) else "n/a"
            mem = f"{r.peak_gib:.2f}" if r.peak_gib is not None else "n/a"
            minutes = PAPER_EPOCHS * steps_per_epoch * r.step_s / 60
            print(f"| {r.variant} | {rate:.3f} | {batch * rate:.1f} | {r.data_s:.4f} | {r.compute_s:.4f} | "
                  f"{100 * r.data_s / r.step_s:.1f} % | {mem} | {mfu} | {minutes:.1f} min |", flush=True)
        if flops is None:
            print("\nFLOPs per step: not counted (no eager variant, or --warmup < 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
