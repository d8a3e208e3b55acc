"""``scripts/reproduce_paper.sh``: the plan it prints is the paper's Table 1 with valid commands, it refuses a folder
that is not FSDnoisy18k, and its small-scale mode runs end to end to a report table."""

from __future__ import annotations

import csv
import math
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from mcsimclr import cli as mcsimclr_cli
from mcsimclr.probe.config import ProbeConfig
from simulate import cli as simulate_cli

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "reproduce_paper.sh"
SETTINGS = ("all4", "none", "no-channelswap", "no-mixup", "no-rrc", "no-channeldrop")
# augment.<name>.enabled of each pretraining setting
AUGMENTATIONS = ("channel_swap", "mixup", "crop", "channel_drop")
ENABLED = {
    "all4": set(AUGMENTATIONS),
    "none": set(),
    "no-channelswap": {"mixup", "crop", "channel_drop"},
    "no-mixup": {"channel_swap", "crop", "channel_drop"},
    "no-rrc": {"channel_swap", "mixup", "channel_drop"},
    "no-channeldrop": {"channel_swap", "mixup", "crop"},
}


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in {"SMOKE", "DRY_RUN", "SETTINGS", "SEEDS", "FRACTIONS"}}
    full_env.update(env or {})
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=full_env, timeout=timeout,
                          cwd=REPO)


def _fsd_layout(root: Path) -> Path:
    """An (empty) FSDnoisy18k folder: enough for the script's layout check."""
    for name in ("FSDnoisy18k.audio_train", "FSDnoisy18k.audio_test", "FSDnoisy18k.meta"):
        (root / name).mkdir(parents=True)
    (root / "FSDnoisy18k.meta" / "train.csv").write_text("fname,label,aso_id,manually_verified,noisy_small\n")
    (root / "FSDnoisy18k.meta" / "test.csv").write_text("fname,label,aso_id\n")
    return root


def _commands(stdout: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith("+ ")]


def _resolved(main, argv: list[str], capsys) -> dict:
    """The config the command would run with: the real CLI with ``--print-config``, in this process."""
    capsys.readouterr()
    assert main([*argv, "--print-config"]) == 0, f"invalid command: {shlex.join(argv)}\n{capsys.readouterr().err}"
    return yaml.safe_load(capsys.readouterr().out)


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _probe_takes_dev() -> bool:
    """Whether ``mcsimclr probe`` has ``data.dev`` yet (the script passes it to every probe)."""
    return "dev" in {f.name for f in fields(type(ProbeConfig().data))}


def test_help_and_usage():
    done = _run(["--help"])
    assert done.returncode == 0 and "usage: scripts/reproduce_paper.sh DATA_DIR [OUT_DIR]" in done.stdout
    for word in ("DRY_RUN", "SMOKE", "NPROC", "LAUNCHER", "--resume", "dev.h5"):
        assert word in done.stdout, word
    assert "selects\nbest.ckpt on the dev split" in done.stdout and "test split" not in done.stdout
    done = _run([])
    assert done.returncode == 2 and "usage:" in done.stderr


def test_refuses_a_data_dir_that_is_not_fsdnoisy18k(tmp_path):
    done = _run([str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert done.returncode == 2 and "nowhere does not exist" in done.stderr
    (tmp_path / "partial" / "FSDnoisy18k.meta").mkdir(parents=True)
    (tmp_path / "partial" / "FSDnoisy18k.meta" / "train.csv").write_text("fname,label\n")
    done = _run([str(tmp_path / "partial"), str(tmp_path / "out")])
    assert done.returncode == 2
    for missing in ("FSDnoisy18k.audio_train/", "FSDnoisy18k.audio_test/", "FSDnoisy18k.meta/test.csv"):
        assert missing in done.stderr, done.stderr
    assert "FSDnoisy18k.meta/train.csv" not in done.stderr and "FSDnoisy18k.meta/ " not in done.stderr
    assert not (tmp_path / "out").exists()


def test_dry_run_prints_table1_with_valid_commands(tmp_path, capsys):
    data, out = _fsd_layout(tmp_path / "FSDnoisy18k"), tmp_path / "out"
    done = _run([str(data), str(out)], env={"DRY_RUN": "1"})
    assert done.returncode == 0, done.stderr
    assert not out.exists(), "a dry run must not write anything"
    commands = _commands(done.stdout)
    kinds = Counter(c[0] if c[0] == "simulate" else f"{c[0]} {c[1]}" for c in commands)
    seeds, fractions = 3, 3
    probes = seeds * (2 * len(SETTINGS) + fractions + 2 + fractions)   # LP + FT per setting, fractions, baselines
    assert kinds == {"simulate": 1, "mcsimclr pretrain": len(SETTINGS), "mcsimclr probe": probes,
                     "mcsimclr report": 1}, kinds
    assert commands[-1][:2] == ["mcsimclr", "report"] and commands[-1][2] == str(out / "probe")

    build = commands[0]
    assert build[1] == "build"
    config = _resolved(simulate_cli.main, build[1:], capsys)
    assert config["source"]["kind"] == "fsdnoisy18k" and config["source"]["fsdnoisy18k"]["root"] == str(data)
    assert config["source"]["fsdnoisy18k"]["dev_clips"] == 200 and "dev" in config["source"]["fsdnoisy18k"]["splits"]
    assert _option(build, "--out") == str(out / "data")

    pretrained = {}
    for argv in (c for c in commands if c[:2] == ["mcsimclr", "pretrain"]):
        config = _resolved(mcsimclr_cli.main, argv[1:], capsys)
        setting = Path(config["out_dir"]).name
        assert {a for a in AUGMENTATIONS if config["augment"][a]["enabled"]} == ENABLED[setting], setting
        assert config["optim"]["batch_size"] == 512 and config["optim"]["epochs"] == 500
        assert config["data"]["train"] == str(out / "data" / "noisy_train.h5")
        assert config["monitor"]["train"] == str(out / "data" / "clean_train.h5")
        assert config["monitor"]["dev"] == str(out / "data" / "dev.h5")   # best.ckpt is selected on dev
        assert _option(argv, "--config").endswith("configs/pretrain/paper.yaml") and "--resume" not in argv
        pretrained[setting] = str(out / "pretrain" / setting / "checkpoints" / "last.ckpt")
    assert sorted(pretrained) == sorted(SETTINGS)

    runs = Counter()
    for argv in (c for c in commands if c[:2] == ["mcsimclr", "probe"]):
        assert f"data.dev={out / 'data' / 'dev.h5'}" in argv
        if not _probe_takes_dev():  # until the probe's data.dev is merged, resolve the rest of the command
            argv = [a for a in argv if not a.startswith("data.dev=")]
        config = _resolved(mcsimclr_cli.main, argv[1:], capsys)
        assert config["data"].get("dev", str(out / "data" / "dev.h5")) == str(out / "data" / "dev.h5")
        assert config["data"]["train"] == str(out / "data" / "clean_train.h5")
        assert config["data"]["test"] == str(out / "data" / "test.h5")
        assert config["checkpoint"] in pretrained.values()
        setting = Path(config["out_dir"]).parent.name
        if config["mode"] in ("random-linear", "scratch"):
            assert setting == "baseline" and config["checkpoint"] == pretrained["all4"]   # the same architecture
        else:
            assert config["checkpoint"] == pretrained[setting]
        runs[(setting, config["mode"], config["fraction"], config["seed"])] += 1
    assert all(n == 1 for n in runs.values()), "every probe is run once"
    for seed in (0, 1, 2):
        for setting in SETTINGS:
            assert runs[(setting, "linear", 1.0, seed)] == runs[(setting, "finetune", 1.0, seed)] == 1
        for fraction in (0.01, 0.1, 0.5):
            assert runs[("all4", "finetune", fraction, seed)] == runs[("baseline", "scratch", fraction, seed)] == 1
        assert runs[("baseline", "random-linear", 1.0, seed)] == runs[("baseline", "scratch", 1.0, seed)] == 1


def test_dry_run_multi_gpu_and_bad_settings(tmp_path):
    data, out = _fsd_layout(tmp_path / "FSDnoisy18k"), tmp_path / "out"
    done = _run([str(data), str(out)], env={"DRY_RUN": "1", "NPROC": "4", "SETTINGS": "all4", "SEEDS": "0"})
    pretrain = next(c for c in _commands(done.stdout) if c[:2] == ["mcsimclr", "pretrain"])
    assert "trainer.devices=4" in pretrain and "optim.batch_size=128" in pretrain   # 512 in total over 4 GPUs
    done = _run([str(data), str(out)], env={"DRY_RUN": "1", "NPROC": "4", "NNODES": "2", "LAUNCHER": "torchrun",
                                             "SETTINGS": "all4", "SEEDS": "0"})
    pretrain = next(c for c in _commands(done.stdout) if c[0] == "torchrun")
    assert pretrain[:6] == ["torchrun", "--nproc_per_node=4", "--nnodes=2", "-m", "mcsimclr.cli", "pretrain"]
    assert "trainer.num_nodes=2" in pretrain and "optim.batch_size=64" in pretrain
    for env, message in (({"NNODES": "2"}, "needs LAUNCHER"), ({"NPROC": "3"}, "not divisible"),
                         ({"SETTINGS": "all4 no-gcc"}, "unknown setting 'no-gcc'"),
                         ({"FRACTIONS": "0.1 2"}, "FRACTIONS must be numbers in (0, 1)")):
        done = _run([str(data), str(out)], env={"DRY_RUN": "1", **env})
        assert done.returncode == 2 and message in done.stderr, (env, done.stderr)


def test_dry_run_smoke_plan_and_sharded_build(tmp_path):
    done = _run([str(tmp_path / "smoke")], env={"DRY_RUN": "1", "SMOKE": "1"})
    assert done.returncode == 0, done.stderr
    commands = _commands(done.stdout)
    assert all("configs/" not in a or "tiny.yaml" in a for c in commands for a in c)
    assert sum(c[:2] == ["mcsimclr", "pretrain"] for c in commands) == 2
    assert sum(c[:2] == ["mcsimclr", "probe"] for c in commands) == 2 * 2 + 1 + 2 + 1
    data = _fsd_layout(tmp_path / "FSDnoisy18k")
    done = _run([str(data), str(tmp_path / "out")], env={"DRY_RUN": "1", "SIM_SHARDS": "2", "SETTINGS": "all4"})
    simulate = [c for c in _commands(done.stdout) if c[0] == "simulate"]
    assert [c[c.index("--shard") + 1] for c in simulate if "--shard" in c] == ["0/2", "1/2"]
    merges = [c for c in simulate if c[1] == "merge"]
    assert [Path(_option(c, "--out")).name for c in merges] == ["noisy_train.h5", "clean_train.h5", "dev.h5",
                                                                "test.h5"]
    assert merges[0][2:4] == [str(tmp_path / "out" / "data" / f"noisy_train.shard-{i}-of-2.h5") for i in (0, 1)]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_smoke_run_ends_with_a_report_and_resumes(tmp_path):
    """The whole script on the tiny synthetic data set (about 2-3 minutes on 2 CPU cores), then again: nothing
    left to do but the report."""
    env = {"SMOKE": "1", "SIMULATE": f"{sys.executable} -m simulate.cli",
           "MCSIMCLR": f"{sys.executable} -m mcsimclr.cli", "PYTHON": sys.executable}
    out = tmp_path / "smoke"
    done = _run([str(out)], env=env, timeout=850)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(out / "table1.csv", newline="") as fh:
        rows = {row["setting"]: row for row in csv.DictReader(fh)}
    assert set(rows) == {"random init (LP) / supervised from scratch (FT)",
                         "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop", "MC-SimCLR, ChannelSwap+RRC+ChannelDrop"}
    for row in rows.values():
        for column in ("LP acc (%) mean", "LP az err (deg) mean", "FT acc (%) mean", "FT az err (deg) mean"):
            assert math.isfinite(float(row[column])), (row["setting"], column)
    assert math.isfinite(float(rows["MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"]["FT 50 % acc (%) mean"]))
    assert "| setting |" in (out / "table1.md").read_text()
    again = _run([str(out)], env={**env, "DRY_RUN": "1"})
    assert [c[3] for c in _commands(again.stdout)] == ["report"], again.stdout


def _readme_commands() -> list[list[str]]:
    """The ``simulate``/``mcsimclr`` commands in README.md's bash blocks (continuations joined, ``$CKPT`` set)."""
    readme = (REPO / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        text = block.replace("\\\n", " ")
        ckpt = re.search(r"^CKPT=(\S+)", text, flags=re.M)
        for line in text.splitlines():
            line = line.split("  #")[0].replace("$CKPT", ckpt.group(1) if ckpt else "$CKPT")
            argv = shlex.split(line)
            while argv and argv[0] in ("srun", "torchrun"):        # launchers: keep the command they start
                argv = argv[argv.index("mcsimclr.cli"):] if "mcsimclr.cli" in argv else argv[1:]
                argv[0] = "mcsimclr" if argv[0] == "mcsimclr.cli" else argv[0]
            if argv and argv[0] in ("simulate", "mcsimclr") and argv[1] in ("build", "pretrain", "probe"):
                commands.append(argv)
    return commands


def test_readme_commands_are_valid(capsys):
    commands = _readme_commands()
    assert sum(c[1] == "pretrain" for c in commands) >= 5 and sum(c[1] == "probe" for c in commands) >= 5
    for argv in commands:
        if "<name>" in " ".join(argv):
            continue
        main = simulate_cli.main if argv[0] == "simulate" else mcsimclr_cli.main
        _resolved(main, argv[1:], capsys)
