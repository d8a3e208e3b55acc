"""``mcsimclr report``: probe result directories -> the paper-style table (markdown and CSV).

Rows are (pretraining setting, checkpoint identity) pairs (:class:`RowKey`): the ``setting`` of each result (its
``--label``, or derived from the checkpoint's pretraining config; both baselines share one row, as in the paper's
Table 1) and the checkpoint it came from, so that seeds of one checkpoint pool into one row and two checkpoints
with the same setting name (e.g. pretrained on different data) stay two rows, told apart by ``[ckpt 1a2b3c]``.
Columns are linear-probe (LP:
``linear``, ``random-linear``) and fine-tune (FT: ``finetune``, ``scratch``) accuracy and mean azimuth error at
100 % of the labels, then the same for every other label fraction present. Each cell is the mean +- standard
deviation (``ddof=1``) over the results that fall in it (normally one per seed).

The classical baselines (``srp-phat``, ``music``: no learning) are rows of their own, last, with "—" for the class
and their azimuth error in every 100 % azimuth column; under the table, every learned row whose azimuth error is
larger than a classical row's is named ("loses to SRP-PHAT on direction").

A row with ``random-linear`` results states its protocol under the table (:func:`random_encoder_notes`): how many
random encoders were drawn per seed (``run.random_draws``; absent: 1) and where the encoder's BatchNorm statistics
came from (``run.bn_stats``: ``stored`` or ``recompute``; absent: ``stored``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcsimclr.probe.config import RANDOM_INIT_MODES
from mcsimclr.probe.result_dir import ResultError, find_results, read_result
from mcsimclr.probe.setting import BASELINE_SETTING

KIND = {"linear": "LP", "random-linear": "LP", "finetune": "FT", "scratch": "FT"}
METRICS = (("accuracy", "acc (%)"), ("azimuth_error_mean", "az err (deg)"))
CLASSICAL = {"srp-phat": "SRP-PHAT", "music": "MUSIC"}  # modes without learning -> method name in the notes
NO_CLASS = "—"
BN_STATS = {"stored": "stored (mean 0, variance 1 at initialisation)",
            "recompute": "recompute (from the probe's training windows)"}


@dataclass(frozen=True)
class RowKey:
    """What a row stands for: the setting name and the identity of the checkpoint its results came from.

    ``identity`` is ``"sha256:<hex>"`` (the checkpoint file), ``"config:<hex>"`` (its stored pretraining config,
    for results that lack the file hash), ``"arch:<hex>"`` (the baselines: their random encoder depends on the
    architecture and the seed only, not on any checkpoint's weights) or ``""`` (unknown).
    """

    setting: str
    identity: str = ""

    @property
    def checkpoint_sha256(self) -> str:
        return self.identity.removeprefix("sha256:") if self.identity.startswith("sha256:") else ""

    @property
    def short(self) -> str:
        """``"ckpt 1a2b3c"``, ``"config 1a2b3c"``, ``"arch 1a2b3c"`` or ``"unknown checkpoint"``."""
        if not self.identity:
            return "unknown checkpoint"
        kind, _, digest = self.identity.partition(":")
        return f"{'ckpt' if kind == 'sha256' else kind} {digest[:6]}"


def row_key(run: dict) -> RowKey:
    """The row of one result's ``run`` block (see :class:`RowKey`)."""
    setting = run.get("setting") or "?"
    if run.get("mode") in RANDOM_INIT_MODES and (run.get("encoder") or run.get("features")):
        arch = json.dumps({"encoder": run.get("encoder"), "features": run.get("features")}, sort_keys=True)
        return RowKey(setting, "arch:" + hashlib.sha256(arch.encode()).hexdigest())
    if run.get("checkpoint_sha256"):
        return RowKey(setting, "sha256:" + run["checkpoint_sha256"])
    if run.get("checkpoint_config_sha256"):
        return RowKey(setting, "config:" + run["checkpoint_config_sha256"])
    return RowKey(setting)


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
    """Rows (in order), their shown names, columns, cells, and notes (e.g. duplicate seeds)."""

    rows: list[RowKey]
    columns: list[Column]
    cells: dict[tuple[RowKey, Column], Cell]
    runs: dict[RowKey, int]
    notes: list[str] = field(default_factory=list)
    names: dict[RowKey, str] = field(default_factory=dict)
    classical: dict[RowKey, str] = field(default_factory=dict)  # row -> method (SRP-PHAT, MUSIC): no class column
    protocols: list[str] = field(default_factory=list)  # the random encoder's protocol per row (random_encoder_notes)

    def name(self, row: RowKey) -> str:
        """The row's setting, with ``[ckpt 1a2b3c]`` when another row has the same setting."""
        return self.names.get(row, row.setting)

    def row(self, name: str) -> RowKey:
        """The row shown as ``name``."""
        for r in self.rows:
            if self.name(r) == name:
                return r
        raise KeyError(f"no row {name!r}; rows: {[self.name(r) for r in self.rows]}")

    def cell(self, row: RowKey | str, column: Column) -> Cell:
        key = self.row(row) if isinstance(row, str) else row
        return self.cells.get((key, column), Cell())

    def to_markdown(self) -> str:
        head = ["setting", *(c.title for c in self.columns), "runs"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            cells = [NO_CLASS if row in self.classical and c.metric == "accuracy" else self.cell(row, c).text()
                     for c in self.columns]
            lines.append("| " + " | ".join([self.name(row), *cells, str(self.runs[row])]) + " |")
        lines.append("")
        lines.append("Mean ± standard deviation over seeds (a single value: one run). LP = linear probe (random-init "
                     "LP for the baseline row), FT = fine-tuning (supervised from scratch for the baseline row); "
                     "az err = mean circular azimuth error on the test clips.")
        lines.extend(self.protocols)
        if self.classical:
            lines.append("Rows marked (no learning): pyroomacoustics.doa on each whole test clip with the file's "
                         "array, no training and no class (—); their azimuth error fills every 100 % az err column.")
        lines.extend(self.direction_losses())
        if any(self.name(r) != r.setting for r in self.rows):
            lines.append("[ckpt 1a2b3c]: first hex digits of the SHA-256 of the checkpoint file the row's results "
                         "came from (config: of its pretraining config; arch: of the baselines' architecture); "
                         "rows with the same setting come from different checkpoints and are not pooled.")
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
                    lines.append(f"**{self.name(row)}** loses to {method} on direction ({', '.join(worse)} > "
                                 f"{reference.mean:.1f} deg of {self.name(row_c)}).")
        return lines

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        header = ["setting"]
        for c in self.columns:
            header += [f"{c.title} mean", f"{c.title} std", f"{c.title} n"]
        writer.writerow([*header, "runs", "checkpoint_sha256", "identity"])
        for row in self.rows:
            values: list[object] = [self.name(row)]
            for c in self.columns:
                cell = self.cell(row, c)
                values += ["" if not cell.n else f"{cell.mean:.4f}", "" if cell.n < 2 else f"{cell.std:.4f}", cell.n]
            writer.writerow([*values, self.runs[row], row.checkpoint_sha256, row.identity])
        return buf.getvalue()


def build_table(results: Sequence[dict]) -> ReportTable:
    """The table of already-read ``metrics.json`` documents (see :func:`collect`)."""
    cells: dict[tuple[RowKey, Column], Cell] = defaultdict(Cell)
    rows: list[RowKey] = []
    runs: dict[RowKey, int] = defaultdict(int)
    seen: dict[tuple, int] = defaultdict(int)
    classical: dict[RowKey, str] = {}
    classical_errors: dict[RowKey, Cell] = defaultdict(Cell)
    for doc in results:
        run = doc["run"]
        key = row_key(run)
        if key not in rows:
            rows.append(key)
        runs[key] += 1
        if run["mode"] in CLASSICAL:
            classical[key] = CLASSICAL[run["mode"]]
            seen[(key, run["mode"], 1.0, run["seed"])] += 1
            classical_errors[key].values.append(float(doc["azimuth_error_mean"]))
            continue
        kind, fraction = KIND[run["mode"]], float(run["fraction"])
        seen[(key, run["mode"], fraction, run["seed"])] += 1
        for metric, _ in METRICS:
            value = doc.get(metric)
            if value is not None:
                cells[(key, Column(kind, fraction, metric))].values.append(float(value))
    full = sorted({col.kind for (_, col) in cells if col.fraction == 1.0}) or ["LP"]
    for key, cell in classical_errors.items():  # no labels used at all: comparable to every 100 % column
        for kind in full:
            cells[(key, Column(kind, 1.0, "azimuth_error_mean"))] = Cell(list(cell.values))
    columns = sorted({col for (_, col) in cells}, key=lambda c: (c.fraction != 1.0, -c.fraction, c.kind != "LP",
                                                                 c.metric != "accuracy"))
    # stable: baselines first, then as given, the classical rows last
    order = list(CLASSICAL.values())
    rows.sort(key=lambda r: (r in classical, order.index(classical[r]) if r in classical else 0,
                             not r.setting.startswith(BASELINE_SETTING)))
    names = row_names(rows)
    notes = [f"{n} results for {names[r]!r} {m} fraction {f:g} seed {sd} (counted as separate runs)"
             for (r, m, f, sd), n in seen.items() if n > 1]
    return ReportTable(rows=rows, columns=columns, cells=dict(cells), runs=dict(runs), notes=notes, names=names,
                       classical=classical, protocols=random_encoder_notes(results, names))


def random_encoder_protocol(run: dict) -> tuple[int, str]:
    """``(draws per seed, bn_stats)`` of a ``random-linear`` result's ``run`` block; absent keys: ``(1, "stored")``.

    Raises:
        ResultError: a value that is neither absent nor valid.
    """
    draws, bn = run.get("random_draws", 1), run.get("bn_stats", "stored")
    where = f"result {run.get('setting')!r} {run.get('mode')} fraction {run.get('fraction')} seed {run.get('seed')}"
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ResultError(f"{where}: run.random_draws {draws!r}, expected a positive integer")
    if bn not in BN_STATS:
        raise ResultError(f"{where}: run.bn_stats {bn!r}, expected one of {sorted(BN_STATS)}")
    return draws, bn


def random_encoder_notes(results: Sequence[dict], names: dict[RowKey, str]) -> list[str]:
    """One line per row with ``random-linear`` results: its random-encoder protocol (draws per seed, BatchNorm
    statistics), and every protocol with its result count where the row's results mix several."""
    per_row: dict[RowKey, dict[tuple[int, str], int]] = defaultdict(lambda: defaultdict(int))
    for doc in results:
        if doc["run"]["mode"] == "random-linear":
            per_row[row_key(doc["run"])][random_encoder_protocol(doc["run"])] += 1

    def text(draws: int, bn: str) -> str:
        how = "1 draw per seed" if draws == 1 else f"{draws} draws per seed (mean over draws per seed)"
        return f"random encoder: {how}, BatchNorm statistics: {BN_STATS[bn]}"

    lines = []
    for row, protocols in per_row.items():
        name = names.get(row, row.setting)
        if len(protocols) == 1:
            lines.append(f"**{name}**, LP: {text(*next(iter(protocols)))}.")
        else:
            mixed = "; ".join(f"{text(*p)} ({n} result{'s' if n > 1 else ''})" for p, n in protocols.items())
            lines.append(f"**{name}**, LP, mixed protocols pooled in one cell: {mixed}.")
    return lines


def row_names(rows: Sequence[RowKey]) -> dict[RowKey, str]:
    """Each row's setting, suffixed with its short checkpoint identity where rows share a setting."""
    per_setting: dict[str, int] = defaultdict(int)
    for r in rows:
        per_setting[r.setting] += 1
    return {r: r.setting if per_setting[r.setting] == 1 else f"{r.setting} [{r.short}]" for r in rows}


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
