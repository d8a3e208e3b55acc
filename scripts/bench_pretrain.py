"""Benchmark pretraining steps: steps/s, clips/s, the share of each phase, and the projected paper-recipe time.

Usage:
    python scripts/bench_pretrain.py --config configs/pretrain/paper.yaml --device cpu --steps 3
    python scripts/bench_pretrain.py --config configs/pretrain/paper.yaml --device cuda --steps 20

A stand-in for FSDnoisy18k's noisy split (15,813 clips, FSD-like durations: log-uniform 0.3-30 s; noise audio,
which costs what real audio costs) is held on the device as in the GPU-first data path (``--clips`` makes it
smaller where memory is short: the time per step does not depend on the split size). One step is timed in
phases, each ended by a device synchronisation: data (drawing the crop pairs from the held split), features
(log-Mel + GCC-PHAT of both views), augmentation (the rest of the view pipeline), and model (encoder + head
forward, NT-Xent, backward, optimiser step), under the config's precision. The projection is
``steps_per_epoch * epochs * seconds_per_step`` with ``steps_per_epoch = 15,813 // batch_size``.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from mcsimclr.augment.simclr_views import SimCLRViews
from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.config import load_config
from mcsimclr.data.crops import draw_starts, gather_crops
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.losses.ntxent import NTXentLoss
from mcsimclr.models.crnn import CRNNEncoder
from mcsimclr.models.projection_head import ProjectionHead
from mcsimclr.pretrain.callbacks import seconds_to_samples
from mcsimclr.pretrain.config import PretrainConfig

NOISY_TRAIN_CLIPS = 15_813


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/pretrain/paper.yaml")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=5, help="timed steps (after one warm-up step)")
    p.add_argument("--clips", type=int, default=None, help="clips in the held stand-in split (default: all 15,813 "
                   "on CUDA, 1,000 on CPU)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(PretrainConfig, args.config, args.overrides)
    device = torch.device(args.device)
    fs, batch = cfg.features.sample_rate, cfg.optim.batch_size
    crop = seconds_to_samples(cfg.data.crop_seconds, fs)
    n_clips = args.clips or (NOISY_TRAIN_CLIPS if device.type == "cuda" else 1000)

    rng = np.random.default_rng(0)
    lengths = np.round(np.exp(rng.uniform(np.log(0.3), np.log(30.0), n_clips)) * fs).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    dtype = getattr(torch, cfg.data.store_dtype)
    audio = torch.empty((4, int(lengths.sum())), dtype=dtype, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    for start in range(0, audio.shape[1], 1 << 24):
        n = min(1 << 24, audio.shape[1] - start)
        audio[:, start : start + n] = (0.1 * torch.randn((4, n), generator=g, device=device)).to(dtype)
    lengths_t, offsets_t = torch.from_numpy(lengths).to(device), torch.from_numpy(offsets).to(device)

    features = SpatialFeatures.from_config(cfg.features, n_mics=4).to(device)
    views = SimCLRViews.from_config(cfg.augment, features, mic_positions=ARRAY_PRESETS["circular4"]).to(device)
    encoder = CRNNEncoder(in_channels=features.out_channels, n_bins=features.n_mels,
                          **cfg.model.encoder.kwargs()).to(device)
    head = ProjectionHead(in_dim=encoder.embed_dim, hidden_dim=cfg.model.head.hidden_dim,
                          out_dim=cfg.model.head.out_dim).to(device)
    loss_fn = NTXentLoss(temperature=cfg.optim.temperature)
    opt = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=cfg.optim.lr)
    amp = device.type == "cuda" and cfg.trainer.precision != "32"
    amp_dtype = torch.bfloat16 if cfg.trainer.precision == "bf16-mixed" else torch.float16

    def step() -> dict[str, float]:
        times = {}
        t0 = time.perf_counter()
        idx = torch.randint(0, n_clips, (batch,), generator=g, device=device)
        pair = []
        for _ in range(2):
            starts = draw_starts(lengths_t[idx], crop, generator=g)
            pair.append(gather_crops(audio, offsets_t[idx], lengths_t[idx], starts, crop).float())
        wave = torch.stack(pair, dim=1)
        sync(device)
        times["data"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with torch.no_grad():
            features(wave.flatten(0, 1))
        sync(device)
        times["features"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with torch.no_grad():
            v1, v2 = views(wave, generator=g)
        sync(device)
        times["augmentation"] = max(time.perf_counter() - t0 - times["features"], 0.0)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
            z1, z2 = head(encoder(torch.cat([v1, v2]))).chunk(2)
            loss = loss_fn(z1, z2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        times["model"] = time.perf_counter() - t0
        return times

    step()  # warm-up: kernels, allocator, autotuning
    runs = [step() for _ in range(args.steps)]
    mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    total = sum(mean.values())
    steps_per_epoch = NOISY_TRAIN_CLIPS // batch
    projected_h = steps_per_epoch * cfg.optim.epochs * total / 3600
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU, " \
        f"{torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; config {args.config}; batch {batch}; "
          f"precision {cfg.trainer.precision if amp else '32'}; held clips {n_clips}; {args.steps} timed steps\n")
    print("| phase | s/step | share |\n|---|---|---|")
    for k, v in mean.items():
        print(f"| {k} | {v:.4f} | {100 * v / total:.1f} % |")
    print(f"| **step** | **{total:.4f}** | 100 % |\n")
    print(f"steps/s {1 / total:.3f}; clips/s {batch / total:.1f} (pairs); projected {cfg.optim.epochs} epochs x "
          f"{steps_per_epoch} steps: {projected_h:.2f} h ({projected_h / 24:.1f} days)")


if __name__ == "__main__":
    main()
