"""The ``mcsimclr`` command: ``pretrain`` (contrastive pretraining), ``probe`` (linear probe, fine-tuning and
baselines), ``seld`` (SELD on scene files), ``report`` (the results table), ``margin`` (the margin of one probe
over another across seeds, with bootstrap intervals) and ``embed`` (embeddings of a data file). Data sets come from
``simulate build`` and ``simulate scenes``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import mcsimclr
from mcsimclr.core.cli_args import config_or_exit_code, parse_with_overrides
from mcsimclr.core.device import DEVICE_POLICY
from mcsimclr.core.errors import DataError, DeviceError

PRETRAIN_EXAMPLES = """examples:
  mcsimclr pretrain --config configs/pretrain/paper.yaml data.train=data/fsd/noisy_train.h5 \\
      monitor.train=data/fsd/clean_train.h5 monitor.dev=data/fsd/dev.h5 out_dir=runs/paper
  mcsimclr pretrain --config configs/pretrain/paper.yaml out_dir=runs/paper --resume
  mcsimclr pretrain --config configs/pretrain/cpu.yaml augment.mixup.enabled=false   # an ablation
"""

PROBE_EXAMPLES = """examples:
  mcsimclr probe --config configs/probe/default.yaml --mode linear --checkpoint runs/paper/checkpoints/last.ckpt
  mcsimclr probe --config configs/probe/default.yaml --mode finetune --fraction 0.1 --seed 1 \\
      --checkpoint runs/paper/checkpoints/last.ckpt data.train=data/fsd/clean_train.h5 data.dev=data/fsd/dev.h5 \\
      data.test=data/fsd/test.h5
  mcsimclr probe --config configs/probe/default.yaml --mode random-linear --checkpoint runs/paper/checkpoints/last.ckpt
  mcsimclr probe --config configs/probe/default.yaml --mode scratch finetune.lr_grid=[0.003,0.01,0.03]  # lr on dev
  mcsimclr probe --config configs/probe/default.yaml --mode srp-phat data.test=data/fsd/test.h5   # no learning

modes:
  linear         pretrained encoder frozen (eval mode); two linear heads trained on embeddings computed once
  finetune       pretrained encoder and heads trained together, encoder gradient x finetune.encoder_grad_scale (0.1)
  scratch        the fine-tuning recipe from a random encoder, gradient not scaled (supervised baseline)
  random-linear  the linear probe of linear.random_draws (3) random encoders, their mean reported (baseline)
  srp-phat       SRP-PHAT of pyroomacoustics.doa on each whole test clip, the file's array; no checkpoint, no training,
                 no class (a classical direction baseline: the report row "SRP-PHAT (no learning)")
  music          the same with MUSIC ("MUSIC (no learning)"); both read data.test only (settings: classical.*)
scratch and random-linear take the architecture and features of --checkpoint if given (a fair baseline), else the
config's model section. Results: OUT_DIR/metrics.json, config.yaml, history.csv, predictions.csv, model.pt, *.png.
"""

SELD_EXAMPLES = """examples:
  mcsimclr seld --config configs/seld/default.yaml --mode linear --checkpoint runs/paper/checkpoints/last.ckpt
  mcsimclr seld --config configs/seld/default.yaml --mode finetune --fraction 0.1 --seed 1 \\
      --checkpoint runs/paper/checkpoints/last.ckpt data.train=data/scenes/train.h5 data.dev=data/scenes/dev.h5 \\
      data.test=data/scenes/test.h5
  mcsimclr seld --config configs/seld/default.yaml --mode scratch --checkpoint runs/paper/checkpoints/last.ckpt

modes:
  linear         pretrained encoder frozen (eval mode); the linear multi-ACCDOA head trained on frame features
                 computed once per ChannelSwap symmetry
  finetune       pretrained encoder and head trained together, encoder gradient x finetune.encoder_grad_scale (0.1)
  scratch        a random encoder of the checkpoint's architecture trained fully (supervised baseline)
  random-linear  a random encoder frozen, the linear head trained (baseline; BN statistics as linear.bn_stats)
The epoch is selected on data.dev (DCASE 2024 F20, ties: lower DOAE_CD); data.test is read and scored once, after
that. Results: OUT_DIR/metrics.json (DCASE 2024 and 2023 metrics on test, dev metrics of the selected epoch, run
info), config.yaml, history.csv, predictions.npz, model.pt.
"""

REPORT_EXAMPLES = """examples:
  mcsimclr report runs/probe                       # every result directory below runs/probe
  mcsimclr report runs/probe/a runs/probe/b --out results/table1.md   # also writes results/table1.csv
"""

MARGIN_EXAMPLES = """examples:
  mcsimclr margin --a runs/probe/linear-s0 runs/probe/linear-s1 runs/probe/linear-s2 \\
      --b runs/probe/random-s0 runs/probe/random-s1 runs/probe/random-s2 --json runs/probe/margin.json
  mcsimclr margin --a runs/probe/linear-s0 --b runs/probe/random-s0 --n-boot 20000 --level 0.9   # one seed
"""

EMBED_EXAMPLES = """examples:
  mcsimclr embed --checkpoint runs/paper/checkpoints/last.ckpt --data data/fsd/test.h5 --out emb/test.h5
  mcsimclr embed --checkpoint runs/paper/checkpoints/last.ckpt --data data/scenes/test.h5 --out emb/scenes.h5
  mcsimclr embed --checkpoint CK --data data/fsd/test.h5 --out emb/test-frames.h5 --level frame --hop 0.48

what OUT.h5 holds (attributes: format mcsimclr.embeddings, version, level, checkpoint + checkpoint_sha256,
setting, data + data_config_sha256, embed_dim, frame_dim, frame_hop_s, window/hop seconds, package_version):
  clip level   embeddings (n_clips, embed_dim) float32: row i is clip i of DATA (clip_index), the mean embedding
               of its windows (the probe's whole-clip protocol); source_id and the clip labels (label,
               azimuth_deg, elevation_deg, distance_m, rt60_*, ...) copied row for row: join on the row or
               source_id.
  frame level  frames (total_steps, frame_dim) float32, the encoder's frames before temporal pooling, one step
               every frame_hop_s; item_index (the clip or scene row of DATA), step (within the item), time_s
               (centre of the step); item i is frames[offsets[i] : offsets[i] + lengths[i]]. For scene files
               also label_frame (the scene's label frame the step's centre falls in, -1 past the last) and
               label_row (its row in DATA's frames/ arrays): labels = DATA['frames/class_index'][label_row].
The file is written as OUT.h5.partial and renamed when complete.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mcsimclr",
        description="MC-SimCLR: self-supervised contrastive learning of spatial sound event representations. "
        "Data sets are made with the `simulate` command (see `simulate build --help`).",
    )
    p.add_argument("--version", action="version", version=f"mcsimclr {mcsimclr.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pre = sub.add_parser(
        "pretrain", help="contrastive pretraining of the encoder (Lightning; GPU, several GPUs/nodes with DDP)",
        description="Pretrain the CRNN encoder with NT-Xent on pairs of crops of unlabelled clips. Writes "
        "OUT_DIR/config.yaml, OUT_DIR/checkpoints/{last,best}.ckpt (self-describing: mcsimclr.load_encoder), "
        "OUT_DIR/metrics.csv and, unless log.wandb=false, an offline wandb run in OUT_DIR/wandb. " + DEVICE_POLICY,
        epilog=PRETRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    pre.add_argument("--config", type=Path, help="YAML config (configs/pretrain/*.yaml)")
    pre.add_argument("--resume", action="store_true",
                     help="continue the run in out_dir from checkpoints/last.ckpt (same step, same state)")
    pre.add_argument("--allow-cpu", action="store_true",
                     help="train on the CPU (float32) when the config asks for a GPU and none is available")
    pre.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    pre.add_argument("overrides", nargs="*", metavar="key.path=value",
                     help="config overrides, e.g. optim.batch_size=256 augment.mixup.enabled=false")

    demo = sub.add_parser(
        "demo", help="the whole recipe on built-in synthetic data: simulate, pretrain, evaluate, table (CPU, minutes)",
        description="Simulate a small synthetic data set, pretrain the encoder without labels, evaluate it (linear "
        "probe, linear probe of a random encoder, supervised training from scratch, fine-tuning; SRP-PHAT and MUSIC "
        "without learning for direction) and print the paper-style table, then the margin of the pretrained "
        "encoder's linear probe over a random encoder's "
        "(paired over the test clips, with a bootstrap interval). Every choice is made on the dev split, test is "
        "scored once. About 12 minutes on 2 CPU cores; no download. "
        + DEVICE_POLICY + " Here --device auto|cpu|cuda stands for the accelerator (cuda = gpu); bf16 on a GPU.",
        epilog="examples:\n  mcsimclr demo\n  mcsimclr demo --quick --out /tmp/demo\n  mcsimclr demo --scale 4 "
        "--device cuda --out runs/demo-big\n  mcsimclr demo --task seld --seed 100 --out runs/demo-seld-100\n"
        "  mcsimclr demo --task seld --scale 10 --pretrain-on clips --device cuda --out runs/demo-seld-x10\n"
        "  mcsimclr demo --task seld --fraction 0.25 --seed 103 --out runs/demo-seld-f0.25-s103",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--task", choices=("clips", "seld"), default="clips",
                      help="clips: the clip table (default); seld: scenes, SELD four ways and SRP-PHAT (about 10 min)")
    demo.add_argument("--out", type=Path, default=None,
                      help="output directory (default runs/demo, or runs/demo-seld with --task seld)")
    demo.add_argument("--quick", action="store_true", help="tiny sizes: checks every stage in a minute or two")
    demo.add_argument("--scale", type=float, default=1.0,
                      help="multiply the clip counts (--task seld: the scene and source-clip counts; the epochs stay) "
                      "and the stage time estimates (default 1; for a GPU)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data, the pretraining and the probes")
    demo.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                      help="auto: a CUDA GPU if there is one; cuda without CUDA is an error")
    demo.add_argument("--overwrite", action="store_true", help="replace an earlier run in --out")
    demo.add_argument("--pretrain-on", choices=("scenes", "clips"), default=None,
                      help="--task seld: pretrain on the train scenes (default) or on unlabelled single-event "
                      "clips simulated for it (the paper's setting; about 2 min more; docs/results.md, SELD)")
    demo.add_argument("--fraction", type=float, default=None,
                      help="--task seld: train the SELD modes on this seeded fraction of the train scenes, in (0, 1] "
                      "(default 1); the pretraining still sees all of them, without labels")
    demo.add_argument("--threads", type=int, default=1,
                      help="--task seld: torch threads (default 1; 2 threads on 2 shared cores ran 10x slower)")
    probe = sub.add_parser(
        "probe", help="evaluate an encoder: linear probe, fine-tuning, label fractions, random/scratch baselines",
        description="Train heads for event class and azimuth on the labelled split (data.train), make every "
        "choice (L2, epoch, learning rate) on the dev split (data.dev; without one, data.val_clips clips of "
        "data.train are held out instead, for every protocol alike), then load and score the test split once. "
        "random-linear averages linear.random_draws random encoders. Writes a result directory (metrics JSON, "
        "resolved config, plots) that `mcsimclr report` collects. Protocols: docs/evaluation.md. " + DEVICE_POLICY,
        epilog=PROBE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    probe.add_argument("--config", type=Path, help="YAML config (configs/probe/*.yaml); without it, the defaults")
    probe.add_argument("--mode", choices=["linear", "finetune", "scratch", "random-linear", "srp-phat", "music"],
                       help="protocol (config key: mode)")
    probe.add_argument("--checkpoint", help="pretraining checkpoint (.ckpt); required for linear and finetune")
    probe.add_argument("--fraction", type=float, help="fraction of the labelled training clips, in (0, 1]: "
                       "stratified by class, nested across fractions for one seed (config key: fraction)")
    probe.add_argument("--seed", type=int, help="seed of the heads, the random encoder, batches and the fraction "
                       "subset (config key: seed)")
    probe.add_argument("--label", help="name of the pretraining setting in the report (default: derived from the "
                       "checkpoint's pretraining config)")
    probe.add_argument("--out", help="result directory (config key: out_dir; may use {mode} {fraction} {seed} "
                       "{setting})")
    probe.add_argument("--overwrite", action="store_true", help="replace an existing result in the directory")
    probe.add_argument("--allow-cpu", action="store_true",
                       help="run on the CPU (float32) when the config asks for a GPU and none is available")
    probe.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    probe.add_argument("overrides", nargs="*", metavar="key.path=value",
                       help="config overrides, e.g. data.train=data/fsd/clean_train.h5 heads.direction=bins")

    seld = sub.add_parser(
        "seld", help="SELD on the encoder: multi-ACCDOA head (ADPIT) on scene files, dev selection, test once",
        description="Train a multi-ACCDOA head (3 tracks x xyz (+ distance) x classes) with ADPIT on the train "
        "scenes (`simulate scenes` files; ChannelSwap the only augmentation, labels transformed with it), select "
        "the epoch on the dev scenes, then score the test scenes once with the DCASE 2024 (F20, DOAE_CD, RDE_CD) "
        "and 2023 (ER20, F20, LE_CD, LR_CD) metrics. Protocols: docs/evaluation.md, \"SELD\". " + DEVICE_POLICY,
        epilog=SELD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    seld.add_argument("--config", type=Path, help="YAML config (configs/seld/*.yaml); without it, the defaults")
    seld.add_argument("--mode", choices=["linear", "finetune", "scratch", "random-linear"],
                      help="protocol (config key: mode)")
    seld.add_argument("--checkpoint", help="pretraining checkpoint (.ckpt); required for linear and finetune")
    seld.add_argument("--fraction", type=float, help="fraction of the training scenes, in (0, 1]: seeded, nested "
                      "across fractions for one seed (config key: fraction)")
    seld.add_argument("--seed", type=int, help="seed of the head, the random encoder, windows and the fraction "
                      "subset (config key: seed)")
    seld.add_argument("--label", help="name of the pretraining setting (default: derived from the checkpoint)")
    seld.add_argument("--out", help="result directory (config key: out_dir; may use {mode} {fraction} {seed} "
                      "{setting})")
    seld.add_argument("--overwrite", action="store_true", help="replace an existing result in the directory")
    seld.add_argument("--allow-cpu", action="store_true",
                      help="run on the CPU (float32) when the config asks for a GPU and none is available")
    seld.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    seld.add_argument("overrides", nargs="*", metavar="key.path=value",
                      help="config overrides, e.g. data.dev=data/scenes/dev.h5 heads.distance=false")

    report = sub.add_parser(
        "report", help="collect probe result directories into the paper-style table (markdown and CSV)",
        description="Rows: pretraining settings, one per checkpoint (seeds of one checkpoint pool into a row; two "
        "checkpoints with the same setting name are two rows, suffixed [ckpt 1a2b3c] = the first digits of the "
        "file's SHA-256); columns: linear-probe and fine-tune accuracy and azimuth error (100 % of the labels, "
        "then other label fractions); mean +- std over seeds. Prints the markdown table and writes it with a CSV "
        "beside it (with a checkpoint_sha256 column).", epilog=REPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("dirs", nargs="+", metavar="DIR", help="result directories, or directories to search")
    report.add_argument("--out", type=Path, default=Path("report.md"),
                        help="markdown file to write; the CSV goes beside it with .csv (default: report.md)")

    margin = sub.add_parser(
        "margin", help="the margin of probe results A over B across seeds, with two-level bootstrap intervals",
        description="Pair --a and --b result directories in order, one pair per seed (each pair scored on the same "
        "test clips; a random-linear result with several encoder draws counts each clip's mean over the draws), "
        "and print the margin of A over B: accuracy points, mean azimuth error degrees and the ratio of the mean "
        "azimuth errors, each the mean over seeds. The intervals are a two-level percentile bootstrap: seeds "
        "drawn with replacement, then the test clips of each drawn seed with replacement, so they cover "
        "seed-to-seed variation as well as the test sample (with one seed, the clip bootstrap).",
        epilog=MARGIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    margin.add_argument("--a", nargs="+", required=True, metavar="DIR", help="result directories of A, one per seed")
    margin.add_argument("--b", nargs="+", required=True, metavar="DIR",
                        help="result directories of B, one per seed, in the same order")
    margin.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="also write the margins and intervals to this JSON file")
    margin.add_argument("--n-boot", type=int, default=10000, help="bootstrap resamples (default 10000)")
    margin.add_argument("--level", type=float, default=0.95, help="coverage of the intervals (default 0.95)")
    margin.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")

    embed = sub.add_parser(
        "embed", help="clip or frame embeddings of a data file from a pretrained checkpoint (HDF5, joinable)",
        description="Embed every clip (simulate build) or scene (simulate scenes) of --data with the encoder of "
        "--checkpoint and write one self-describing HDF5 file. Level auto: clip for clip files, frame for scene "
        "files. " + DEVICE_POLICY + " Here --precision defaults to 32 (float32 on a GPU too).",
        epilog=EMBED_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    embed.add_argument("--checkpoint", required=True, help="pretraining checkpoint (.ckpt)")
    embed.add_argument("--data", required=True, help="clip file (simulate build) or scene file (simulate scenes)")
    embed.add_argument("--out", required=True, type=Path, help="HDF5 file to write")
    embed.add_argument("--level", choices=("clip", "frame", "auto"), default="auto",
                       help="clip: one embedding per clip (clip files); frame: the frame sequence; auto (default)")
    embed.add_argument("--window", type=float, default=1.0, help="window given to the encoder, seconds (default 1)")
    embed.add_argument("--hop", type=float, default=None,
                       help="hop between windows, seconds (default: half the window; at frame level a whole "
                       "number of frame_hop_s steps)")
    embed.add_argument("--batch", type=int, default=256, help="windows per encoder call (default 256)")
    embed.add_argument("--accelerator", choices=("auto", "gpu", "cpu"), default="auto", help="device (default auto)")
    embed.add_argument("--precision", choices=("32", "bf16-mixed", "16-mixed"), default="32",
                       help="precision on a GPU (default 32)")
    embed.add_argument("--allow-cpu", action="store_true",
                       help="run on the CPU when --accelerator gpu is asked for and there is no GPU")
    embed.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parse_with_overrides(_parser(), argv)
    if args.command == "pretrain":
        return _pretrain(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "probe":
        return _probe(args)
    if args.command == "seld":
        return _seld(args)
    if args.command == "report":
        return _report(args)
    if args.command == "margin":
        return _margin(args)
    if args.command == "embed":
        return _embed(args)
    return 2


def _demo(args: argparse.Namespace) -> int:
    from mcsimclr.checkpoint import CheckpointError
    from mcsimclr.demo.plan import DemoPlan
    from mcsimclr.demo.run import DemoError, run_demo
    from mcsimclr.pretrain.run import RunError
    from mcsimclr.probe.run import ProbeError

    try:
        if args.quick and args.scale != 1.0:
            raise DemoError(f"--quick and --scale {args.scale:g} together: --quick has one (tiny) size")
        if args.task == "seld":
            from dataclasses import replace

            from mcsimclr.demo.seld_plan import SeldDemoPlan
            from mcsimclr.demo.seld_run import run_seld_demo

            on = args.pretrain_on or "scenes"
            plan = SeldDemoPlan.quick(pretrain_on=on) if args.quick else SeldDemoPlan.full(args.scale, pretrain_on=on)
            if args.fraction is not None:
                plan = replace(plan, fraction=args.fraction)
            run_seld_demo(out=args.out or Path("runs/demo-seld"), plan=plan, seed=args.seed, device=args.device,
                          overwrite=args.overwrite, threads=args.threads)
            return 0
        if args.pretrain_on is not None:
            raise DemoError("--pretrain-on is for --task seld (the clip demo pretrains on its unlabelled clips)")
        if args.fraction is not None:
            raise DemoError("--fraction is for --task seld (the clip demo has no label-fraction option)")
        plan = DemoPlan.quick() if args.quick else DemoPlan.full(args.scale)
        run_demo(out=args.out or Path("runs/demo"), plan=plan, seed=args.seed, device=args.device,
                 overwrite=args.overwrite)
    except (DemoError, DataError, DeviceError, RunError, ProbeError, CheckpointError, ValueError) as err:
        print(f"mcsimclr demo: error: {err}", file=sys.stderr)
        return 2
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from mcsimclr.checkpoint import CheckpointError
    from mcsimclr.pretrain.config import PretrainConfig
    from mcsimclr.pretrain.run import RunError, pretrain

    config = config_or_exit_code(PretrainConfig, args.config, args.overrides, prog="mcsimclr pretrain",
                                 print_config=args.print_config)
    if isinstance(config, int):
        return config
    try:
        out = pretrain(config, resume=args.resume, allow_cpu=args.allow_cpu)
    except (DataError, DeviceError, RunError, CheckpointError) as err:
        print(f"mcsimclr pretrain: error: {err}", file=sys.stderr)
        return 2
    print(f"mcsimclr pretrain: done; checkpoints in {out / 'checkpoints'}, logs in {out / 'metrics.csv'}")
    return 0


def _run_overrides(args: argparse.Namespace) -> list[str]:
    """The dotted overrides of ``probe`` and ``seld``, then their flags as overrides, so an explicit flag wins;
    strings are JSON-quoted so that YAML keeps e.g. a label "yes" or "1.0" a string."""
    flags = {"mode": args.mode, "checkpoint": args.checkpoint, "fraction": args.fraction, "seed": args.seed,
             "label": args.label, "out_dir": args.out}
    return list(args.overrides) + [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]


def _probe(args: argparse.Namespace) -> int:
    from mcsimclr.checkpoint import CheckpointError
    from mcsimclr.probe.config import ProbeConfig
    from mcsimclr.probe.run import ProbeError, run_probe

    config = config_or_exit_code(ProbeConfig, args.config, _run_overrides(args), prog="mcsimclr probe",
                                 print_config=args.print_config)
    if isinstance(config, int):
        return config
    _log_to_stderr("mcsimclr.probe")
    try:
        outcome = run_probe(config, overwrite=args.overwrite, allow_cpu=args.allow_cpu)
    except (DataError, DeviceError, ProbeError, CheckpointError) as err:
        print(f"mcsimclr probe: error: {err}", file=sys.stderr)
        return 2
    m = outcome.metrics
    accuracy = "no class (no learning)" if outcome.heads is None else f"accuracy {m['accuracy']:.1f} %"
    print(f"mcsimclr probe: {config.mode} (fraction {config.fraction:g}, seed {config.seed}): {accuracy}, "
          f"azimuth error {m['azimuth_error_mean']:.1f} deg mean / "
          f"{m['azimuth_error_median']:.1f} deg median on {m['n_clips']} test clips; results in {outcome.out_dir}")
    return 0


def _seld(args: argparse.Namespace) -> int:
    from mcsimclr.checkpoint import CheckpointError
    from mcsimclr.probe.run import ProbeError
    from mcsimclr.seld.config import SeldConfig
    from mcsimclr.seld.run import SeldError, run_seld

    config = config_or_exit_code(SeldConfig, args.config, _run_overrides(args), prog="mcsimclr seld",
                                 print_config=args.print_config)
    if isinstance(config, int):
        return config
    _log_to_stderr("mcsimclr.seld")
    try:
        outcome = run_seld(config, overwrite=args.overwrite, allow_cpu=args.allow_cpu)
    except (DataError, DeviceError, SeldError, ProbeError, CheckpointError) as err:
        print(f"mcsimclr seld: error: {err}", file=sys.stderr)
        return 2
    m = outcome.metrics["dcase2024"]
    print(f"mcsimclr seld: {config.mode} (fraction {config.fraction:g}, seed {config.seed}): test F20 {m['F20']:.3f}, "
          f"DOAE_CD {m['DOAE_CD']:.1f} deg, SELD score {m['SELD_score']:.3f} (epoch "
          f"{outcome.metrics['run']['selected_epoch']} selected on dev); results in {outcome.out_dir}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from mcsimclr.probe.report import build_table, collect, write_report
    from mcsimclr.probe.result_dir import ResultError

    try:
        table = build_table(collect(args.dirs))
    except ResultError as err:
        print(f"mcsimclr report: error: {err}", file=sys.stderr)
        return 2
    md, csv_path = write_report(table, args.out)
    print(table.to_markdown(), end="")
    print(f"mcsimclr report: wrote {md} and {csv_path}")
    return 0


def _margin(args: argparse.Namespace) -> int:
    from mcsimclr.probe.bootstrap import bootstrap_margin, result_name, write_margin_json

    try:
        if len(args.a) != len(args.b):
            raise ValueError(f"{len(args.a)} --a results and {len(args.b)} --b results; give one of each per seed, "
                             "in the same order")
        result = bootstrap_margin(list(zip(args.a, args.b, strict=True)), n_boot=args.n_boot, level=args.level,
                                  seed=args.seed)
        print(f"{result_name(args.a)} vs {result_name(args.b)} over {result.n_seeds} "
              f"seed{'s' if result.n_seeds > 1 else ''}: {result.text()}")
        if args.json is not None:
            write_margin_json(result, args.json)
            print(f"mcsimclr margin: wrote {args.json}")
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"mcsimclr margin: error: {err}", file=sys.stderr)
        return 2
    return 0


def _embed(args: argparse.Namespace) -> int:
    from mcsimclr.checkpoint import CheckpointError
    from mcsimclr.probe.embed_file import EmbedError, embed_file

    _log_to_stderr("mcsimclr.probe")
    try:
        out = embed_file(checkpoint=args.checkpoint, data=args.data, out=args.out, level=args.level,
                         window_seconds=args.window, hop_seconds=args.hop, batch=args.batch,
                         accelerator=args.accelerator, precision=args.precision, allow_cpu=args.allow_cpu,
                         overwrite=args.overwrite)
    except (DataError, DeviceError, EmbedError, CheckpointError) as err:
        print(f"mcsimclr embed: error: {err}", file=sys.stderr)
        return 2
    print(f"mcsimclr embed: wrote {out}")
    return 0


def _log_to_stderr(name: str) -> None:
    """Progress lines of ``name``'s loggers on stderr (once)."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
