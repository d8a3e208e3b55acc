"""`mcsimclr demo --quick`: every stage runs on real (tiny) data and the table holds finite numbers."""

from __future__ import annotations

import csv
import math

import pytest

from mcsimclr.cli import main
from mcsimclr.demo.plan import MODES, DemoPlan
from mcsimclr.demo.stages import Stages


def test_quick_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    for i in range(1, 5):
        assert f"[{i}/4]" in printed
    assert "| setting |" in printed and "random init" in printed and "MC-SimCLR" in printed
    for mode in MODES:
        assert (out / "probe" / mode / "metrics.json").is_file()
    with open(out / "table.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    numbers = [float(v) for r in rows for k, v in r.items() if k != "setting" and v not in ("", "-")]
    assert numbers and all(math.isfinite(x) for x in numbers)
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    assert "not empty; pass --overwrite" in capsys.readouterr().err


def test_stage_eta_follows_the_measured_speed():
    lines: list[str] = []
    stages = Stages(["a", "b", "c"], [10.0, 20.0, 30.0], log=lines.append)
    assert stages.eta_from(0) == 60.0
    stages.done.append(20.0)  # the first stage took twice as long as expected
    assert stages.eta_from(1) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="one expected time per stage"):
        Stages(["a"], [1.0, 2.0])


def test_plan_scales_and_rejects_bad_scale():
    assert DemoPlan.full(2.0).noisy_train == 2 * DemoPlan.full().noisy_train
    with pytest.raises(ValueError, match="scale must be > 0"):
        DemoPlan.full(0)
