"""The ``mcsimclr`` command. Subcommands arrive with their features (pretrain, probe, report, demo)."""

from __future__ import annotations

import argparse
import sys

import mcsimclr


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mcsimclr",
        description="MC-SimCLR: self-supervised contrastive learning of spatial sound event representations. "
        "Data sets are made with the `simulate` command (see `simulate build --help`).",
    )
    p.add_argument("--version", action="version", version=f"mcsimclr {mcsimclr.__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    _parser().parse_args(argv)
    _parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
