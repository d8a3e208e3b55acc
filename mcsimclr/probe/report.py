"""``mcsimclr report``: probe result directories -> the paper-style table (markdown and CSV).

Rows are pretraining settings (the ``setting`` of each result: its ``--label``, or derived from the checkpoint's
pretraining config; both baselines share one row, as in the paper's Table 1). Columns are linear-probe (LP:
``linear``, ``random-linear``) and fine-tune (FT: ``finetune``, ``scratch``) accuracy and mean azimuth error at
100 % of the labels, then the same for every other label fraction present. Each cell is the mean +- standard
deviation (``ddof=1``) over the results that fall in it (normally one per seed).

The classical baselines (``srp-phat``, ``music``: no learning) are rows of their own, last, with "—" for the class
and their azimuth error in every 100 % azimuth column; under the table, every learned row whose azimuth error is
larger than a classical row's is named ("loses to SRP-PHAT on direction").
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcsimclr.probe.result_dir import find_results, read_result
from mcsimclr.probe.setting import BASELINE_SETTING

KIND = {"linear": "LP", "random-linear": "LP", "finetune": "FT", "scratch": "FT"}
CLASSICAL = {"srp-phat": "SRP-PHAT", "music": "MUSIC"}  # modes without learning -> method name in the notes
NO_CLASS = "—"
METRICS = (("accuracy", "acc (%)"), ("azimuth_error_mean", "az err (deg)"))


@dataclass(frozen=True)
class Column:
    """One table column: protocol kind (``LP``/``FT``), label fraction and metric key."""

    kind: str
    fraction: float
    metric: str

    @property
    def title(self) -> str:
        frac = "" if self.fraction == 1.0 else f" {100 * self.fraction:g} %"
        return f"{self.kind}{frac} {dict(METRICS)[self.metric]}"


@dataclass
class Cell:
    """The values of one (row, column): one per result."""

    values: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values) if self.values else math.nan

    @property
    def std(self) -> float:
        if len(self.values) < 2:
            return math.nan
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (len(self.values) - 1))

    def text(self, digits: int = 1) -> str:
        if not self.values:
            return "-"
        if self.n == 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


@dataclass
class ReportTable:
    """Rows (settings, in order), columns, cells, and notes (e.g. duplicate seeds)."""

    rows: list[str]
    columns: list[Column]
    cells: dict[tuple[str, Column], Cell]
    runs: dict[str, int]
    notes: list[str] = field(default_factory=list)
    classical: dict[str, str] = field(default_factory=dict)  # row -> method (SRP-PHAT, MUSIC): no class column

    def cell(self, row: str, column: Column) -> Cell:
        return self.cells.get((row, column), Cell())

    def to_markdown(self) -> str:
        head = ["setting", *(c.title for c in self.columns), "runs"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            cells = [NO_CLASS if row in self.classical and c.metric == "accuracy" else self.cell(row, c).text()
                     for c in self.columns]
            lines.append("| " + " | ".join([row, *cells, str(self.runs[row])]) + " |")
        lines.append("")
        lines.append("Mean ± standard deviation over seeds (a single value: one run). LP = linear probe (random-init "
                     "LP for the baseline row), FT = fine-tuning (supervised from scratch for the baseline row); "
                     "az err = mean circular azimuth error on the test clips.")
        if self.classical:
            lines.append("Rows marked (no learning): pyroomacoustics.doa on each whole test clip with the file's "
                         "array, no training and no class (—); their azimuth error fills every 100 % az err column.")
        lines.extend(self.direction_losses())
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines) + "\n"

    def direction_losses(self) -> list[str]:
        """One line per learned row whose azimuth error (any column) is larger than a classical row's."""
        lines = []
        for row_c in (r for r in self.rows if r in self.classical):  # SRP-PHAT first
            method = self.classical[row_c]
            reference = next((self.cell(row_c, c) for c in self.columns
                              if c.metric == "azimuth_error_mean" and self.cell(row_c, c).n), Cell())
            if not reference.n:
                continue
            for row in self.rows:
                if row in self.classical:
                    continue
                worse = [f"{c.title} {self.cell(row, c).mean:.1f}" for c in self.columns
                         if c.metric == "azimuth_error_mean" and self.cell(row, c).n
                         and self.cell(row, c).mean > reference.mean]
                if worse:
                    lines.append(f"**{row}** loses to {method} on direction ({', '.join(worse)} > "
                                 f"{reference.mean:.1f} deg of {row_c}).")
        return lines

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        header = ["setting"]
        for c in self.columns:
            header += [f"{c.title} mean", f"{c.title} std", f"{c.title} n"]
        writer.writerow([*header, "runs"])
        for row in self.rows:
            values: list[object] = [row]
            for c in self.columns:
                cell = self.cell(row, c)
                values += ["" if not cell.n else f"{cell.mean:.4f}", "" if cell.n < 2 else f"{cell.std:.4f}", cell.n]
            writer.writerow([*values, self.runs[row]])
        return buf.getvalue()


def build_table(results: Sequence[dict]) -> ReportTable:
    """The table of already-read ``metrics.json`` documents (see :func:`collect`)."""
    cells: dict[tuple[str, Column], Cell] = defaultdict(Cell)
    rows: list[str] = []
    runs: dict[str, int] = defaultdict(int)
    seen: dict[tuple, int] = defaultdict(int)
    classical: dict[str, str] = {}
    classical_errors: dict[str, Cell] = defaultdict(Cell)
    for doc in results:
        run = doc["run"]
        setting = run.get("setting") or "?"
        if setting not in rows:
            rows.append(setting)
        runs[setting] += 1
        if run["mode"] in CLASSICAL:
            classical[setting] = CLASSICAL[run["mode"]]
            seen[(setting, run["mode"], 1.0, run["seed"])] += 1
            classical_errors[setting].values.append(float(doc["azimuth_error_mean"]))
            continue
        kind, fraction = KIND[run["mode"]], float(run["fraction"])
        seen[(setting, run["mode"], fraction, run["seed"])] += 1
        for metric, _ in METRICS:
            value = doc.get(metric)
            if value is not None:
                cells[(setting, Column(kind, fraction, metric))].values.append(float(value))
    full = sorted({col.kind for (_, col) in cells if col.fraction == 1.0}) or ["LP"]
    for setting, cell in classical_errors.items():  # no labels used at all: comparable to every 100 % column
        for kind in full:
            cells[(setting, Column(kind, 1.0, "azimuth_error_mean"))] = Cell(list(cell.values))
    columns = sorted({col for (_, col) in cells}, key=lambda c: (c.fraction != 1.0, -c.fraction, c.kind != "LP",
                                                                 c.metric != "accuracy"))
    # stable: baselines first, then as given, the classical rows last
    order = list(CLASSICAL.values())
    rows.sort(key=lambda r: (r in classical, order.index(classical[r]) if r in classical else 0,
                             not r.startswith(BASELINE_SETTING)))
    notes = [f"{n} results for {s!r} {m} fraction {f:g} seed {sd} (counted as separate runs)"
             for (s, m, f, sd), n in seen.items() if n > 1]
    return ReportTable(rows=rows, columns=columns, cells=dict(cells), runs=dict(runs), notes=notes,
                       classical=classical)


def collect(paths: Sequence[str | Path]) -> list[dict]:
    """Read every result directory under ``paths`` (see :func:`mcsimclr.probe.result_dir.find_results`)."""
    return [read_result(p) for p in find_results(paths)]


def write_report(table: ReportTable, out: str | Path) -> tuple[Path, Path]:
    """Write ``out`` (markdown) and the CSV beside it (same name, ``.csv``); returns both paths."""
    md = Path(out)
    csv_path = md.with_suffix(".csv")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(table.to_markdown())
    csv_path.write_text(table.to_csv())
    return md, csv_path
