"""What the ``simulate`` and ``mcsimclr`` commands share: ``key=value`` overrides anywhere on the line, and
loading a typed config from ``--config`` + overrides with ``--print-config``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from mcsimclr.core.config import ConfigError, dump_yaml, load_config

T = TypeVar("T")


def parse_with_overrides(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``, accepting ``key.path=value`` overrides anywhere on the line (argparse alone takes only one
    contiguous run of positionals) for subcommands that have an ``overrides`` argument."""
    args, extra = parser.parse_known_args(argv)
    stray = [a for a in extra if a.startswith("-") or "=" not in a or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    return args


def config_or_exit_code(schema: type[T], path: Path | None, overrides: Sequence[str], *, prog: str,
                        print_config: bool) -> T | int:
    """The config, or the exit code to return: 2 after printing a config error, 0 after ``--print-config``."""
    try:
        config = load_config(schema, path, overrides)
    except ConfigError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    if print_config:
        print(dump_yaml(config), end="")
        return 0
    return config
