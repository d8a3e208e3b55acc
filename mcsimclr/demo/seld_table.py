"""The table of ``mcsimclr demo --task seld``: one row per learned mode and per classical method, markdown and CSV.

Columns: the DCASE 2024 F20, DOAE_CD, ER20 and the DCASE 2023 LE_CD, LR_CD of each learned mode on the test scenes
(thresholded, class-aware; none for SRP-PHAT and MUSIC, which have no classes), then every row's DOA-only azimuth
error at polyphony 1 and 2 given the oracle activity (``az p1``, ``az p2``: :mod:`mcsimclr.seld.oracle_doa` for the
learned modes, :func:`mcsimclr.classical.scenes.evaluate_scenes` for the classical ones; the same frames, the same
matching). Under the table: every learned row whose oracle azimuth error is larger than a classical row's.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

ROW_NAMES = {"linear": "linear probe (pretrained, frozen)", "random-linear": "linear probe (random encoder, frozen)",
             "scratch": "from scratch (random init, trained)", "finetune": "fine-tuned (pretrained)",
             "srp-phat": "SRP-PHAT (no learning)", "music": "MUSIC (no learning)"}
COLUMNS = (("F20", "F20"), ("DOAE_CD", "DOAE_CD (deg)"), ("ER20", "ER20"), ("LE_CD", "LE_CD (deg, 2023)"),
           ("LR_CD", "LR_CD (2023)"), ("az_p1", "az p1 (deg, oracle)"), ("az_p2", "az p2 (deg, oracle)"))


@dataclass(frozen=True)
class SeldRow:
    """One row: ``mode`` (a SELD mode or ``srp-phat``/``music``) and its values (NaN: not measured)."""

    mode: str
    values: dict[str, float]

    @property
    def learned(self) -> bool:
        return self.mode not in ("srp-phat", "music")


def learned_row(mode: str, metrics: dict, oracle: dict) -> SeldRow:
    """A learned mode's row from its test ``metrics`` (``run_seld``) and oracle azimuth errors (``{1: .., 2: ..}``)."""
    m24, m23 = metrics["dcase2024"], metrics["dcase2023"]
    return SeldRow(mode, {"F20": m24["F20"], "DOAE_CD": m24["DOAE_CD"], "ER20": m24["ER20"], "LE_CD": m23["LE_CD"],
                          "LR_CD": m23["LR_CD"], "az_p1": oracle[1]["azimuth_error_mean"],
                          "az_p2": oracle[2]["azimuth_error_mean"]})


def classical_row(mode: str, result: dict) -> SeldRow:
    """A classical method's row from :func:`~mcsimclr.classical.scenes.evaluate_scenes`'s result."""
    values = {key: math.nan for key, _ in COLUMNS}
    values["az_p1"] = result["polyphony"][1]["azimuth_error_mean"]
    values["az_p2"] = result["polyphony"][2]["azimuth_error_mean"]
    return SeldRow(mode, values)


def cell(value: float, key: str) -> str:
    """One table cell: ``-`` when not measured; F20, ER20 and LR_CD to 3 decimals, angles to 1."""
    if not math.isfinite(value):
        return "-"
    return f"{value:.3f}" if key in ("F20", "ER20", "LR_CD") else f"{value:.1f}"


def to_markdown(rows: list[SeldRow]) -> str:
    head = "| setting | " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(COLUMNS)
    body = [f"| {ROW_NAMES.get(r.mode, r.mode)} | " + " | ".join(cell(r.values[k], k) for k, _ in COLUMNS) + " |"
            for r in rows]
    return "\n".join([head, rule, *body]) + "\n"


def to_csv(rows: list[SeldRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["mode", "setting", *(title for _, title in COLUMNS)])
    for r in rows:
        writer.writerow([r.mode, ROW_NAMES.get(r.mode, r.mode),
                         *("" if not math.isfinite(r.values[k]) else f"{r.values[k]:.6g}" for k, _ in COLUMNS)])
    return buf.getvalue()


def direction_losses(rows: list[SeldRow]) -> list[str]:
    """Sentences naming each learned row whose oracle azimuth error at a polyphony is above a classical row's."""
    lines = []
    for c in (r for r in rows if not r.learned):
        for p in (1, 2):
            key = f"az_p{p}"
            losers = [r for r in rows if r.learned and r.values[key] > c.values[key]]
            if losers and math.isfinite(c.values[key]):
                names = ", ".join(f"{r.mode} ({r.values[key]:.1f} deg)" for r in losers)
                verb = "loses" if len(losers) == 1 else "lose"
                lines.append(f"at polyphony {p}, {names} {verb} to {ROW_NAMES[c.mode].split(' (')[0]} on direction "
                             f"({c.values[key]:.1f} deg)")
    return lines


def write_table(rows: list[SeldRow], out: str | Path) -> tuple[Path, Path]:
    """Write ``out`` (markdown, with the direction lines under the table) and the CSV beside it; both paths.

    Each file is written to a temporary name first and renamed, so an interrupted run leaves no complete-looking
    table.
    """
    md = Path(out)
    csv_path = md.with_suffix(".csv")
    md.parent.mkdir(parents=True, exist_ok=True)
    losses = direction_losses(rows)
    text = to_markdown(rows) + "".join(f"\n{line}" for line in losses) + ("\n" if losses else "")
    for path, content in ((csv_path, to_csv(rows)), (md, text)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(content)
        tmp.replace(path)
    return md, csv_path
