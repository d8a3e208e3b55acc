"""`mcsimclr demo --quick`: every stage runs on real (tiny) data and the table holds finite numbers."""

from __future__ import annotations

import csv
import json
import math
import runpy
from pathlib import Path

import pytest

from mcsimclr.cli import main
from mcsimclr.demo.plan import MODES, DemoPlan
from mcsimclr.demo.run import CHECKOUT, DemoError, config_file
from mcsimclr.demo.stages import Stages


def test_quick_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    for i in range(1, 5):
        assert f"[{i}/4]" in printed
    assert "| setting |" in printed and "random init" in printed and "MC-SimCLR" in printed
    for mode in MODES:
        run = json.loads((out / "probe" / mode / "metrics.json").read_text())["run"]
        assert run["solver"] == ("cv" if mode in ("linear", "random-linear") else None), mode
    with open(out / "table.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["setting"] for r in rows][-2:] == ["SRP-PHAT (no learning)", "MUSIC (no learning)"] and len(rows) == 4
    srp = float(rows[2]["LP az err (deg) mean"])
    worse = any(float(r[k]) > srp for r in rows[:2] for k in r if k.endswith("az err (deg) mean") and r[k])
    assert ("loses to SRP-PHAT on direction" in printed) == worse
    numbers = [float(v) for r in rows for k, v in r.items()
               if k not in ("setting", "checkpoint_sha256", "identity") and v not in ("", "-")]
    assert len(rows[1]["checkpoint_sha256"]) == 64 and rows[0]["identity"].startswith("arch:")
    assert numbers and all(math.isfinite(x) for x in numbers)
    margin = json.loads((out / "margin.json").read_text())
    assert margin["n"] == 32 and all(math.isfinite(margin[k]) for k in ("accuracy", "azimuth", "azimuth_se"))
    assert "pretrained vs random encoder" in printed
    # The second probe protocol (scripts/probe_protocol_check.py) runs on the demo's output.
    check = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "probe_protocol_check.py"), run_name="check")
    check["main"]([str(out), "--seed", "0"])
    lines = capsys.readouterr().out.splitlines()
    acc = {ln.split()[0]: float(ln.split()[2]) for ln in lines if ln.split()[:2] in (["pretrained", "accuracy"],
                                                                                   ["random", "accuracy"])}
    assert set(acc) == {"pretrained", "random"}
    margin_line = next(ln for ln in lines if ln.startswith("margin (pretrained - random, paired over 32 test clips"))
    assert float(margin_line.split("accuracy ")[1].split()[0]) == pytest.approx(acc["pretrained"] - acc["random"],
                                                                                abs=0.11)
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    assert "not empty; pass --overwrite" in capsys.readouterr().err


def test_stages_announce_and_time_each_stage():
    lines: list[str] = []
    stages = Stages(["a", "b"], [10.0, 20.0], log=lines.append)
    assert stages.eta_from(0) == 30.0 and stages.eta_from(1) == 20.0
    stages.begin(0)
    stages.end(0)
    stages.begin(1)
    stages.end(1)
    assert lines[0] == "[1/2] a (about 30 s left in the demo)"
    assert lines[1].startswith("[1/2] a: done in 0 s; about 20 s left")
    assert lines[3].startswith("[2/2] b: done in 0 s; total")
    with pytest.raises(ValueError, match="one expected time per stage"):
        Stages(["a"], [1.0, 2.0])


def test_demo_finds_its_configs_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = DemoPlan.full()
    for name in (plan.simulate_config, plan.pretrain_config, plan.probe_config):
        assert config_file(name) == CHECKOUT / name and config_file(name).is_file()
    (tmp_path / "mine.yaml").write_text("seed: 1\n")
    assert config_file("mine.yaml") == Path("mine.yaml")  # the working directory first
    with pytest.raises(DemoError, match=r"configs/none\.yaml not found in the working directory nor in"):
        config_file("configs/none.yaml")


def test_full_plan_runs_the_knn_monitor_once_after_the_last_epoch():
    plan = DemoPlan.full()
    assert plan.monitor_every is None
    overrides = plan.pretrain_schedule_overrides()
    assert f"optim.epochs={plan.pretrain_epochs}" in overrides
    assert f"monitor.every_n_epochs={plan.pretrain_epochs}" in overrides
    assert "monitor.every_n_epochs=1" in DemoPlan.quick().pretrain_schedule_overrides()


def test_plan_scales_and_rejects_bad_scale():
    assert DemoPlan.full(2.0).noisy_train == 2 * DemoPlan.full().noisy_train
    with pytest.raises(ValueError, match="scale must be > 0"):
        DemoPlan.full(0)
