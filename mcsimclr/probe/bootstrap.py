"""Intervals for the margin of probe A over probe B across test clips and seeds: a two-level percentile bootstrap.

Each seed ``s`` contributes one pair of results scored on one test split of ``n_s`` clips, paired per clip
(:func:`mcsimclr.probe.margin.paired_scores`; seeds may have different splits and clip counts). The statistics,
each seed weighing the same whatever its clip count:

- accuracy margin (points): the mean over seeds of ``100 * mean_i (correct_a - correct_b)``;
- azimuth margin (degrees): the mean over seeds of ``mean_i (error_a - error_b)``;
- azimuth ratio: the seed-averaged mean azimuth error of ``a`` over that of ``b``,
  ``(1/S sum_s mean_i error_a) / (1/S sum_s mean_i error_b)`` (one ratio of pooled means, not a mean of ratios).

The interval resamples both stages (Davison & Hinkley 1997, *Bootstrap Methods*, section 3.8): draw ``S`` seeds
with replacement, then for every drawn seed its ``n_s`` clips with replacement (independently each time a seed is
drawn), recompute the statistics; the interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
``n_boot`` such resamples. With one seed it is the clip bootstrap. With few seeds the seed stage can take only a
few distinct values (3 seeds: 10 multisets), so the interval spans about the range of the seeds' margins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mcsimclr.probe.margin import Margin, margin_of, paired_scores
from mcsimclr.probe.result_dir import RESULT_FILE, read_result

CHUNK_ELEMENTS = 1 << 22  # clip draws per block of the count matrix (32 MiB of int64)


@dataclass(frozen=True)
class SeedMargin:
    """``a - b`` over seeds: point estimates, percentile intervals at ``level``, per-seed margins and their spread.

    ``accuracy`` in points, ``azimuth`` in degrees, ``ratio_azimuth`` dimensionless (see the module docstring);
    each ``*_ci`` is ``(low, high)``. ``accuracy_seed_std``/``azimuth_seed_std``: standard deviation
    (``ddof=1``) of the per-seed margins, NaN with one seed.
    """

    n_clips: tuple[int, ...]
    level: float
    n_boot: int
    resample_seeds: bool
    accuracy: float
    accuracy_ci: tuple[float, float]
    azimuth: float
    azimuth_ci: tuple[float, float]
    ratio_azimuth: float
    ratio_azimuth_ci: tuple[float, float]
    per_seed: tuple[Margin, ...]
    seeds: tuple[int | None, ...] = field(default=())
    sources: tuple[tuple[str, str], ...] = field(default=())

    @property
    def n_seeds(self) -> int:
        return len(self.n_clips)

    @property
    def accuracy_seed_std(self) -> float:
        return _std([m.accuracy for m in self.per_seed])

    @property
    def azimuth_seed_std(self) -> float:
        return _std([m.azimuth for m in self.per_seed])

    def text(self) -> str:
        """One line: the margins with their intervals, then each seed's and the spread across seeds."""
        pct = f"{100 * self.level:g} %"
        (al, ah), (zl, zh), (rl, rh) = self.accuracy_ci, self.azimuth_ci, self.ratio_azimuth_ci
        seeds = self.seeds or (None,) * self.n_seeds
        per_seed = ", ".join(f"{'' if s is None else f'seed {s}: '}{m.accuracy:+.1f} points / {m.azimuth:+.1f} deg "
                             f"(x{m.ratio_azimuth:.2f}, {m.n} clips)"
                             for s, m in zip(seeds, self.per_seed, strict=True))
        line = (f"accuracy {self.accuracy:+.1f} points [{pct} CI {al:+.1f}, {ah:+.1f}], azimuth error "
                f"{self.azimuth:+.1f} deg [{zl:+.1f}, {zh:+.1f}] (x{self.ratio_azimuth:.2f} [{rl:.2f}, {rh:.2f}]); "
                f"per seed: {per_seed}")
        if self.n_seeds > 1:
            acc, az = [m.accuracy for m in self.per_seed], [m.azimuth for m in self.per_seed]
            line += (f"; across seeds: accuracy std {self.accuracy_seed_std:.1f} points (range {min(acc):+.1f} .. "
                     f"{max(acc):+.1f}), azimuth error std {self.azimuth_seed_std:.1f} deg (range {min(az):+.1f} .. "
                     f"{max(az):+.1f})")
        return line

    def to_dict(self) -> dict:
        """Everything above as plain Python values (a seed's NaN standard error stays NaN; see
        :func:`write_margin_json`)."""
        return {"level": self.level, "n_boot": self.n_boot, "resample_seeds": self.resample_seeds,
                "n_seeds": self.n_seeds, "n_clips": list(self.n_clips),
                "accuracy": self.accuracy, "accuracy_ci": list(self.accuracy_ci),
                "azimuth": self.azimuth, "azimuth_ci": list(self.azimuth_ci),
                "ratio_azimuth": self.ratio_azimuth, "ratio_azimuth_ci": list(self.ratio_azimuth_ci),
                "accuracy_seed_std": self.accuracy_seed_std, "azimuth_seed_std": self.azimuth_seed_std,
                "per_seed": [{"seed": s, "a": a, "b": b, "n": m.n, "accuracy": m.accuracy,
                              "accuracy_se": m.accuracy_se, "azimuth": m.azimuth, "azimuth_se": m.azimuth_se,
                              "ratio_azimuth": m.ratio_azimuth}
                             for m, s, (a, b) in zip(self.per_seed, self.seeds or (None,) * self.n_seeds,
                                                     self.sources or (("", ""),) * self.n_seeds, strict=True)]}


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def bootstrap_margin(pairs: Sequence[tuple[str | Path, str | Path]], *, n_boot: int = 10000, level: float = 0.95,
                     seed: int = 0, resample_seeds: bool = True) -> SeedMargin:
    """The margin of results ``a`` over ``b`` over seeds, one ``(a, b)`` pair of result directories (or
    ``predictions.csv`` files) per seed, with two-level bootstrap intervals (module docstring).

    Args:
        pairs: ``[(a_seed0, b_seed0), (a_seed1, b_seed1), ...]``; each pair scored on the same test clips.
        n_boot: number of resamples.
        level: coverage of the intervals, in (0, 1).
        seed: seed of the resampling (same inputs and seed: same intervals).
        resample_seeds: ``False`` resamples clips within each seed only (the seeds fixed).

    Raises:
        ValueError: no pairs, a pair that is not two paths, bad ``n_boot``/``level``, or a pair evaluated on
            different test clips (naming both).
        FileNotFoundError: a result without ``predictions.csv``.
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("bootstrap_margin needs at least one (a, b) pair of probe results (one per seed), got none")
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, Path)) or len(pair) != 2:
            raise ValueError(f"pair {i}: expected (a, b), two result directories, got {pair!r}")
    scores = [paired_scores(a, b) for a, b in pairs]
    result = bootstrap_scores(scores, n_boot=n_boot, level=level, seed=seed, resample_seeds=resample_seeds)
    seeds = tuple(_run(a).get("seed") for a, _ in pairs)
    return replace(result, seeds=seeds, sources=tuple((str(a), str(b)) for a, b in pairs))


def bootstrap_scores(scores: Sequence[tuple[np.ndarray, np.ndarray]], *, n_boot: int = 10000, level: float = 0.95,
                     seed: int = 0, resample_seeds: bool = True) -> SeedMargin:
    """:func:`bootstrap_margin` of per-clip score arrays: one ``(a, b)`` per seed, each ``(n_s, 2)`` (column 0
    correct in [0, 1], column 1 azimuth error in degrees; rows of ``a`` and ``b`` the same clips)."""
    if not scores:
        raise ValueError("bootstrap_scores needs the scores of at least one seed, got none")
    if not (isinstance(n_boot, int) and n_boot >= 1):
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95, got {level!r}")
    empty = [i for i, (a, b) in enumerate(scores) if min(np.size(a), np.size(b)) == 0]
    if empty:
        raise ValueError(f"pair {empty[0]} has no clips; every seed needs at least one test clip")
    per_seed = tuple(margin_of(a, b) for a, b in scores)  # checks the shapes
    tables = [_seed_table(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)) for a, b in scores]
    n_seeds = len(tables)
    rng = np.random.default_rng(seed)
    if resample_seeds and n_seeds > 1:  # one seed: nothing to draw, the clip bootstrap exactly
        pick = rng.integers(0, n_seeds, size=(n_boot, n_seeds))  # (n_boot, slots): which seed fills each slot
    else:
        pick = np.broadcast_to(np.arange(n_seeds), (n_boot, n_seeds))
    slot_means = np.empty((n_boot, n_seeds, 4))  # (n_boot, slots, [d_correct, d_error, error_a, error_b])
    for s, table in enumerate(tables):
        where = pick == s
        slot_means[where] = _resampled_means(table, int(where.sum()), rng)
    stats = _statistics(slot_means.mean(axis=1))  # (n_boot, 3)
    point = _statistics(np.stack([t.mean(axis=0) for t in tables]).mean(axis=0)[None])[0]
    low, high = np.quantile(stats, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
    ci = [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]
    return SeedMargin(n_clips=tuple(len(t) for t in tables), level=level, n_boot=n_boot,
                      resample_seeds=resample_seeds, accuracy=float(point[0]), accuracy_ci=ci[0],
                      azimuth=float(point[1]), azimuth_ci=ci[1], ratio_azimuth=float(point[2]),
                      ratio_azimuth_ci=ci[2], per_seed=per_seed)


def _seed_table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n, 4)``: per clip ``correct_a - correct_b``, ``error_a - error_b``, ``error_a``, ``error_b``."""
    return np.stack([a[:, 0] - b[:, 0], a[:, 1] - b[:, 1], a[:, 1], b[:, 1]], axis=1)


def _resampled_means(table: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``(count, 4)`` column means of ``count`` resamples of the rows of ``table`` ``(n, 4)``, each ``n`` rows
    drawn with replacement: the draws become a count matrix ``(block, n)`` (``np.bincount`` of offset indices),
    and its product with ``table`` gives the sums, in blocks of at most :data:`CHUNK_ELEMENTS` draws."""
    n = len(table)
    out = np.empty((count, table.shape[1]))
    block = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, count, block):
        m = min(block, count - start)
        idx = rng.integers(0, n, size=(m, n)) + (np.arange(m) * n)[:, None]  # (m, n): row r's draws offset r * n
        counts = np.bincount(idx.ravel(), minlength=m * n).reshape(m, n)
        out[start:start + m] = counts @ table / n
    return out


def _statistics(means: np.ndarray) -> np.ndarray:
    """``(r, 3)`` accuracy margin (points), azimuth margin (deg), azimuth ratio from seed-averaged means ``(r, 4)``."""
    return np.stack([100.0 * means[:, 0], means[:, 1], means[:, 2] / np.maximum(means[:, 3], 1e-12)], axis=1)


def _run(path: str | Path) -> dict:
    """The ``run`` block of a result directory's ``metrics.json``; ``{}`` for a bare ``predictions.csv``."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    return read_result(directory)["run"] if (directory / RESULT_FILE).is_file() else {}


def result_name(paths: Sequence[str | Path]) -> str:
    """What a side of the comparison is, for the printed line: the modes in its results' ``metrics.json``
    (``"linear"``), else the directory names."""
    names = [_run(p).get("mode") or Path(p).name for p in paths]
    return "/".join(dict.fromkeys(names))


def write_margin_json(result: SeedMargin, path: str | Path) -> Path:
    """Write ``result.to_dict()`` to ``path`` as JSON (NaN as ``null``), through a temporary file renamed when
    complete, so that an interrupted write leaves no file that looks whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def safe(value):
        if isinstance(value, dict):
            return {k: safe(v) for k, v in value.items()}
        if isinstance(value, list):
            return [safe(v) for v in value]
        return None if isinstance(value, float) and not math.isfinite(value) else value

    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps({"format": "mcsimclr.margin", "version": 1, **safe(result.to_dict())}, indent=1,
                              allow_nan=False) + "\n")
    tmp.replace(path)
    return path
