"""Docs stay true to the code; the command-line entry points answer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mcsimclr.core.h5schema import REQUIRED_ATTRS, describe_schema
from mcsimclr.core.scene_schema import describe_scene_schema


def test_dataset_doc_lists_every_field_and_attribute():
    doc = Path("docs/dataset.md").read_text()
    assert describe_schema() in doc, "regenerate the per-clip table in docs/dataset.md from describe_schema()"
    for attr in REQUIRED_ATTRS:
        assert f"`{attr}`" in doc, attr
    assert describe_scene_schema() in doc, "regenerate the scene tables in docs/dataset.md from describe_scene_schema()"


def test_readme_names_existing_configs_and_ci_runs_its_test_command():
    readme = Path("README.md").read_text()
    for config in re.findall(r"configs/\w+/[\w.]+\.yaml", readme + Path("docs/pretraining.md").read_text()):
        assert Path(config).is_file(), config
    ci = Path(".ci/run").read_text()
    test_command = 'pip install torch==2.13.0 && pip install -e ".[test]" && python -m pytest'
    assert test_command in readme and test_command in ci


def test_entry_points_answer():
    for module in ("simulate.cli", "mcsimclr.cli"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "usage:" in done.stdout
    done = subprocess.run([sys.executable, "-m", "simulate.cli", "build", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert "resume" in done.stdout and "--workers" in done.stdout
