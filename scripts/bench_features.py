#!/usr/bin/env python
"""Throughput of the spatial features and the full pretraining augmentation, against a NumPy reference.

Times one training batch: ``--batch`` clips x 2 views x 4 mics x 1 s at 24 kHz through (a) the features only
and (b) the paper's whole pipeline (ChannelSwap -> Mixup -> log-Mel + GCC-PHAT -> RandomResizedCrop ->
ChannelDrop, :class:`mcsimclr.augment.SimCLRViews`). "Clips/s" counts clips of the batch, each giving two views.
The reference is the straightforward implementation (per clip, per view, per mic and per pair, in NumPy/SciPy,
the DCASE baseline's GCC-PHAT); it is slow, so it runs on ``--reference-batch`` clips and its time is scaled
per clip to the batch, as the table says. Results: docs/benchmarks.md.

    python scripts/bench_features.py --batch 512 --device cpu --repeats 5

On glibc, large CPU batches run faster and steadier with ``MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=1073741824`` in the environment: without them the allocator may return the per-block
scratch memory to the system after every block and page-fault it back in (the last column counts the faults;
docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.ndimage
import torch

from mcsimclr.augment import AugmentConfig, SimCLRViews, array_symmetries
from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.features import SpatialFeatures, mel_filterbank

SAMPLE_RATE = 24000


class NumpyReference:
    """The straightforward pipeline: one clip, one view, one mic and one pair at a time (paper defaults)."""

    def __init__(self, *, n_fft: int = 1024, win_length: int = 960, hop: int = 480, n_mels: int = 64,
                 f_min: float = 50.0, alpha: float = 0.01, p_drop: float = 0.1, seed: int = 0) -> None:
        self.n_fft, self.hop, self.n_mels, self.alpha, self.p_drop = n_fft, hop, n_mels, alpha, p_drop
        pad = (n_fft - win_length) // 2
        self.window = np.zeros(n_fft)
        self.window[pad:pad + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
        self.fb = mel_filterbank(sample_rate=SAMPLE_RATE, n_fft=n_fft, n_mels=n_mels, f_min=f_min,
                                 dtype=torch.float64).numpy()  # (freqs, n_mels)
        self.perms = [s.perm for s in array_symmetries(ARRAY_PRESETS["circular4"])]
        self.rng = np.random.default_rng(seed)

    def stft(self, x: np.ndarray) -> np.ndarray:
        """One mic ``(samples,)`` -> ``(frames, freqs)`` complex, centred frames, zero padding."""
        padded = np.pad(x, self.n_fft // 2)
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop]
        return np.fft.rfft(frames * self.window, axis=-1)

    def features(self, x: np.ndarray) -> np.ndarray:
        """``(mics, samples)`` -> ``(mics + pairs, frames, n_mels)``."""
        spec = [self.stft(ch) for ch in x]
        out = [10 * np.log10(np.maximum(np.abs(s) ** 2 @ self.fb, 1e-10)) for s in spec]
        half = self.n_mels // 2
        for m in range(len(x)):
            for n in range(m + 1, len(x)):
                cc = np.fft.irfft(np.exp(1j * np.angle(np.conj(spec[m]) * spec[n])), n=self.n_fft, axis=-1)
                out.append(np.concatenate([cc[:, -half:], cc[:, : self.n_mels - half]], axis=-1))
        return np.stack(out)

    def crop(self, feats: np.ndarray) -> np.ndarray:
        """torchvision-style RandomResizedCrop (scale [0.8, 1], ratio [0.8, 1.25]), bilinear, per channel."""
        _, frames, bins = feats.shape
        h = w = 1.0
        for _ in range(10):
            s = self.rng.uniform(0.8, 1.0)
            r = math.exp(self.rng.uniform(math.log(0.8), math.log(1.25)))
            if math.sqrt(s * r) <= 1 and math.sqrt(s / r) <= 1:
                w, h = math.sqrt(s * r), math.sqrt(s / r)
                break
        t0, f0 = self.rng.uniform(0, 1 - h), self.rng.uniform(0, 1 - w)
        tt = (t0 + h * (np.arange(frames) + 0.5) / frames) * frames - 0.5
        ff = (f0 + w * (np.arange(bins) + 0.5) / bins) * bins - 0.5
        coords = np.stack(np.meshgrid(tt, ff, indexing="ij"))
        return np.stack([scipy.ndimage.map_coordinates(c, coords, order=1, mode="nearest") for c in feats])

    def views(self, waves: np.ndarray) -> list[np.ndarray]:
        """``(clips, 2, mics, samples)`` -> per clip ``(2, channels, frames, n_mels)``."""
        out = []
        rms = lambda a: math.sqrt(float(np.mean(a ** 2)))  # noqa: E731
        for b in range(len(waves)):
            perm = list(self.perms[self.rng.integers(len(self.perms))])
            pair = []
            for v in range(2):
                x = waves[b, v][perm]
                other = int(self.rng.integers(len(waves) - 1))
                other += other >= b
                y = waves[other, v][list(self.perms[self.rng.integers(len(self.perms))])]
                lam = self.rng.uniform(0, self.alpha)
                mixed = (1 - lam) * x / rms(x) + lam * y / rms(y)
                feats = self.crop(self.features(mixed / rms(mixed) * rms(x)))
                for c in range(len(feats)):
                    if self.rng.random() < self.p_drop:
                        feats[c] = 0.0
                pair.append(feats)
            out.append(np.stack(pair))
        return out

    def features_only(self, waves: np.ndarray) -> list[np.ndarray]:
        return [self.features(waves[b, v]) for b in range(len(waves)) for v in range(2)]


def timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> tuple[list[float], int]:
    """Wall times of ``repeats`` calls after one warm-up call, and the minor page faults of the median call."""
    fn()
    sync()
    times, faults = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return times, sorted(faults)[len(faults) // 2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=512, help="clips per batch (each gives 2 views)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=5, help="timed batches after one warm-up")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (default: all)")
    parser.add_argument("--reference-batch", type=int, default=8, help="clips timed for the NumPy reference")
    parser.add_argument("--seconds", type=float, default=1.0, help="clip length")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is available on this machine")
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    samples = int(args.seconds * SAMPLE_RATE)
    mics = ARRAY_PRESETS["circular4"]

    waves = 0.1 * torch.randn(args.batch, 2, len(mics), samples, generator=torch.Generator().manual_seed(0))
    waves = waves.to(device)
    features = SpatialFeatures(n_mics=len(mics), sample_rate=SAMPLE_RATE).to(device)
    pipeline = SimCLRViews.from_config(AugmentConfig(), features, mics).to(device).train()
    generator = torch.Generator(device=device).manual_seed(0)

    load_before = os.getloadavg()[0]
    rows = []
    with torch.inference_mode():
        flat = waves.reshape(-1, len(mics), samples)
        rows.append(("ours: features only", *timed(lambda: features(flat), args.repeats, sync), args.batch))
        rows.append(("ours: features + augmentation",
                     *timed(lambda: pipeline(waves, generator=generator), args.repeats, sync), args.batch))
    ref = NumpyReference()
    ref_waves = waves[: args.reference_batch].cpu().double().numpy()
    n_ref = len(ref_waves)
    rows.append(("reference: features only", *timed(lambda: ref.features_only(ref_waves), 1, sync), n_ref))
    rows.append(("reference: features + augmentation", *timed(lambda: ref.views(ref_waves), 1, sync), n_ref))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    print(f"torch {torch.__version__}, device {device} ({name}), {torch.get_num_threads()} CPU threads, "
          f"{os.cpu_count()} CPUs, load average before the run {load_before:.2f}, "
          f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}, "
          f"MALLOC_TRIM_THRESHOLD_={os.environ.get('MALLOC_TRIM_THRESHOLD_', 'unset')}")
    print(f"batch {args.batch} clips x 2 views x {len(mics)} mics x {args.seconds:g} s at {SAMPLE_RATE} Hz; ours: "
          f"median of {args.repeats} batches after a warm-up; reference: {n_ref} clips timed once, scaled per "
          f"clip to the batch")
    seconds = {label: statistics.median(times) * args.batch / clips for label, times, _, clips in rows}
    header = (f"| {'implementation':36s} | {'s / batch':>9s} | {'clips/s':>8s} | {'views/s':>8s} | {'speed-up':>8s} "
              f"| {'page faults':>11s} |")
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:-1]) + "|")
    for label, _, faults, _ in rows:
        kind = label.split(": ")[1]
        speedup = seconds[f"reference: {kind}"] / seconds[label]
        print(f"| {label:36s} | {seconds[label]:9.3f} | {args.batch / seconds[label]:8.0f} | "
              f"{2 * args.batch / seconds[label]:8.0f} | {speedup:7.0f}x | {faults:11d} |")

if __name__ == "__main__":
    main()
