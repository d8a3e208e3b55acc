"""The demo-scale ablation on the dev split: pretraining settings x seeds, each scored by a linear probe on dev.

For every seed: the demo's data set (``configs/simulate/demo.yaml`` at the demo's sizes, plus a ``dev`` split),
then one pretraining run per setting (``configs/pretrain/demo.yaml`` at the demo's schedule, the kNN monitor off),
then a linear probe of each run's ``last.ckpt`` (``linear.solver=cv`` on all of ``clean_train``, scored on ``dev``).
The test split is built (the data set is the demo's) but read by nothing here: every recipe choice is made from
this script's table. Resumable: a finished pretraining (``done.json``) or probe (``metrics.json``) is kept; an
unfinished pretraining starts again.

Settings (``--settings``; default all of them, in this order):
  recipe          the demo recipe: the paper's four augmentations + our measures (modality drop, Mel gain, Mel warp,
                  branch losses)
  paper4          the paper's four only (our measures off)
  gcc-centred     recipe + ``augment.crop.gcc_lag=centred`` (the RRC box centred on lag 0)
  mel-floor       recipe + ``augment.channel_drop.mel_fill=floor`` (a dropped Mel channel becomes silence)
  none            no augmentation at all (the branch losses as in the recipe)
  no-channelswap, no-mixup, no-rrc, no-channeldrop   the recipe with one of the paper's four left out

usage:
  python scripts/ablation_dev.py --out runs/ablation --seeds 0 1 2 [--settings recipe paper4 ...] [--stage all]
  python scripts/ablation_dev.py --out runs/ablation --table     # the table of what has finished (markdown)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OURS_OFF = ["augment.modality_drop.enabled=false", "augment.mel_gain.enabled=false",
            "augment.mel_warp.enabled=false", "optim.branch_loss_weight=0.0"]
PAPER4 = ("channel_swap", "mixup", "crop", "channel_drop")
SETTINGS: dict[str, list[str]] = {
    "recipe": [],
    "paper4": OURS_OFF,
    "gcc-centred": ["augment.crop.gcc_lag=centred"],
    "mel-floor": ["augment.channel_drop.mel_fill=floor"],
    "none": [f"augment.{a}.enabled=false" for a in PAPER4] + OURS_OFF[:3],
    "no-channelswap": ["augment.channel_swap.enabled=false"],
    "no-mixup": ["augment.mixup.enabled=false"],
    "no-rrc": ["augment.crop.enabled=false"],
    "no-channeldrop": ["augment.channel_drop.enabled=false"],
}
DEV_CLIPS = 400


def _data(out: Path, seed: int) -> Path:
    from mcsimclr.core.config import load_config
    from mcsimclr.demo.plan import DemoPlan
    from simulate.build import build
    from simulate.config import SimulateConfig

    data = out / f"data-s{seed}"
    plan = dataclasses.replace(DemoPlan.full(), dev=DEV_CLIPS)
    sim = load_config(SimulateConfig, REPO / plan.simulate_config, plan.simulate_overrides(seed))
    build(sim, out_dir=data, workers=2, progress=False, log=lambda _: None)
    return data


def _pretrain(out: Path, data: Path, seed: int, setting: str) -> Path:
    from mcsimclr.core.config import load_config
    from mcsimclr.demo.plan import DemoPlan
    from mcsimclr.pretrain.config import PretrainConfig
    from mcsimclr.pretrain.run import pretrain

    run = out / "pretrain" / f"{setting}-s{seed}"
    done = run / "done.json"
    if done.exists():
        return run / "checkpoints" / "last.ckpt"
    if run.exists():
        shutil.rmtree(run)
    plan = DemoPlan.full()
    schedule = [o for o in plan.pretrain_schedule_overrides() if not o.startswith("monitor.")]
    cfg = load_config(PretrainConfig, REPO / plan.pretrain_config, [
        f"out_dir={run}", f"seed={seed}", f"data.train={data / 'noisy_train.h5'}", "monitor.train=''",
        "monitor.dev=''", "trainer.progress_bar=false", *schedule, *SETTINGS[setting]])
    started = time.perf_counter()
    run_dir = pretrain(cfg)
    done.write_text(json.dumps({"setting": setting, "seed": seed, "overrides": SETTINGS[setting],
                                "wall_s": round(time.perf_counter() - started, 1)}) + "\n")
    return run_dir / "checkpoints" / "last.ckpt"


def _probe(out: Path, data: Path, seed: int, setting: str, checkpoint: Path) -> None:
    from mcsimclr.core.config import load_config
    from mcsimclr.demo.plan import DemoPlan
    from mcsimclr.probe.config import ProbeConfig
    from mcsimclr.probe.run import run_probe

    target = out / "probe" / f"{setting}-s{seed}"
    if (target / "metrics.json").exists():
        return
    plan = DemoPlan.full()
    cfg = load_config(ProbeConfig, REPO / plan.probe_config, [
        "mode=linear", f"checkpoint={checkpoint}", f"seed={seed}", f"out_dir={target}", f"label={setting}",
        f"data.train={data / 'clean_train.h5'}", f"data.dev={data / 'dev.h5'}", f"data.test={data / 'dev.h5'}",
        "linear.solver=cv",  # L2 by folds of clean_train: dev is scored here, so it must not also select
        f"data.eval_hop_seconds={plan.eval_hop_seconds}", "trainer.accelerator=cpu"])
    run_probe(cfg, overwrite=True)


def table(out: Path) -> str:
    """Markdown: per setting, dev accuracy and azimuth error per seed, their mean and the range over seeds."""
    rows: dict[str, dict[int, tuple[float, float]]] = {}
    for path in sorted((out / "probe").glob("*/metrics.json")):
        setting, seed = path.parent.name.rsplit("-s", 1)
        m = json.loads(path.read_text())
        rows.setdefault(setting, {})[int(seed)] = (m["accuracy"], m["azimuth_error_mean"])
    lines = ["| setting | seeds | dev accuracy (%) per seed | mean | dev azimuth error (deg) per seed | mean |",
             "|---|---|---|---|---|---|"]
    for setting in [s for s in SETTINGS if s in rows]:
        seeds = sorted(rows[setting])
        acc = [rows[setting][s][0] for s in seeds]
        az = [rows[setting][s][1] for s in seeds]
        lines.append(f"| {setting} | {' '.join(map(str, seeds))} | {' / '.join(f'{a:.1f}' for a in acc)} | "
                     f"{sum(acc) / len(acc):.1f} | {' / '.join(f'{a:.1f}' for a in az)} | {sum(az) / len(az):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--stage", choices=["all", "pretrain", "probe"], default="all",
                        help="pretrain: data + pretraining only; probe: probes of finished pretrainings only")
    parser.add_argument("--table", action="store_true", help="print the table of finished probes and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.out), end="")
        return 0
    import torch

    torch.set_num_threads(1)  # 1 thread per process: two 2-thread processes on 2 cores ran 3x slower
    for setting in args.settings:  # setting-major: every finished setting has all its seeds first
        for seed in args.seeds:
            data = args.out / f"data-s{seed}"
            if args.stage != "probe" and not (data / "test.h5").exists():
                data = _data(args.out, seed)
            ckpt = args.out / "pretrain" / f"{setting}-s{seed}" / "checkpoints" / "last.ckpt"
            if args.stage != "probe":
                started = time.perf_counter()
                ckpt = _pretrain(args.out, data, seed, setting)
                print(f"pretrained {setting} seed {seed} ({time.perf_counter() - started:.0f} s)", flush=True)
            if args.stage != "pretrain" and (ckpt.parent.parent / "done.json").exists():
                _probe(args.out, data, seed, setting, ckpt)
                print(f"probed {setting} seed {seed}", flush=True)
    print(table(args.out), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
