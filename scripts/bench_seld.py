"""Benchmark the pieces of `mcsimclr seld` on this machine: training steps, frozen frame features, ADPIT, decoding.

Usage:
    python scripts/bench_seld.py --encoder tiny --batch 8 --window 2 --threads 1
    python scripts/bench_seld.py --encoder demo --batch 32 --window 2 --device cuda

A random encoder of the architecture of ``configs/pretrain/{tiny,demo}.yaml`` on the circular4 array at 16 kHz, white
noise as audio and random ADPIT targets for 12 classes with distance (timings do not depend on the values). Prints
per line: the fine-tuning step (forward, ADPIT loss, backward, Adam step) in ms and windows/s; the frozen encoder's
frame features of the linear modes (eval, no grad) in windows/s; the ADPIT loss alone (forward + backward) in ms;
decoding plus DCASE 2024 and 2023 metrics per minute of scene in ms. Each timed part runs ``--repeats`` times after
one warm-up.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.config import load_config
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.pretrain.config import PretrainConfig
from mcsimclr.probe.encoders import random_encoder
from mcsimclr.seld.accdoa import decode
from mcsimclr.seld.adpit import adpit_loss
from mcsimclr.seld.metrics import seld_metrics_2023, seld_metrics_2024
from mcsimclr.seld.model import SeldModel

N_CLASSES = 12


def _timed(fn, repeats: int, device: torch.device) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", choices=("tiny", "demo"), default="tiny")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--window", type=float, default=2.0, help="window seconds (a multiple of 0.1)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config(PretrainConfig, f"configs/pretrain/{args.encoder}.yaml")
    offsets = np.asarray(ARRAY_PRESETS["circular4"])
    features = SpatialFeatures.from_config(cfg.features, n_mics=4)
    kwargs = {"in_channels": features.out_channels, "n_bins": features.n_mels, "n_mel_channels": 4,
              **cfg.model.encoder.kwargs()}
    encoder = random_encoder(features=features.get_config(), encoder=kwargs, mic_offsets=offsets, seed=0)
    model = SeldModel(encoder, n_classes=N_CLASSES, with_distance=True, encoder_grad_scale=0.1).to(device)
    frames = round(args.window / 0.1)
    gen = torch.Generator().manual_seed(0)
    audio = (0.1 * torch.randn(args.batch, 4, round(args.window * features.sample_rate), generator=gen)).to(device)
    events = torch.randn(args.batch, frames, N_CLASSES, 3, 4, generator=gen).to(device)
    count = torch.randint(0, 3, (args.batch, frames, N_CLASSES), generator=gen).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        model.train()
        loss = adpit_loss(model(audio, frames), events, count)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def frozen() -> None:
        model.eval()
        with torch.no_grad():
            model.label_frame_features(audio, frames)

    out = torch.randn(args.batch, frames, 3, 4, N_CLASSES, device=device, requires_grad=True)

    def adpit() -> None:
        adpit_loss(out, events, count).backward()

    scene = 0.4 * torch.randn(600, 3 * 4 * N_CLASSES, generator=gen)  # one minute of 100 ms frames

    def scoring() -> None:
        pred = decode(scene, n_classes=N_CLASSES, with_distance=True, hop_s=0.1)
        ref = decode(scene.roll(1, 0), n_classes=N_CLASSES, with_distance=True, hop_s=0.1)
        seld_metrics_2024([pred], [ref], n_classes=N_CLASSES, use_distance=False)
        seld_metrics_2023([pred], [ref], n_classes=N_CLASSES)

    t_step = _timed(step, args.repeats, device)
    t_frozen = _timed(frozen, args.repeats, device)
    t_adpit = _timed(adpit, args.repeats, device)
    t_score = _timed(scoring, max(1, args.repeats // 2), device)
    print(f"encoder {args.encoder}, batch {args.batch} x {args.window:g} s windows, {args.threads} thread(s), "
          f"{device}")
    print(f"fine-tuning step: {1000 * t_step:.1f} ms ({args.batch / t_step:.1f} windows/s)")
    print(f"frozen frame features: {args.batch / t_frozen:.1f} windows/s")
    print(f"ADPIT loss forward+backward: {1000 * t_adpit:.1f} ms")
    print(f"decode + DCASE 2024/2023 metrics: {1000 * t_score:.0f} ms per scene-minute (x2 decodes)")


if __name__ == "__main__":
    main()
