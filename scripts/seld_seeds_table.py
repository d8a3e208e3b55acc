"""The tables of docs/results.md (SELD) for several ``mcsimclr demo --task seld`` runs, one per seed.

usage:
  python scripts/seld_seeds_table.py runs/demo-seld-lr-s103 runs/demo-seld-lr-s104 runs/demo-seld-lr-s105
  python scripts/seld_seeds_table.py RUN ... --seld-dir seld-f0.25    # mcsimclr seld runs of another label fraction

Reads each run's ``<seld-dir>/<mode>/metrics.json`` (and ``oracle_doa.json`` where the demo wrote it) and
``classical/<method>.json``; prints markdown: every row per seed, then mean +- standard deviation (ddof 1)
[min, max] over the seeds, the paired F20 differences per seed, and the verdicts of issue 17's results:
- requirement: fine-tune beats scratch on F20 in every seed, by more than the seed-to-seed spread (the larger of
  the two modes' standard deviations over the seeds);
- target: the linear probe beats scratch in every seed; each learned mode's oracle azimuth error at polyphony 2
  below SRP-PHAT's (per seed and as a mean).
Nothing here chooses anything: it only reads finished runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from mcsimclr.demo.seld_plan import SELD_CLASSICAL as CLASSICAL
from mcsimclr.demo.seld_plan import SELD_MODES as MODES
from mcsimclr.demo.seld_table import COLUMNS, cell, classical_row, learned_row

PAIRS = (("finetune", "scratch"), ("linear", "scratch"), ("linear", "random-linear"))


def read_run(run: Path, seld_dir: str = "seld") -> tuple[int, dict[str, dict[str, float]]]:
    """``(seed, {mode or method: {column key: value}})`` of one demo run (NaN: not measured).

    Raises:
        FileNotFoundError: a mode's ``metrics.json`` is missing (the run did not finish).
    """
    rows: dict[str, dict[str, float]] = {}
    seed = None
    unmeasured = {p: {"azimuth_error_mean": math.nan} for p in (1, 2)}  # no oracle_doa.json: a plain seld run
    for mode in MODES:
        path = run / seld_dir / mode / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no metrics of mode {mode} (an unfinished run, or the wrong --seld-dir)")
        m = json.loads(path.read_text())
        if seed is not None and m["run"]["seed"] != seed:
            raise ValueError(f"{path}: seed {m['run']['seed']}, but the other modes of {run} have {seed}")
        seed = m["run"]["seed"]
        oracle = path.parent / "oracle_doa.json"
        doa = {int(p): v for p, v in json.loads(oracle.read_text()).items()} if oracle.is_file() else unmeasured
        values = learned_row(mode, m, doa).values
        rows[mode] = {k: math.nan if v is None else float(v) for k, v in values.items()}  # JSON null: undefined
    for method in CLASSICAL:
        path = run / "classical" / f"{method}.json"
        if path.is_file():
            poly = {int(p): v for p, v in json.loads(path.read_text())["polyphony"].items()}
            rows[method] = classical_row(method, {"polyphony": poly}).values
    return seed, rows


def summary(values: list[float], key: str) -> str:
    """``mean +- sd [min, max]`` over the measured values (sd with ddof 1), with how many seeds measured one when
    some did not (DOAE_CD is undefined for a run that detects nothing); ``-`` when none did."""
    all_values = np.asarray(values, float)
    v = all_values[np.isfinite(all_values)]
    if not len(v):
        return "-"
    sd = v.std(ddof=1) if len(v) > 1 else math.nan
    text = f"{cell(v.mean(), key)} +- {cell(sd, key)} [{cell(v.min(), key)}, {cell(v.max(), key)}]"
    return text if len(v) == len(all_values) else f"{text} ({len(v)} of {len(all_values)} seeds)"


def verdicts(runs: dict[int, dict[str, dict[str, float]]]) -> list[tuple[str, str, str]]:
    """``(claim, evidence, verdict)`` rows of issue 17's requirement and targets."""
    seeds = sorted(runs)
    f20 = {mode: np.array([runs[s][mode]["F20"] for s in seeds]) for mode in MODES}
    diff = f20["finetune"] - f20["scratch"]
    spread = max(f20["finetune"].std(ddof=1), f20["scratch"].std(ddof=1)) if len(seeds) > 1 else math.nan
    out = [("Requirement: fine-tune beats scratch on F20 in every seed, by more than the seed-to-seed spread",
            f"differences {', '.join(f'{d:+.3f}' for d in diff)}; spread (larger sd) {spread:.3f}",
            "met" if (diff > spread).all() else "missed")]
    lin = f20["linear"] - f20["scratch"]
    out.append(("Target: linear probe beats scratch on F20 in every seed",
                f"differences {', '.join(f'{d:+.3f}' for d in lin)}", "met" if (lin > 0).all() else "missed"))
    if all("srp-phat" in runs[s] for s in seeds):
        srp = np.array([runs[s]["srp-phat"]["az_p2"] for s in seeds])
        for mode in ("linear", "scratch", "finetune"):  # the random encoder is a control, not a method
            az = np.array([runs[s][mode]["az_p2"] for s in seeds])
            if not np.isfinite(az).all():
                continue
            wins = int((az < srp).sum())
            verdict = ("met in every seed" if wins == len(seeds) else
                       "met as a mean, not in every seed" if az.mean() < srp.mean() else "missed")
            out.append((f"Target: {mode} oracle azimuth error at polyphony 2 below SRP-PHAT's",
                        f"{az.mean():.1f} vs {srp.mean():.1f} deg as means; below in {wins} of {len(seeds)} seeds",
                        verdict))
    return out


def tables(runs: dict[int, dict[str, dict[str, float]]]) -> str:
    seeds = sorted(runs)
    names = [n for n in (*MODES, *CLASSICAL) if all(n in runs[s] for s in seeds)]
    head = " | ".join(title for _, title in COLUMNS)
    lines = [f"| mode | seed | {head} |", "|---|---|" + "---:|" * len(COLUMNS)]
    for name in names:
        for s in seeds:
            lines.append(f"| {name} | {s} | " + " | ".join(cell(runs[s][name][k], k) for k, _ in COLUMNS) + " |")
    lines += ["", f"Across the {len(seeds)} seeds: mean +- standard deviation (ddof 1) [min, max]:", "",
              f"| mode | {head} |", "|---|" + "---:|" * len(COLUMNS)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(summary([runs[s][name][k] for s in seeds], k)
                                               for k, _ in COLUMNS) + " |")
    lines += ["", f"Paired differences of test F20 per seed ({', '.join(map(str, seeds))}): " + "; ".join(
        f"{a} - {b} " + ", ".join(f"{runs[s][a]['F20'] - runs[s][b]['F20']:+.3f}" for s in seeds)
        for a, b in PAIRS) + ".", "", "| | result | verdict |", "|---|---|---|"]
    lines += [f"| {claim} | {evidence} | **{verdict}** |" for claim, evidence, verdict in verdicts(runs)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="demo output directories, one per seed")
    parser.add_argument("--seld-dir", default="seld", help="subdirectory of each run holding <mode>/metrics.json")
    args = parser.parse_args(argv)
    runs: dict[int, dict[str, dict[str, float]]] = {}
    for run in args.runs:
        try:
            seed, rows = read_run(run, args.seld_dir)
        except (FileNotFoundError, ValueError) as err:
            parser.error(str(err))
        if seed in runs:
            parser.error(f"{run}: seed {seed} appears twice")
        runs[seed] = rows
    print(tables(runs), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
