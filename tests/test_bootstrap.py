"""The two-level bootstrap of a margin over test clips and seeds, against theory, and the `mcsimclr margin` CLI."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mcsimclr.cli import main
from mcsimclr.probe.bootstrap import bootstrap_margin, bootstrap_scores
from mcsimclr.probe.margin import margin_of

FIELDS = ["clip", "label", "predicted", "azimuth_deg", "rt60_measured", "distance_m", "predicted_azimuth_deg"]


def scores(rng: np.random.Generator, n: int, *, p: float, error_mean: float, error_sd: float = 10.0) -> np.ndarray:
    """``(n, 2)`` per-clip scores: correct with probability ``p``, azimuth error ~ N(mean, sd) clipped to [0, 180]."""
    return np.stack([(rng.random(n) < p).astype(float),
                     np.clip(rng.normal(error_mean, error_sd, n), 0.0, 180.0)], axis=1)


def write(path: Path, s: np.ndarray, *, clips: np.ndarray | None = None) -> Path:
    """A result directory whose predictions.csv has per-clip scores ``s`` ``(n, 2)`` (true azimuth 0, the
    predicted one at the error; wrong clips predict class 1 for class 0)."""
    path.mkdir(parents=True)
    with open(path / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        for i, (correct, error) in zip(range(len(s)) if clips is None else clips, s, strict=True):
            w.writerow([i, 0, 0 if correct else 1, 0.0, 0.5, 2.0, error])
    return path


def test_one_seed_matches_the_normal_interval_of_a_large_paired_sample():
    rng = np.random.default_rng(0)
    a, b = scores(rng, 4000, p=0.6, error_mean=20.0), scores(rng, 4000, p=0.5, error_mean=30.0, error_sd=20.0)
    m = margin_of(a, b)
    boot = bootstrap_scores([(a, b)], n_boot=10000, seed=1)
    for point, se, (lo, hi), value in ((m.accuracy, m.accuracy_se, boot.accuracy_ci, boot.accuracy),
                                       (m.azimuth, m.azimuth_se, boot.azimuth_ci, boot.azimuth)):
        assert value == pytest.approx(point)
        assert (hi - lo) / 2 == pytest.approx(1.96 * se, rel=0.05)  # mean +- 1.96 SE
        assert (hi + lo) / 2 == pytest.approx(point, abs=0.1 * se)
    assert boot.ratio_azimuth == pytest.approx(a[:, 1].mean() / b[:, 1].mean())
    lo, hi = boot.ratio_azimuth_ci
    assert lo < boot.ratio_azimuth < hi
    # with one seed, drawing seeds changes nothing: the same resamples as the clip bootstrap
    clip_only = bootstrap_scores([(a, b)], n_boot=500, seed=3, resample_seeds=False)
    assert replace(bootstrap_scores([(a, b)], n_boot=500, seed=3), resample_seeds=False) == clip_only


def test_constant_differences_give_zero_width_intervals():
    rng = np.random.default_rng(1)
    pairs = []
    for n in (300, 500):  # two seeds, different clip counts, the same constant differences
        b = scores(rng, n, p=0.0, error_mean=50.0)
        a = np.stack([np.ones(n), b[:, 1] - 5.0], axis=1)
        pairs.append((a, b))
    boot = bootstrap_scores(pairs, n_boot=2000)
    assert boot.accuracy == pytest.approx(100.0) and boot.azimuth == pytest.approx(-5.0)
    assert boot.accuracy_ci == pytest.approx((100.0, 100.0), abs=1e-9)
    assert boot.azimuth_ci == pytest.approx((-5.0, -5.0), abs=1e-9)
    assert boot.accuracy_seed_std == pytest.approx(0.0, abs=1e-9) and boot.n_clips == (300, 500)


def test_the_two_level_interval_is_wider_and_covers_the_seed_spread():
    rng = np.random.default_rng(2)
    pairs = [(scores(rng, 800, p=0.5 + shift, error_mean=20.0 - 20 * shift), scores(rng, 800, p=0.4, error_mean=40.0))
             for shift in (0.0, 0.1, 0.2)]
    both = bootstrap_scores(pairs, n_boot=10000)
    clips = bootstrap_scores(pairs, n_boot=10000, resample_seeds=False)
    assert both.accuracy == pytest.approx(clips.accuracy) == pytest.approx(np.mean([m.accuracy for m in both.per_seed]))
    accuracy = [m.accuracy for m in both.per_seed]
    azimuth = [m.azimuth for m in both.per_seed]
    se_acc = max(m.accuracy_se for m in both.per_seed)
    se_az = max(m.azimuth_se for m in both.per_seed)
    for (lo, hi), (clo, chi), values, se in ((both.accuracy_ci, clips.accuracy_ci, accuracy, se_acc),
                                             (both.azimuth_ci, clips.azimuth_ci, azimuth, se_az)):
        assert hi - lo > 2.0 * (chi - clo)
        assert lo <= min(values) + se and hi >= max(values) - se  # about the range of the seeds' margins
        # the seed stage alone spreads the mean of 3 drawn seeds with standard deviation std(values) / sqrt(3)
        assert (hi - lo) / 2 > 1.96 * np.std(values) / np.sqrt(3)
    assert both.accuracy_seed_std == pytest.approx(np.std(accuracy, ddof=1))


def test_resampling_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    pairs = [(scores(rng, 200, p=0.6, error_mean=20.0), scores(rng, 200, p=0.5, error_mean=30.0)) for _ in range(3)]
    first, again = bootstrap_scores(pairs, n_boot=3000, seed=7), bootstrap_scores(pairs, n_boot=3000, seed=7)
    assert first == again
    assert bootstrap_scores(pairs, n_boot=3000, seed=8).accuracy_ci != first.accuracy_ci


def test_bootstrap_of_result_directories_and_its_errors(tmp_path):
    rng = np.random.default_rng(4)
    pairs, arrays = [], []
    for s, n in enumerate((120, 80)):  # different test splits per seed
        a, b = scores(rng, n, p=0.7, error_mean=15.0), scores(rng, n, p=0.5, error_mean=35.0)
        pairs.append((write(tmp_path / f"a{s}", a), write(tmp_path / f"b{s}", b)))
        arrays.append((a, b))
    boot = bootstrap_margin(pairs, n_boot=1000, seed=5)
    expect = bootstrap_scores(arrays, n_boot=1000, seed=5)
    assert boot.accuracy_ci == pytest.approx(expect.accuracy_ci)
    assert boot.azimuth_ci == pytest.approx(expect.azimuth_ci, abs=1e-6)  # the CSV stores the errors as text
    assert boot.sources == tuple((str(a), str(b)) for a, b in pairs) and boot.seeds == (None, None)
    other = write(tmp_path / "other", scores(rng, 120, p=0.5, error_mean=35.0), clips=np.arange(1, 121))
    with pytest.raises(ValueError, match=rf"{tmp_path / 'a0'} and {other} were evaluated on different test clips"):
        bootstrap_margin([(pairs[0][0], other)], n_boot=10)
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_margin([], n_boot=10)
    with pytest.raises(ValueError, match=r"pair 0: expected \(a, b\)"):
        bootstrap_margin([str(pairs[0][0])], n_boot=10)
    with pytest.raises(ValueError, match="level must be in"):
        bootstrap_margin(pairs, level=95.0)
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        bootstrap_margin(pairs, n_boot=0)
    with pytest.raises(ValueError, match="pair 1 has no clips"):
        bootstrap_scores([arrays[0], (np.zeros((0, 2)), np.zeros((0, 2)))], n_boot=10)


def test_margin_command_prints_and_writes_the_intervals(tmp_path, capsys):
    rng = np.random.default_rng(5)
    a_dirs, b_dirs = [], []
    for s in range(3):
        a_dirs.append(str(write(tmp_path / f"linear{s}", scores(rng, 100, p=0.7, error_mean=15.0))))
        b_dirs.append(str(write(tmp_path / f"random{s}", scores(rng, 100, p=0.5, error_mean=35.0))))
    out = tmp_path / "margin.json"
    assert main(["margin", "--a", *a_dirs, "--b", *b_dirs, "--n-boot", "500", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    expect = bootstrap_margin(list(zip(a_dirs, b_dirs, strict=True)), n_boot=500)
    assert printed.startswith(f"linear0/linear1/linear2 vs random0/random1/random2 over 3 seeds: {expect.text()}")
    assert "[95 % CI " in printed and "across seeds: accuracy std" in printed
    doc = json.loads(out.read_text())
    assert doc["format"] == "mcsimclr.margin" and doc["n_seeds"] == 3 and doc["n_boot"] == 500
    assert doc["accuracy_ci"] == pytest.approx(list(expect.accuracy_ci))
    assert [p["a"] for p in doc["per_seed"]] == a_dirs
    assert not list(tmp_path.glob("*.partial"))
    assert main(["margin", "--a", *a_dirs, "--b", *b_dirs[:2]]) == 2
    assert "3 --a results and 2 --b results" in capsys.readouterr().err
    assert main(["margin", "--a", a_dirs[0], "--b", str(tmp_path / "nothing")]) == 2
    assert "no predictions.csv" in capsys.readouterr().err


@pytest.mark.slow
def test_margin_of_real_probe_results_matches_their_metrics(tmp_path, capsys):
    """Two seeds of the tiny random-linear probe with recomputed vs stored BatchNorm statistics (about 30 s): the
    per-seed margins are the differences of the results' own test metrics, and the report states both protocols."""
    from mcsimclr.probe.report import build_table, collect
    from mcsimclr.probe.result_dir import read_result
    from simulate.cli import main as simulate

    data = tmp_path / "data"
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(data), "--no-progress"]) == 0
    dirs: dict[str, list[str]] = {"recompute": [], "stored": []}
    for seed in ("0", "1"):
        for bn in dirs:
            out = tmp_path / "probes" / f"{bn}-s{seed}"
            assert main(["probe", "--config", "configs/probe/tiny.yaml", "--mode", "random-linear", "--seed", seed,
                         f"data.train={data / 'clean_train.h5'}", f"data.test={data / 'test.h5'}",
                         f"linear.bn_stats={bn}", "--out", str(out)]) == 0
            dirs[bn].append(str(out))
    capsys.readouterr()
    assert main(["margin", "--a", *dirs["recompute"], "--b", *dirs["stored"], "--n-boot", "2000"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("random-linear vs random-linear over 2 seeds: accuracy ")
    boot = bootstrap_margin(list(zip(dirs["recompute"], dirs["stored"], strict=True)), n_boot=2000)
    assert boot.seeds == (0, 1) and printed.strip().endswith(boot.text())
    for m, a, b in zip(boot.per_seed, dirs["recompute"], dirs["stored"], strict=True):
        ra, rb = read_result(a), read_result(b)
        assert m.n == ra["n_clips"] == rb["n_clips"]
        assert m.accuracy == pytest.approx(ra["accuracy"] - rb["accuracy"])
        assert m.azimuth == pytest.approx(ra["azimuth_error_mean"] - rb["azimuth_error_mean"], abs=1e-6)
    assert boot.accuracy == pytest.approx(np.mean([m.accuracy for m in boot.per_seed]))
    assert boot.accuracy_ci[0] <= boot.accuracy <= boot.accuracy_ci[1]
    md = build_table(collect([tmp_path / "probes"])).to_markdown()
    assert "mixed protocols pooled in one cell" in md
    assert "recompute (from the probe's training windows) (2 results)" in md
