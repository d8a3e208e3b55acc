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
