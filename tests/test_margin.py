"""The paired margin between two probes' predictions on the same test clips."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from mcsimclr.probe.margin import paired_margin

FIELDS = ["clip", "label", "predicted", "azimuth_deg", "rt60_measured", "distance_m", "predicted_azimuth_deg"]


def write(path: Path, rows: list[tuple[int, int, float, float]]) -> Path:
    """rows: (label, predicted, true azimuth, predicted azimuth) per clip."""
    path.mkdir()
    with open(path / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        for i, (label, pred, az, paz) in enumerate(rows):
            w.writerow([i, label, pred, az, 0.5, 2.0, paz])
    return path


def test_margin_is_the_mean_paired_difference_with_its_standard_error(tmp_path):
    # a: right on clips 0-2, wrong on 3; b: right on clip 0 only. Azimuth errors a: 10, 10, 10, 10 (one across
    # the +-180 wrap), b: 30, 50, 10, 70.
    a = write(tmp_path / "a", [(0, 0, 0.0, 10.0), (1, 1, 175.0, -175.0), (2, 2, -90.0, -80.0), (3, 0, 0.0, -10.0)])
    b = write(tmp_path / "b", [(0, 0, 0.0, 30.0), (1, 2, 175.0, 125.0), (2, 0, -90.0, -100.0), (3, 1, 0.0, 70.0)])
    m = paired_margin(a, b)
    acc_diff = [0.0, 1.0, 1.0, 0.0]
    az_diff = [-20.0, -40.0, 0.0, -60.0]

    def se(xs: list[float]) -> float:
        mean = sum(xs) / len(xs)
        return math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) / len(xs))

    assert m.n == 4
    assert m.accuracy == pytest.approx(50.0) and m.accuracy_se == pytest.approx(100 * se(acc_diff))
    assert m.azimuth == pytest.approx(-30.0) and m.azimuth_se == pytest.approx(se(az_diff))
    assert m.ratio_azimuth == pytest.approx(10.0 / 40.0)
    assert "+50.0" in m.text() and "4 test clips" in m.text()


def test_margin_refuses_different_test_clips_and_missing_results(tmp_path):
    a = write(tmp_path / "a", [(0, 0, 0.0, 0.0), (1, 1, 0.0, 0.0)])
    b = write(tmp_path / "b", [(0, 0, 0.0, 0.0)])
    with pytest.raises(ValueError, match="different test clips"):
        paired_margin(a, b)
    with pytest.raises(FileNotFoundError, match=r"no predictions\.csv"):
        paired_margin(a, tmp_path / "nothing")


def write_draws(path: Path, draws: list[list[tuple[int, int, float, float]]], *, clips: list[list[int]] | None = None
                ) -> Path:
    """A random-linear result with K draws: one row per (draw, clip), rows as in ``write``."""
    path.mkdir()
    with open(path / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["draw", *FIELDS])
        for k, rows in enumerate(draws):
            ids = clips[k] if clips else range(len(rows))
            for i, (label, pred, az, paz) in zip(ids, rows, strict=True):
                w.writerow([k, i, label, pred, az, 0.5, 2.0, paz])
    return path


def test_several_draws_score_each_clip_by_its_mean_over_the_draws(tmp_path):
    a = write(tmp_path / "a", [(0, 0, 0.0, 10.0), (1, 1, 0.0, 20.0)])
    # draw 0: right on clip 0 (error 30), wrong on 1 (error 40); draw 1: wrong on 0 (error 50), wrong on 1 (60).
    # Rows of draw 1 come in the other clip order, which must not matter.
    b = write_draws(tmp_path / "b", [[(0, 0, 0.0, 30.0), (1, 0, 0.0, -40.0)], [(1, 2, 0.0, 60.0), (0, 1, 0.0, 50.0)]],
                    clips=[[0, 1], [1, 0]])
    m = paired_margin(a, b)
    # b per clip: correct 0.5 and 0.0, errors 40 and 50; so the differences are 0.5 and 1.0, -30 and -30.
    assert m.n == 2
    assert m.accuracy == pytest.approx(75.0) and m.accuracy_se == pytest.approx(25.0)
    assert m.azimuth == pytest.approx(-30.0) and m.azimuth_se == pytest.approx(0.0)
    assert m.ratio_azimuth == pytest.approx(15.0 / 45.0)
    # the same as the margin over the draws' mean accuracy (25 %) and mean azimuth error (45 deg)
    assert m.accuracy == pytest.approx(100.0 - 25.0)


def test_draws_must_cover_the_same_clips_once_each(tmp_path):
    a = write(tmp_path / "a", [(0, 0, 0.0, 0.0), (1, 1, 0.0, 0.0)])
    rows = [(0, 0, 0.0, 0.0), (1, 1, 0.0, 0.0)]
    other = write_draws(tmp_path / "other", [rows, rows], clips=[[0, 1], [0, 2]])
    with pytest.raises(ValueError, match=r"draw 1 covers other clips than draw 0 .*only in draw 0: \[1\], only in "
                       r"draw 1: \[2\]"):
        paired_margin(a, other)
    short = write_draws(tmp_path / "short", [rows, rows[:1]])
    with pytest.raises(ValueError, match=r"short.*draw 1 covers other clips"):
        paired_margin(a, short)
    twice = write_draws(tmp_path / "twice", [rows, rows], clips=[[0, 1], [1, 1]])
    with pytest.raises(ValueError, match=r"line 5: draw 1, clip 1 a second time"):
        paired_margin(a, twice)
    gap = write_draws(tmp_path / "gap", [rows, rows])
    text = (gap / "predictions.csv").read_text().replace("\n1,", "\n2,")
    (gap / "predictions.csv").write_text(text)
    with pytest.raises(ValueError, match=r"draws \[0, 2\], expected 0\.\.1"):
        paired_margin(a, gap)
    one = write(tmp_path / "one", [(0, 0, 0.0, 0.0), (1, 1, 0.0, 0.0), (0, 0, 0.0, 0.0)])
    text = (one / "predictions.csv").read_text().replace("\n2,", "\n1,")
    (one / "predictions.csv").write_text(text)
    with pytest.raises(ValueError, match=r"line 4: clip 1 a second time \(one row per clip expected\)"):
        paired_margin(a, one)


def test_a_predictions_file_without_a_needed_column_is_named(tmp_path):
    a = write(tmp_path / "a", [(0, 0, 0.0, 0.0)])
    (tmp_path / "bad.csv").write_text("clip,label,predicted,azimuth_deg\n0,0,0,0.0\n")
    with pytest.raises(ValueError, match=r"bad\.csv: no column predicted_azimuth_deg"):
        paired_margin(a, tmp_path / "bad.csv")
