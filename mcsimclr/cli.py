"""The ``mcsimclr`` command: ``pretrain`` (contrastive pretraining). Data sets come from ``simulate build``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mcsimclr
from mcsimclr.config import ConfigError, dump_yaml, load_config

PRETRAIN_EXAMPLES = """examples:
  mcsimclr pretrain --config configs/pretrain/paper.yaml data.train=data/fsd/noisy_train.h5 \\
      monitor.train=data/fsd/clean_train.h5 monitor.test=data/fsd/test.h5 out_dir=runs/paper
  mcsimclr pretrain --config configs/pretrain/paper.yaml out_dir=runs/paper --resume
  mcsimclr pretrain --config configs/pretrain/cpu.yaml augment.mixup.enabled=false   # an ablation
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
        "OUT_DIR/metrics.csv and, unless log.wandb=false, an offline wandb run in OUT_DIR/wandb.",
        epilog=PRETRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    pre.add_argument("--config", type=Path, help="YAML config (configs/pretrain/*.yaml)")
    pre.add_argument("--resume", action="store_true",
                     help="continue the run in out_dir from checkpoints/last.ckpt (same step, same state)")
    pre.add_argument("--allow-cpu", action="store_true",
                     help="train on the CPU when the config asks for a GPU and none is available")
    pre.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    pre.add_argument("overrides", nargs="*", metavar="key.path=value",
                     help="config overrides, e.g. optim.batch_size=256 augment.mixup.enabled=false")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "pretrain":
        return _pretrain(args)
    return 2


def _pretrain(args: argparse.Namespace) -> int:
    from mcsimclr.checkpoint import CheckpointError
    from mcsimclr.data.data_info import DataError
    from mcsimclr.pretrain.config import PretrainConfig
    from mcsimclr.pretrain.run import RunError, pretrain

    try:
        config = load_config(PretrainConfig, args.config, args.overrides)
    except ConfigError as err:
        print(f"mcsimclr pretrain: {err}", file=sys.stderr)
        return 2
    if args.print_config:
        print(dump_yaml(config), end="")
        return 0
    try:
        out = pretrain(config, resume=args.resume, allow_cpu=args.allow_cpu)
    except (DataError, RunError, CheckpointError) as err:
        print(f"mcsimclr pretrain: error: {err}", file=sys.stderr)
        return 2
    print(f"mcsimclr pretrain: done; checkpoints in {out / 'checkpoints'}, logs in {out / 'metrics.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
