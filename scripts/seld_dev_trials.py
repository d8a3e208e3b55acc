"""SELD recipe trials on a dev split of a data set of their own: pretraining variants x SELD modes, dev scores only.

The data set is the SELD demo's (``configs/simulate/scenes-demo.yaml`` at ``SeldDemoPlan.full()``'s sizes) with
its own seed (default 7: the seed the demo's recipe was chosen on; the demo reports seeds 103-105, earlier 100-102).
Each pretraining variant is ``configs/pretrain/demo.yaml`` on the train scenes at the scene schedule
(``SeldDemoPlan.full(pretrain_on="scenes")``) plus the variant's overrides (``data.train=CLIPS.h5`` and the clip
schedule for a pretraining on clips, as trial t13); each
SELD run is ``configs/seld/demo.yaml`` at the demo's epochs plus the run's overrides, selects its epoch on dev and
is "scored" on dev again (the dev file is passed as ``data.test``): no test split is read by anything here.
Resumable: a finished pretraining (``done.json``) or SELD run (``metrics.json``) is kept.

usage:
  python scripts/seld_dev_trials.py --out runs/seld-trials --pretrain indep: near0.1:data.pair_max_shift_seconds=0.1 \\
      --modes scratch linear finetune
  python scripts/seld_dev_trials.py --out runs/seld-trials --table

A variant is ``NAME:override,override`` (``NAME:`` for the demo's pretraining unchanged); ``--seld-extra`` adds
overrides to every SELD run (``--tag`` names that set of runs); ``--simulate-extra`` changes the scenes (an easier
data set, e.g. ``scene.max_polyphony=1 "scene.trajectories={static: 1.0}"``; give it its own ``--out``).
``--checkpoint NAME=PATH`` runs the modes on a checkpoint made elsewhere (e.g. one pretrained on clips) instead of
pretraining; ``--train-seed`` varies the SELD training alone (same data); ``--score-on train`` selects and scores
on the training scenes (how well they are fitted; runs named ``-ontrain``). The table adds two location-agnostic
frame diagnostics of the scored split (:func:`sed_f1`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _data(out: Path, seed: int, extra: list[str]) -> Path:
    from mcsimclr.core.config import load_config
    from mcsimclr.demo.seld_plan import SeldDemoPlan
    from simulate.scenes.build import build_scenes
    from simulate.scenes.config import ScenesConfig

    data = out / f"data-s{seed}"
    if not (data / "test.h5").exists():
        plan = SeldDemoPlan.full()
        sim = load_config(ScenesConfig, REPO / plan.simulate_config, [*plan.simulate_overrides(seed), *extra])
        build_scenes(sim, out_dir=data, workers=2, progress=False, log=lambda _: None)
    return data


def _pretrain(out: Path, data: Path, seed: int, name: str, overrides: list[str]) -> Path:
    from mcsimclr.core.config import load_config
    from mcsimclr.demo.seld_plan import SeldDemoPlan
    from mcsimclr.pretrain.config import PretrainConfig
    from mcsimclr.pretrain.run import pretrain

    run = out / "pretrain" / f"{name}-s{seed}"
    if (run / "done.json").exists():
        return run / "checkpoints" / "last.ckpt"
    if run.exists():
        shutil.rmtree(run)
    plan = SeldDemoPlan.full(pretrain_on="scenes")  # its schedule; a variant may give data.train and epochs
    cfg = load_config(PretrainConfig, REPO / plan.pretrain_config, [
        f"out_dir={run}", f"seed={seed}", f"data.train={data / 'train.h5'}", *plan.pretrain_schedule_overrides(),
        "trainer.accelerator=cpu", "trainer.progress_bar=false", "log.wandb=false", *overrides])
    started = time.perf_counter()
    pretrain(cfg)
    (run / "done.json").write_text(json.dumps({"name": name, "seed": seed, "overrides": overrides,
                                               "wall_s": round(time.perf_counter() - started, 1)}) + "\n")
    return run / "checkpoints" / "last.ckpt"


def _seld(out: Path, data: Path, seed: int, name: str, mode: str, checkpoint: Path, tag: str,
          extra: list[str], scored: str = "dev") -> None:
    """One SELD run, ``seed`` its training seed (the run name's ``-s<seed>``); ``scored``: the split that selects
    the epoch and is scored (``dev``; ``train`` measures how well the training scenes are fitted)."""
    from mcsimclr.core.config import load_config
    from mcsimclr.demo.seld_plan import SeldDemoPlan
    from mcsimclr.seld.config import SeldConfig
    from mcsimclr.seld.run import run_seld

    target = out / "seld" / f"{name}-{mode}{tag}-s{seed}"
    if (target / "metrics.json").exists():
        return
    plan = SeldDemoPlan.full()
    cfg = load_config(SeldConfig, REPO / plan.seld_config, [
        f"mode={mode}", f"checkpoint={checkpoint}", f"seed={seed}", f"out_dir={target}",
        f"data.train={data / 'train.h5'}", f"data.dev={data / f'{scored}.h5'}", f"data.test={data / f'{scored}.h5'}",
        *plan.seld_overrides(), "trainer.accelerator=cpu", *extra])
    run_seld(cfg, allow_cpu=True)


def sed_f1(predictions: Path, dev: Path, n_classes: int) -> tuple[float, float]:
    """Location-agnostic frame scores of a run's ``predictions.npz`` against the dev file's labels: ``(SED F1,
    activity F1)``, micro over (frame, class) and over frames (is anything active). A diagnostic of where F20 is
    lost, not a DCASE metric."""
    import numpy as np

    from mcsimclr.core.scene_schema import open_scene_file

    z = np.load(predictions)
    counts = np.zeros((2, 3))  # (class-frames, frames) x (tp, fp, fn)
    with open_scene_file(dev) as scenes:
        for i in range(len(scenes)):
            ref = scenes.labels(i)
            grids = []
            for active, cls in ((z[f"scene{i}_active"], z[f"scene{i}_class_index"]), (ref.active, ref.class_index)):
                grid = np.zeros((active.shape[0], n_classes), bool)
                rows, tracks = np.nonzero(active)
                grid[rows, cls[rows, tracks]] = True
                grids.append(grid)
            for k, (p, r) in enumerate([grids, [g.any(1) for g in grids]]):
                counts[k] += [(p & r).sum(), (p & ~r).sum(), (~p & r).sum()]
    tp, fp, fn = counts.T
    return tuple(float(x) for x in 2 * tp / np.maximum(2 * tp + fp + fn, 1))


def table(out: Path) -> str:
    """Markdown: per run, the pretraining's last loss, the selected epoch's scores on the split it was scored on
    (dev, or train for ``-ontrain`` runs) and two frame-level diagnostics (:func:`sed_f1`)."""
    lines = ["| run | pretrain loss (last epoch) | F20 | DOAE_CD | ER20 | LR_CD | SED F1 | activity F1 | epoch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for path in sorted((out / "seld").glob("*/metrics.json")):
        m = json.loads(path.read_text())
        dev, run = m["dev"], m["run"]
        name, seed = path.parent.name.rsplit("-s", 1)
        loss = "-"
        ckpt_run = Path(run.get("checkpoint", "")).parent.parent
        metrics_csv = ckpt_run / "metrics.csv"
        if metrics_csv.exists() and "scratch" not in name and "random" not in name:
            rows = [r.split(",") for r in metrics_csv.read_text().splitlines()]
            col = rows[0].index("train/loss_epoch")
            vals = [r[col] for r in rows[1:] if len(r) > col and r[col]]
            loss = f"{float(vals[-1]):.2f}" if vals else "-"
        d24, d23 = dev["dcase2024"], dev["dcase2023"]
        scored = Path(yaml.safe_load((path.parent / "config.yaml").read_text())["data"]["test"])
        sed = " | ".join(f"{v:.3f}" for v in sed_f1(path.parent / "predictions.npz", scored,
                                                      len(d24["per_class"]["F20"])))
        lines.append(f"| {name} s{seed} | {loss} | {d24['F20']:.3f} | {d24['DOAE_CD']:.1f} | {d24['ER20']:.3f} | "
                     f"{d23['LR_CD']:.3f} | {sed} | {run['selected_epoch']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pretrain", nargs="+", default=["indep:"], help="NAME:override,override ...")
    parser.add_argument("--checkpoint", nargs="*", default=[], metavar="NAME=PATH",
                        help="an existing checkpoint to run the SELD modes on instead of pretraining one here "
                             "(e.g. one pretrained on clips)")
    parser.add_argument("--modes", nargs="+", default=["linear", "finetune"],
                        choices=["linear", "finetune", "scratch", "random-linear"])
    parser.add_argument("--simulate-extra", nargs="*", default=[],
                        help="overrides of the scene data set (once per --out: the data is built once)")
    parser.add_argument("--seld-extra", nargs="*", default=[], help="overrides for every SELD run")
    parser.add_argument("--tag", default="", help="suffix of the SELD run names (for --seld-extra variants)")
    parser.add_argument("--train-seed", type=int, default=None,
                        help="seed of the SELD training (default --seed; the data stay those of --seed)")
    parser.add_argument("--score-on", choices=["dev", "train"], default="dev",
                        help="train: select and score on the training scenes themselves (how well they are fitted; "
                             "the run names get -ontrain)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.out), end="")
        return 0
    import torch

    torch.set_num_threads(args.threads)
    data = _data(args.out, args.seed, args.simulate_extra)
    runs: list[tuple[str, Path]] = []
    for spec in args.checkpoint:
        name, _, path = spec.partition("=")
        if not Path(path).is_file():
            parser.error(f"--checkpoint {spec}: no file {path}")
        runs.append((name, Path(path)))
    for spec in args.pretrain if not args.checkpoint else []:
        name, _, rest = spec.partition(":")
        overrides = [o for o in rest.split(",") if o]
        started = time.perf_counter()
        runs.append((name, _pretrain(args.out, data, args.seed, name, overrides)))
        print(f"pretrained {name} ({time.perf_counter() - started:.0f} s)", flush=True)
    train_seed = args.seed if args.train_seed is None else args.train_seed
    tag = args.tag + ("-ontrain" if args.score_on == "train" else "")
    for name, ckpt in runs:
        for mode in args.modes:
            run_name = "none" if mode == "scratch" else name  # scratch does not depend on the pretraining
            started = time.perf_counter()
            _seld(args.out, data, train_seed, run_name, mode, ckpt, tag, args.seld_extra, args.score_on)
            print(f"seld {run_name} {mode}{tag} ({time.perf_counter() - started:.0f} s)", flush=True)
    print(table(args.out), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
