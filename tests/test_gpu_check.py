"""The dry run of scripts/gpu_check.sh (``--device cpu --tiny``): every step of the GPU check runs, or says why it
is skipped, and the report is written whole (the GPU run itself needs a GPU: docs/benchmarks.md, "GPU check")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["0. environment", "1. build gpuRIR", "2. fidelity", "3. 8 rooms per backend", "4. features + augmentations",
         "5. pretraining steps", "6. mcsimclr demo --device cuda --scale 8"]


def test_dry_run_records_every_step(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "TMPDIR": str(tmp_path)}
    out = tmp_path / "out"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--device", "cpu", "--tiny", "--out",
                           str(out)], capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.md"]  # no .partial left beside it
    report = (out / "gpu_check.md").read_text()
    headings = re.findall(r"^## (.+)$", report, flags=re.M)
    assert [h for h in headings if h != "Summary"] == [next(h for h in headings if h.startswith(s)) for s in STEPS]
    assert "FAILED" not in report, report
    summary = report.split("## Summary")[1]
    for step in STEPS:
        (row,) = [line for line in summary.splitlines() if line.startswith(f"| {step}")]
        cuda_only = step.startswith(("1.", "6."))
        assert ("skipped: needs CUDA" if cuda_only else "| ok |") in row, row
    # What each CPU step measured: fidelity table, rooms timing, features, pretraining steps with FLOPs.
    assert re.search(r"^\| pyroomacoustics \| [0-9.]+ \| [0-9.]+ \| 100.0% \|", report, flags=re.M)
    assert re.search(r"^\| pyroomacoustics \| CPU \| 2 \| 8 \| [0-9.]+ \| [0-9.]+ \|", report, flags=re.M)
    assert "ours: features + augmentation" in report
    assert re.search(r"FLOPs per step: [0-9.]+ GFLOP", report) and re.search(r"^\| eager \| [0-9.]+ \|", report,
                                                                            flags=re.M)
    assert report.count("gpurir and torchrir on CUDA: **skipped: needs CUDA**") == 2
