"""Reading the CSV tables of source sets (FSDnoisy18k metadata, folder manifests) with clear errors."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from simulate.sources.base import SourceError


def read_table(path: Path, *, required: Sequence[str], optional: Sequence[str] = (),
               expected: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows of a UTF-8 CSV file (with or without a BOM).

    Rows come as ``(line number, {column: stripped value})`` for the ``required`` and present ``optional``
    columns; blank rows are skipped.

    Args:
        path: the file (its existence is the caller's to check, with a message about what it is).
        required: columns that must be in the header.
        optional: columns read when present.
        expected: what the header should hold, for the error message (e.g. ``"path,label[,split]"``).

    Raises:
        SourceError: a missing column (naming the missing and the found ones), a row with fewer fields than
            the header (naming the line), a file that is not UTF-8 CSV.
    """
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in required if name not in header]
            if missing:
                raise SourceError(f"{path}: missing column(s) {', '.join(missing)}; found columns: "
                                  f"{', '.join(header) or '(none)'}; expected {expected}")
            where = {name: header.index(name) for name in (*required, *optional) if name in header}
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) < len(header):
                    raise SourceError(f"{path} line {reader.line_num}: expected {len(header)} fields, "
                                      f"got {len(values)}")
                rows.append((reader.line_num, {name: values[i].strip() for name, i in where.items()}))
    except (UnicodeDecodeError, csv.Error) as err:
        raise SourceError(f"{path}: not a readable UTF-8 CSV file: {err}") from err
    return header, rows
