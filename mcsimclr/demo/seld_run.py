"""``mcsimclr demo --task seld``: simulate scenes and unlabelled clips, pretrain, SELD four ways, SRP-PHAT and MUSIC,
the table.

Stages (each reuses the project's own commands as functions):
1. ``simulate scenes``: train, dev and test scenes of the built-in synthetic sources (polyphony up to 2, static and
   moving sources, diffuse noise; ``configs/simulate/scenes-demo.yaml``) and ``plan.pretrain_clips`` unlabelled
   single-event clips (``simulate build``, the ``noisy_train`` split only).
2. ``mcsimclr pretrain`` on those clips (or, with ``pretrain_clips`` 0, on the train scenes); no labels, dev and
   test never seen.
3. ``mcsimclr seld``: ``linear``, ``random-linear``, ``scratch``, ``finetune``; each selects its epoch on dev and
   scores test once; then each selected model's oracle-activity azimuth error on test (:mod:`mcsimclr.seld.oracle_doa`).
4. SRP-PHAT and MUSIC (no learning) on the test scenes, oracle activity (:mod:`mcsimclr.classical.scenes`).
5. The table (:mod:`mcsimclr.demo.seld_table`).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mcsimclr.core.config import load_config
from mcsimclr.core.device import resolve_device
from mcsimclr.demo.run import DemoError, config_file, simulation_workers
from mcsimclr.demo.seld_plan import SELD_CLASSICAL, SELD_MODES, SeldDemoPlan
from mcsimclr.demo.stages import Stages


def run_seld_demo(*, out: str | Path, plan: SeldDemoPlan, seed: int = 0, device: str = "auto",
                  overwrite: bool = False, threads: int = 1, log: Callable[[str], None] = print) -> Path:
    """Run the SELD demo into ``out``; returns the path of the table (markdown; a CSV lies beside it).

    Args:
        out: output directory: ``data/`` (train, dev, test scene files; ``data/clips/noisy_train.h5`` when
            pretraining on clips), ``pretrain/``, ``seld/<mode>/`` (the
            ``mcsimclr seld`` result directories, with ``oracle_doa.json``), ``classical/<method>.json``,
            ``table.md``, ``table.csv``.
        plan: stage sizes (``SeldDemoPlan.full()`` or ``SeldDemoPlan.quick()``).
        seed: seeds the scenes, the pretraining and the SELD training.
        device: ``auto``, ``cpu`` or ``cuda`` (the policy of mcsimclr.core.device; bf16 on a GPU).
        overwrite: delete ``out`` first if it holds an earlier run.
        threads: torch intra-op threads while the demo runs (restored after). 1 by default: on 2 CPU cores shared
            with other work, 2 threads made the SELD training loop more than 10x slower than 1 (docs/results.md,
            "SELD"); the simulation workers use one thread each anyway.
    """
    if threads < 1:
        raise DemoError(f"threads must be >= 1, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(out=Path(out), plan=plan, seed=seed, device=device, overwrite=overwrite, log=log)
    finally:
        torch.set_num_threads(before)


def _run(*, out: Path, plan: SeldDemoPlan, seed: int, device: str, overwrite: bool,
         log: Callable[[str], None]) -> Path:
    from mcsimclr.classical.scenes import evaluate_scenes
    from mcsimclr.demo.seld_table import classical_row, learned_row, to_markdown, write_table
    from mcsimclr.pretrain.config import PretrainConfig
    from mcsimclr.pretrain.run import pretrain
    from mcsimclr.seld.config import SeldConfig
    from mcsimclr.seld.data import load_scenes
    from mcsimclr.seld.oracle_doa import oracle_doa_errors
    from mcsimclr.seld.run import run_seld
    from simulate.build import build
    from simulate.config import SimulateConfig
    from simulate.scenes.build import build_scenes
    from simulate.scenes.config import ScenesConfig

    if device not in ("auto", "cpu", "cuda"):
        raise DemoError(f"device must be auto, cpu or cuda, got {device!r}")
    placement = resolve_device(accelerator="gpu" if device == "cuda" else device,
                               precision="bf16-mixed", setting="--device cuda")
    accelerator, precision = placement.accelerator, placement.precision
    names = ("simulate", "pretrain", "seld", *(("clip",) if plan.pretrain_clips else ()))
    configs = {name: config_file(getattr(plan, f"{name}_config")) for name in names}
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DemoError(f"{out} is not empty; pass --overwrite to replace it, or choose another --out")
        shutil.rmtree(out)
    data = out / "data"
    on = f"{plan.pretrain_clips} unlabelled clips" if plan.pretrain_clips else "the train scenes"
    labels = f"; the labels of a fraction {plan.fraction:g} of the train scenes" if plan.fraction < 1 else ""
    stages = Stages(["simulate the scenes (train, dev, test)" + (f" and {on}" if plan.pretrain_clips else ""),
                     f"pretrain the encoder on {on} (contrastive, no labels)",
                     "SELD: linear probe, random-encoder probe, from scratch, fine-tune (epoch selected on dev, test "
                     f"scored once{labels})", "SRP-PHAT and MUSIC on the test scenes (no learning, oracle activity)",
                     "the table"], plan.expected_seconds, log=log)

    stages.begin(0)
    sim = load_config(ScenesConfig, configs["simulate"], plan.simulate_overrides(seed))
    build_scenes(sim, out_dir=data, workers=simulation_workers(), progress=True, log=lambda _: None)
    pretrain_data = data / "train.h5"
    if plan.pretrain_clips:
        clips = load_config(SimulateConfig, configs["clip"], plan.clip_overrides(seed))
        build(clips, out_dir=data / "clips", workers=simulation_workers(), progress=True, log=lambda _: None)
        pretrain_data = data / "clips" / "noisy_train.h5"
    stages.end(0)

    stages.begin(1)
    pre = load_config(PretrainConfig, configs["pretrain"], [
        f"out_dir={out / 'pretrain'}", f"seed={seed}", f"data.train={pretrain_data}",
        *plan.pretrain_schedule_overrides(), f"trainer.accelerator={accelerator}", f"trainer.precision='{precision}'",
        "log.wandb=false"])
    checkpoint = pretrain(pre) / "checkpoints" / "last.ckpt"
    stages.end(1)

    stages.begin(2)
    logging.getLogger("mcsimclr.seld").setLevel(logging.WARNING)
    rows, test = [], None
    for mode in SELD_MODES:
        cfg = load_config(SeldConfig, configs["seld"], [
            f"mode={mode}", f"checkpoint={checkpoint}", f"seed={seed}", f"out_dir={out / 'seld' / mode}",
            f"data.train={data / 'train.h5'}", f"data.dev={data / 'dev.h5'}", f"data.test={data / 'test.h5'}",
            *plan.seld_overrides(), f"trainer.accelerator={accelerator}", f"trainer.precision='{precision}'"])
        outcome = run_seld(cfg, allow_cpu=True)
        if test is None:  # read only after the first mode's weights were selected and scored, as run_seld does
            test = load_scenes(data / "test.h5", n_classes=outcome.model.head.n_classes, with_distance=False,
                               distance_scale=cfg.heads.distance_scale, device=next(outcome.model.parameters()).device)
        oracle = oracle_doa_errors(_raw_outputs(outcome.model, test), test.labels)
        (outcome.out_dir / "oracle_doa.json").write_text(json.dumps(oracle, indent=1) + "\n")
        rows.append(learned_row(mode, outcome.metrics, oracle))
        v = rows[-1].values
        log(f"    {mode:14s} F20 {v['F20']:.3f}  DOAE_CD {v['DOAE_CD']:5.1f} deg  ER20 {v['ER20']:.3f}  oracle azimuth "
            f"error p1 {v['az_p1']:5.1f} / p2 {v['az_p2']:5.1f} deg (epoch {outcome.metrics['run']['selected_epoch']})")
    stages.end(2)

    stages.begin(3)
    for method in SELD_CLASSICAL:
        result = evaluate_scenes(data / "test.h5", method=method, window_frames=plan.classical_window_frames)
        (out / "classical").mkdir(parents=True, exist_ok=True)
        (out / "classical" / f"{method}.json").write_text(json.dumps(result, indent=1) + "\n")
        rows.append(classical_row(method, result))
        v = rows[-1].values
        log(f"    {method:14s} no class  oracle azimuth error p1 {v['az_p1']:5.1f} / p2 {v['az_p2']:5.1f} deg")
    stages.end(3)

    stages.begin(4)
    md, csv_path = write_table(rows, out / "table.md")
    log("")
    log(to_markdown(rows).rstrip())
    tail = md.read_text()[len(to_markdown(rows)):].strip()
    log(tail or "no learned model loses to SRP-PHAT or MUSIC on direction")
    log(f"table: {md} (and {csv_path}); SELD results: {out / 'seld'}/<mode>/; checkpoint: {checkpoint}; data: {data}")
    stages.end(4)
    return md


@torch.no_grad()
def _raw_outputs(model, data) -> list[np.ndarray]:
    """Each scene's multi-ACCDOA output ``(frames, tracks, coords, classes)``, the whole scene in one pass (as
    :func:`mcsimclr.seld.evaluate.predict_scenes` runs it)."""
    model.eval()
    return [model(audio.float()[None], labels.frames)[0].float().cpu().numpy()
            for audio, labels in zip(data.audio, data.labels, strict=True)]
