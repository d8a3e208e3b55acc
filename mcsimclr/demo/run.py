"""``mcsimclr demo``: simulate a synthetic data set, pretrain, evaluate four ways, print the paper-style table.

Stages (each reuses the project's own commands as functions, with the configs in ``configs/*/demo.yaml``):
1. ``simulate build``: unlabelled ``noisy_train``, labelled ``clean_train``, ``dev`` and ``test`` splits.
2. ``mcsimclr pretrain`` on ``noisy_train`` (no labels; the test split is never seen).
3. ``mcsimclr probe``: (a) linear probe of the pretrained encoder, (b) linear probe of a random encoder of the
   same architecture, (c) supervised training from scratch, (d) fine-tuning the pretrained encoder; and the
   classical direction baselines SRP-PHAT and MUSIC (no learning) on the same test clips.
4. ``mcsimclr report``: the table.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from mcsimclr.core.config import load_config
from mcsimclr.core.device import resolve_device
from mcsimclr.demo.plan import CLASSICAL_MODES, MODES, DemoPlan
from mcsimclr.demo.stages import Stages


class DemoError(ValueError):
    """A demo that cannot start as asked (e.g. an output directory holding another run)."""


#: The source checkout this package was imported from (holds ``configs/``).
CHECKOUT = Path(__file__).resolve().parents[2]


def config_file(path: str) -> Path:
    """A demo config file: ``path`` as given (relative to the working directory) if it exists, else the same path
    in the source checkout, so ``mcsimclr demo`` runs from any directory.

    Raises:
        DemoError: neither exists.
    """
    given = Path(path)
    if given.is_file():
        return given
    if not given.is_absolute() and (CHECKOUT / given).is_file():
        return CHECKOUT / given
    raise DemoError(f"config file {path} not found in the working directory nor in {CHECKOUT}; the demo reads its "
                    "configs from a source checkout of mcsimclr (pip install -e .)")


def simulation_workers() -> int:
    """Simulation processes of a demo: one per CPU core this process may use, 2 to 16 (the files do not depend on
    the count: tested in tests/test_build.py and tests/test_scenes_build.py)."""
    return max(2, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2, 16))


def run_demo(*, out: str | Path, plan: DemoPlan, seed: int = 0, device: str = "auto", overwrite: bool = False,
             log: Callable[[str], None] = print) -> Path:
    """Run the demo into ``out``; returns the path of the table (markdown; a CSV lies beside it).

    Args:
        out: output directory: ``data/``, ``pretrain/``, ``probe/<mode>/``, ``table.md``, ``table.csv``,
            ``margin.json`` (the pretrained linear probe minus the random encoder's, with a bootstrap interval over the
            test clips: ``mcsimclr.probe.bootstrap``).
        plan: stage sizes (``DemoPlan.full(scale)`` or ``DemoPlan.quick()``).
        seed: seeds the data, the pretraining and the probes.
        device: ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda`` (an error without CUDA): the device
            policy of mcsimclr.core.device, in bf16 on a GPU and float32 on the CPU.
        overwrite: delete ``out`` first if it holds an earlier run.
    """
    from mcsimclr.pretrain.config import PretrainConfig
    from mcsimclr.pretrain.run import pretrain
    from mcsimclr.probe.bootstrap import bootstrap_margin, write_margin_json
    from mcsimclr.probe.config import ProbeConfig
    from mcsimclr.probe.report import build_table, collect, write_report
    from mcsimclr.probe.run import run_probe
    from simulate.build import build
    from simulate.config import SimulateConfig

    if device not in ("auto", "cpu", "cuda"):
        raise DemoError(f"device must be auto, cpu or cuda, got {device!r}")
    placement = resolve_device(accelerator="gpu" if device == "cuda" else device,
                               precision="bf16-mixed", setting="--device cuda")
    accelerator, precision = placement.accelerator, placement.precision
    configs = {name: config_file(getattr(plan, f"{name}_config")) for name in ("simulate", "pretrain", "probe")}
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DemoError(f"{out} is not empty; pass --overwrite to replace it, or choose another --out")
        shutil.rmtree(out)
    data = out / "data"
    stages = Stages(["simulate the synthetic data set", "pretrain the encoder (contrastive, no labels)",
                     "evaluate: linear probe, random-encoder probe, supervised from scratch, fine-tune, "
                     "SRP-PHAT and MUSIC (no learning)",
                     "the table"], plan.expected_seconds, log=log)

    stages.begin(0)
    sim = load_config(SimulateConfig, configs["simulate"], plan.simulate_overrides(seed))
    build(sim, out_dir=data, workers=simulation_workers(), progress=True, log=lambda _: None)
    stages.end(0)

    stages.begin(1)
    pre = load_config(PretrainConfig, configs["pretrain"], [
        f"out_dir={out / 'pretrain'}", f"seed={seed}", f"data.train={data / 'noisy_train.h5'}",
        f"monitor.train={data / 'clean_train.h5'}", f"monitor.dev={data / 'dev.h5'}",
        *plan.pretrain_schedule_overrides(), f"trainer.accelerator={accelerator}",
        f"trainer.precision='{precision}'"])
    run_dir = pretrain(pre)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    stages.end(1)

    stages.begin(2)
    logging.getLogger("mcsimclr.probe").setLevel(logging.WARNING)
    for mode in MODES:
        cfg = load_config(ProbeConfig, configs["probe"], [
            f"mode={mode}", f"checkpoint={checkpoint}", f"seed={seed}", f"out_dir={out / 'probe' / mode}",
            f"data.train={data / 'clean_train.h5'}", f"data.dev={data / 'dev.h5'}", f"data.test={data / 'test.h5'}",
            f"optim.batch_size={plan.probe_batch}",
            f"finetune.lr_grid=[{', '.join(map(str, plan.lr_grid)) if mode == 'scratch' else ''}]",
            f"linear.random_draws={plan.random_draws}",
            f"linear.solver={plan.linear_solver}", f"linear.epochs={plan.linear_epochs}",
            f"finetune.epochs={plan.finetune_epochs}", f"trainer.accelerator={accelerator}",
            f"trainer.precision='{precision}'",
            *([f"data.eval_hop_seconds={plan.eval_hop_seconds}"] if plan.eval_hop_seconds is not None else [])])
        m = run_probe(cfg).metrics
        log(f"    {mode:14s} accuracy {m['accuracy']:5.1f} %   azimuth error {m['azimuth_error_mean']:5.1f} deg")
    for mode in CLASSICAL_MODES:  # no learning: pyroomacoustics.doa on the same test clips, for the direction rows
        cfg = load_config(ProbeConfig, configs["probe"], [
            f"mode={mode}", f"seed={seed}", f"out_dir={out / 'probe' / mode}", f"data.test={data / 'test.h5'}"])
        m = run_probe(cfg).metrics
        log(f"    {mode:14s} no class          azimuth error {m['azimuth_error_mean']:5.1f} deg (no learning)")
    stages.end(2)

    stages.begin(3)
    table = build_table(collect([out / "probe"]))
    md, csv_path = write_report(table, out / "table.md")
    margin = bootstrap_margin([(out / "probe" / "linear", out / "probe" / "random-linear")], seed=seed)
    write_margin_json(margin, out / "margin.json")
    log("")
    log(table.to_markdown().rstrip())
    log("")
    log(f"pretrained vs random encoder ({plan.random_draws} draws), linear probe (paired over the test clips, "
        f"bootstrap over them; seeds: `mcsimclr margin`): {margin.text()}")
    log(f"table: {md} (and {csv_path}); checkpoints: {run_dir / 'checkpoints'}; probe results and plots: "
        f"{out / 'probe'}/<mode>/; data: {data}")
    stages.end(3)
    return md
