"""Fingerprint of the tiny pipeline: whether a change (a refactor, a move) left every result as it was.

Runs a tiny ``simulate build``, a tiny pretraining run and five tiny probes (linear, cv-linear, fine-tune, scratch,
random encoder) with the code of ``--repo`` (default: this checkout), then prints one JSON object: the SHA-256 of
every split file's bytes, of every checkpoint's weights, and of every probe's metrics (paths and wall time left
out), predictions and history. Run it on two checkouts and compare the outputs::

    python scripts/fingerprint_tiny_run.py --out /tmp/fp-new > new.json
    python scripts/fingerprint_tiny_run.py --repo /path/to/old/checkout --out /tmp/fp-old > old.json
    diff old.json new.json

About 35 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROBES = {  # name: (mode, extra overrides)
    "linear": ("linear", []), "cv": ("linear", ["linear.solver=cv"]), "finetune": ("finetune", []),
    "scratch": ("scratch", []), "random-linear": ("random-linear", []),
}


def _run(repo: Path, module: str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=repo, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{module} {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _weights_sha(path: Path) -> str:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].numpy().tobytes())
    return h.hexdigest()


def _metrics_sha(path: Path, out: Path) -> str:
    """The metrics without what names the run's place and time (paths, checkpoint file hashes, wall time)."""
    metrics = json.loads(path.read_text().replace(str(out), "OUT"))
    metrics.pop("wall_time_s", None)
    run = metrics.get("run", {})
    for key in ("wall_time_s", "checkpoint_sha256", "checkpoint_config_sha256"):
        run.pop(key, None)
    return _sha(json.dumps(metrics, sort_keys=True).encode())


def fingerprint(repo: Path, out: Path) -> dict[str, str]:
    """Run the tiny pipeline with ``repo``'s code into ``out`` (emptied first); the fingerprint of its outputs."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    sim, run = out / "sim", out / "pretrain"
    _run(repo, "simulate.cli", "build", "--config", "configs/simulate/tiny.yaml", "--out", str(sim), "--no-progress")
    _run(repo, "mcsimclr.cli", "pretrain", "--config", "configs/pretrain/tiny.yaml",
         f"data.train={sim / 'noisy_train.h5'}", f"out_dir={run}")
    for name, (mode, extra) in PROBES.items():
        _run(repo, "mcsimclr.cli", "probe", "--config", "configs/probe/tiny.yaml", "--mode", mode, "--checkpoint",
             str(run / "checkpoints" / "last.ckpt"), f"data.train={sim / 'clean_train.h5'}",
             f"data.test={sim / 'test.h5'}", f"out_dir={out / 'probe' / name}", *extra)
    prints = {f"sim/{p.name}": _sha(p.read_bytes()) for p in sorted(sim.glob("*.h5"))}
    prints |= {f"pretrain/{p.name} weights": _weights_sha(p) for p in sorted((run / "checkpoints").glob("*.ckpt"))}
    for name in PROBES:
        d = out / "probe" / name
        prints[f"probe/{name}/metrics.json"] = _metrics_sha(d / "metrics.json", out)
        for file in ("predictions.csv", "history.csv"):
            if (d / file).exists():
                prints[f"probe/{name}/{file}"] = _sha((d / file).read_bytes())
    return prints


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1],
                   help="the checkout whose code runs (default: this one)")
    p.add_argument("--out", type=Path, required=True, help="work directory (emptied first)")
    args = p.parse_args()
    print(json.dumps(fingerprint(args.repo.resolve(), args.out.resolve()), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
