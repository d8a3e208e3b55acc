"""The one-way layers of docs/architecture.md, checked by import-linter (the contract is in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over the packages in ``root`` (its pyproject.toml holds the contracts)."""
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", script, "--no-cache"], cwd=root, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_tree_keeps_its_layers():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    for name in ("mcsimclr", "simulate"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_an_upward_import_is_named(tmp_path):
    copy = _copy(tmp_path)
    with open(copy / "simulate" / "info.py", "a") as fh:
        fh.write("\nfrom mcsimclr.models.crnn import CRNNEncoder  # noqa: E402, F401\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "simulate is not allowed to import mcsimclr.models" in result.stdout
    assert "simulate.info -> mcsimclr.models.crnn" in result.stdout


def test_the_core_may_not_reach_into_simulate(tmp_path):
    copy = _copy(tmp_path)
    with open(copy / "mcsimclr" / "core" / "array.py", "a") as fh:
        fh.write("\nimport simulate.geometry  # noqa: E402, F401\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "mcsimclr.core.array -> simulate.geometry" in result.stdout


def test_the_classical_baselines_stay_off_the_learned_stack(tmp_path):
    copy = _copy(tmp_path)
    with open(copy / "mcsimclr" / "classical" / "doa.py", "a") as fh:
        fh.write("\nimport mcsimclr.features.gcc_phat  # noqa: E402, F401\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "mcsimclr.classical.doa -> mcsimclr.features.gcc_phat" in result.stdout
