"""The report states the random encoder's protocol (draws per seed, BatchNorm statistics) of random-linear rows,
read from result directories as `mcsimclr probe` writes them; the margin reads the K-draw predictions."""

from __future__ import annotations

import numpy as np
import pytest

from mcsimclr.probe.margin import paired_margin
from mcsimclr.probe.metrics import probe_metrics
from mcsimclr.probe.report import build_table, collect
from mcsimclr.probe.result_dir import ResultError, write_result
from mcsimclr.probe.setting import BASELINE_SETTING

CLASSES = ["dog", "bell"]
OURS = "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"
ENCODER = {"branches": "joint", "embed_dim": 16}


def write(out, *, mode: str, seed: int, predicted: np.ndarray, predicted_azimuth: np.ndarray, **run) -> dict:
    """A result directory of ``mode`` on 4 test clips; ``predicted`` ``(draws, 4)`` (one row: no draw column)."""
    draws = len(predicted)
    label, azimuth = np.array([0, 1, 0, 1]), np.array([0.0, 90.0, -90.0, 180.0])
    per_draw = [probe_metrics(predicted=p, label=label, predicted_azimuth=pa, azimuth=azimuth,
                              rt60=np.full(4, 0.4), distance=np.full(4, 2.0), class_names=CLASSES)
                for p, pa in zip(predicted, predicted_azimuth, strict=True)]
    metrics = dict(per_draw[0])
    for key in ("accuracy", "azimuth_error_mean", "azimuth_error_median"):
        metrics[key] = float(np.mean([m[key] for m in per_draw]))
    predictions = {"clip": np.tile(np.arange(4), draws), "label": np.tile(label, draws),
                   "predicted": predicted.ravel(), "azimuth_deg": np.tile(azimuth, draws),
                   "rt60_measured": np.full(4 * draws, 0.4), "distance_m": np.full(4 * draws, 2.0),
                   "predicted_azimuth_deg": predicted_azimuth.ravel()}
    if draws > 1:  # the K-draw format of random-linear: a draw column, one row per (draw, clip)
        predictions = {"draw": np.repeat(np.arange(draws), 4), **predictions}
        metrics["draws"] = [{"draw": k, "encoder_seed": 1000 + k, **{key: m[key] for key in (
            "accuracy", "azimuth_error_mean", "azimuth_error_median")}} for k, m in enumerate(per_draw)]
    setting = BASELINE_SETTING if mode == "random-linear" else OURS
    metrics["run"] = {"mode": mode, "setting": setting, "fraction": 1.0, "seed": seed, "encoder": ENCODER,
                      "features": {"n_mels": 64}, **run}
    write_result(out, metrics=metrics, config_yaml="mode: x\n", history=[], predictions=predictions,
                 class_names=CLASSES, state=None)
    return metrics


def test_random_linear_rows_state_draws_and_batchnorm_statistics(tmp_path):
    good = np.array([[0, 1, 0, 1]])
    write(tmp_path / "lin0", mode="linear", seed=0, predicted=good, predicted_azimuth=np.array([[10.0, 90, -90, 180]]))
    # 3 draws on seed 0: right on 4, 2 and 0 clips; azimuth errors 30, 60, 90 deg on every clip
    predicted = np.array([[0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 1, 0]])
    errors = np.array([30.0, 60.0, 90.0])[:, None]
    rand0 = write(tmp_path / "rand0", mode="random-linear", seed=0, predicted=predicted,
                  predicted_azimuth=np.array([0.0, 90.0, -90.0, 180.0]) + errors, random_draws=3, bn_stats="stored")
    assert rand0["accuracy"] == pytest.approx(50.0) and rand0["azimuth_error_mean"] == pytest.approx(60.0)
    md = build_table(collect([tmp_path])).to_markdown()
    assert (f"**{BASELINE_SETTING}**, LP: random encoder: 3 draws per seed (mean over draws per seed), BatchNorm "
            "statistics: stored (mean 0, variance 1 at initialisation).") in md
    assert md.count("random encoder:") == 1  # the linear row has no such note

    # the margin pairs the linear probe with the mean over the 3 draws, clip by clip
    m = paired_margin(tmp_path / "lin0", tmp_path / "rand0")
    assert m.n == 4 and m.accuracy == pytest.approx(100.0 - rand0["accuracy"])
    assert m.azimuth == pytest.approx(2.5 - rand0["azimuth_error_mean"])

    # a second seed with the recomputed statistics: the row mixes two protocols, and says so
    write(tmp_path / "rand1", mode="random-linear", seed=1, predicted=good, predicted_azimuth=good * 0.0,
          random_draws=3, bn_stats="recompute")
    md = build_table(collect([tmp_path])).to_markdown()
    assert (f"**{BASELINE_SETTING}**, LP, mixed protocols pooled in one cell: random encoder: 3 draws per seed (mean "
            "over draws per seed), BatchNorm statistics: stored (mean 0, variance 1 at initialisation) (1 result); "
            "random encoder: 3 draws per seed (mean over draws per seed), BatchNorm statistics: recompute (from the "
            "probe's training windows) (1 result).") in md


def test_results_without_the_protocol_keys_are_one_draw_with_stored_statistics(tmp_path):
    for seed in (0, 1):
        write(tmp_path / f"rand{seed}", mode="random-linear", seed=seed, predicted=np.array([[0, 1, 0, 1]]),
              predicted_azimuth=np.zeros((1, 4)))
    md = build_table(collect([tmp_path])).to_markdown()
    assert (f"**{BASELINE_SETTING}**, LP: random encoder: 1 draw per seed, BatchNorm statistics: stored (mean 0, "
            "variance 1 at initialisation).") in md


def test_a_bad_protocol_value_is_an_error_naming_the_result(tmp_path):
    write(tmp_path / "rand0", mode="random-linear", seed=4, predicted=np.array([[0, 1, 0, 1]]),
          predicted_azimuth=np.zeros((1, 4)), bn_stats="fresh")
    with pytest.raises(ResultError, match=r"random-linear fraction 1.0 seed 4: run.bn_stats 'fresh', expected one "
                       r"of \['recompute', 'stored'\]"):
        build_table(collect([tmp_path]))
    write(tmp_path / "rand1", mode="random-linear", seed=5, predicted=np.array([[0, 1, 0, 1]]),
          predicted_azimuth=np.zeros((1, 4)), random_draws=0)
    with pytest.raises(ResultError, match=r"seed 5: run.random_draws 0, expected a positive integer"):
        build_table(collect([tmp_path / "rand1"]))
