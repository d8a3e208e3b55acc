"""Benchmark the encoder's forward + backward on CPU with the convolutions' input as it comes vs channels-last.

Usage:
    python scripts/bench_encoder.py --config configs/pretrain/demo.yaml --repeats 5

One training step's encoder work for a batch of the config (``2 * batch_size`` views of 1 s features, random
values: the time does not depend on them): forward, a scalar loss, backward. The two layouts alternate within
one run (``mcsimclr.models.crnn.CPU_CHANNELS_LAST`` off / on, same weights, same input), so that load on the
machine hits both alike; the table gives the median seconds per step of each and their ratio.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from mcsimclr.core.config import load_config
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models import crnn
from mcsimclr.pretrain.callbacks import seconds_to_samples
from mcsimclr.pretrain.config import PretrainConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/pretrain/demo.yaml", help="pretraining config (YAML)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per layout (after one warm-up each)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = load_config(PretrainConfig, args.config)
    features = SpatialFeatures.from_config(cfg.features, n_mics=4)
    frames = features.n_frames(seconds_to_samples(cfg.data.crop_seconds, features.sample_rate))
    torch.manual_seed(0)
    encoder = crnn.CRNNEncoder(in_channels=features.out_channels, n_bins=features.n_mels,
                               **cfg.model.encoder.kwargs()).train()
    x = torch.randn(2 * cfg.optim.batch_size, features.out_channels, frames, features.n_mels)

    def step() -> float:
        encoder.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        encoder(x).square().mean().backward()
        return time.perf_counter() - t0

    times: dict[bool, list[float]] = {False: [], True: []}
    for layout in (False, True):  # warm-up
        crnn.CPU_CHANNELS_LAST = layout
        step()
    for _ in range(args.repeats):
        for layout in (False, True):
            crnn.CPU_CHANNELS_LAST = layout
            times[layout].append(step())
    crnn.CPU_CHANNELS_LAST = True
    plain, fast = statistics.median(times[False]), statistics.median(times[True])
    print(f"device: {platform.machine()} CPU, {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"config {args.config}; {x.shape[0]} views of {tuple(x.shape[1:])}; median of {args.repeats} steps")
    print()
    print("| input layout | s/step (forward + backward) |")
    print("|---|---|")
    print(f"| as it comes (contiguous) | {plain:.3f} |")
    print(f"| channels-last (default on CPU) | {fast:.3f} |")
    print()
    print(f"speed-up {plain / fast:.2f}x")


if __name__ == "__main__":
    main()
