"""`mcsimclr pretrain` for real on a tiny `simulate build` file: checkpoints, logs, resume, load_encoder, errors."""

from __future__ import annotations

import csv
import itertools
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import mcsimclr
from mcsimclr.checkpoint import read_checkpoint
from mcsimclr.cli import main
from mcsimclr.core.config import load_config
from mcsimclr.data.data_info import DataError
from mcsimclr.pretrain.config import PretrainConfig
from mcsimclr.pretrain.run import RunError, pretrain, resolve_sync_batchnorm
from mcsimclr.pretrain.schedule import warmup_cosine
from simulate.cli import main as simulate

TINY = "configs/pretrain/tiny.yaml"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(out), "--no-progress"]) == 0
    return out


def args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["pretrain", "--config", TINY, f"data.train={data / 'noisy_train.h5'}", f"out_dir={out}",
            f"monitor.train={data / 'clean_train.h5'}", f"monitor.dev={data / 'dev.h5'}", *extra]


def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def full_run(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "full"
    assert main(args(data, out)) == 0
    return out


def test_run_leaves_checkpoints_logs_and_config(full_run):
    assert (full_run / "checkpoints" / "last.ckpt").is_file()
    assert (full_run / "checkpoints" / "best.ckpt").is_file()
    cfg = load_config(PretrainConfig, full_run / "config.yaml")
    assert cfg.optim.batch_size == 4
    logged = rows(full_run)
    keys = {k for r in logged for k, v in r.items() if v}
    assert {"train/loss_step", "train/loss_epoch", "train/clips_per_s", "monitor/knn_acc", "monitor/knn_az_err",
            "lr-AdamW"} <= keys
    losses = [float(r["train/loss_step"]) for r in logged if r["train/loss_step"]]
    assert len(losses) == 2 * (12 // 4) and all(np.isfinite(losses))
    accs = [float(r["monitor/knn_acc"]) for r in logged if r["monitor/knn_acc"]]
    assert len(accs) == 2 and all(0 <= a <= 100 for a in accs)
    ckpt = read_checkpoint(full_run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 6 and ckpt["epoch"] == 1


def test_resume_continues_at_the_same_step_with_the_same_state(data, full_run, tmp_path):
    out = tmp_path / "resumed"
    assert main(args(data, out, "trainer.stop_after_epochs=1")) == 0
    first = read_checkpoint(out / "checkpoints" / "last.ckpt")
    assert first["global_step"] == 3
    assert main(args(data, out, "--resume")) == 0
    resumed = read_checkpoint(out / "checkpoints" / "last.ckpt")
    straight = read_checkpoint(full_run / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == straight["global_step"] == 6
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    opt_a, opt_b = straight["optimizer_states"][0]["state"], resumed["optimizer_states"][0]["state"]
    for i in opt_a:
        assert torch.equal(opt_a[i]["exp_avg"], opt_b[i]["exp_avg"])


def test_load_encoder_rebuilds_the_encoder_from_the_checkpoint_alone(data, full_run):
    path = full_run / "checkpoints" / "last.ckpt"
    model = mcsimclr.load_encoder(path)
    assert not model.training and model.sample_rate == 16000 and model.embed_dim == 32
    with h5py.File(data / "test.h5") as f:
        np.testing.assert_allclose(model.mic_offsets, f.attrs["mic_offsets"])
    x = torch.randn(3, 4, 8000)
    with torch.no_grad():
        a, b = model(x), mcsimclr.load_encoder(path)(x)
    assert a.shape == (3, 32) and torch.equal(a, b)
    state = read_checkpoint(path)["state_dict"]
    for name, tensor in model.encoder.state_dict().items():
        assert torch.equal(tensor, state[f"encoder.{name}"])


def test_stream_mode_and_rerun_protection(data, tmp_path, capsys):
    out = tmp_path / "stream"
    assert main(args(data, out, "data.mode=stream", "optim.epochs=1", "optim.warmup_epochs=0")) == 0
    assert len([r for r in rows(out) if r["train/loss_step"]]) == 3
    assert main(args(data, out, "data.mode=stream")) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(args(data, tmp_path / "none", "--resume")) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_branch_losses_add_to_the_joint_loss_and_heads_stay_out_of_the_encoder(data, tmp_path):
    out = tmp_path / "branch"
    assert main(args(data, out, "model.encoder.branches=split", "optim.branch_loss_weight=0.5", "optim.epochs=1",
                     "optim.warmup_epochs=0")) == 0
    (epoch,) = [r for r in rows(out) if r.get("train/loss_joint")]
    parts = {k: float(epoch[f"train/loss_{k}"]) for k in ("joint", "mel", "gcc")}
    assert all(np.isfinite(v) and v > 0 for v in parts.values())
    total = parts["joint"] + 0.5 * (parts["mel"] + parts["gcc"])
    assert float(epoch["train/loss_epoch"]) == pytest.approx(total, rel=1e-5)
    state = read_checkpoint(out / "checkpoints" / "last.ckpt")["state_dict"]
    assert any(k.startswith("branch_heads.1.") for k in state)
    model = mcsimclr.load_encoder(out / "checkpoints" / "last.ckpt")
    assert model(torch.randn(2, 4, 8000)).shape == (2, 32)


def test_wandb_runs_offline(data, tmp_path):
    out = tmp_path / "wandb"
    assert main(args(data, out, "optim.epochs=1", "optim.warmup_epochs=0", "log.wandb=true")) == 0
    assert list((out / "wandb").glob("offline-run-*"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["features.sample_rate=24000"], "sample rate 16000 Hz, but the features config expect 24000 Hz"),
        (["optim.batch_size=13"], "batch_size 13 x 1 process(es) is larger than the 12 clips"),
        (["trainer.accelerator=gpu"], "asks for a GPU (trainer.accelerator=gpu) and CUDA is not available"),
        (["data.train=/nonexistent.h5"], "data file not found: /nonexistent.h5"),
        (["optim.batch_size=1"], "batch_size must be >= 2"),
        (["monitor.dev=''"], "monitor.train and monitor.dev must be given together"),
        (["monitor.test=x.h5"], "monitor.test was renamed monitor.dev: the monitor selects best.ckpt, so it must "
                                 "read the dev split, never test"),
        (["optim.branch_loss_weight=1.0"], "needs a split encoder"),
    ],
)
def test_clear_errors(data, tmp_path, capsys, extra, message):
    if torch.cuda.is_available() and "trainer.accelerator=gpu" in extra:
        pytest.skip("a GPU is present")
    assert main(args(data, tmp_path / "run", *extra)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_other_schema_version_and_other_array_are_refused(data, tmp_path):
    old = tmp_path / "old.h5"
    shutil.copy(data / "noisy_train.h5", old)
    with h5py.File(old, "r+") as f:
        f.attrs["schema_version"] = 99
    cfg = load_config(PretrainConfig, TINY, [f"data.train={old}", f"out_dir={tmp_path / 'a'}"])
    with pytest.raises(DataError, match="schema_version 99, this version of mcsimclr reads 1"):
        pretrain(cfg)
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(tmp_path / "six"),
                     "--no-progress", "--splits", "test", "array.geometry=circular6"]) == 0
    cfg = load_config(PretrainConfig, TINY, [f"data.train={data / 'noisy_train.h5'}", f"out_dir={tmp_path / 'b'}",
                                             f"monitor.train={data / 'clean_train.h5'}",
                                             f"monitor.dev={tmp_path / 'six' / 'test.h5'}"])
    with pytest.raises(DataError, match="array geometry 'circular6' with 6 mics does not match"):
        pretrain(cfg)


def test_schedule_warms_up_then_decays_to_zero():
    f = [warmup_cosine(s, warmup_steps=10, total_steps=100) for s in range(101)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0) and f[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(f[10:]))  # non-increasing after the warm-up
    assert f[55] == pytest.approx(0.5, abs=1e-9) and f[100] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("mode", ["device", "stream"])
def test_ddp_on_cpu_with_two_processes(data, tmp_path, mode):
    """Lightning DDP (gloo) in two processes: each takes its own half of every global batch of 2 x 2 pairs. In
    device mode each holds only its shard of the split, and the kNN monitor runs on rank 0 and reaches both."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    monitor = [f"monitor.train={data / 'clean_train.h5'}", f"monitor.dev={data / 'dev.h5'}"] if mode == "device" \
        else []
    done = subprocess.run(
        [sys.executable, "-m", "mcsimclr.cli", "pretrain", "--config", TINY, f"data.train={data / 'noisy_train.h5'}",
         f"out_dir={out}", "trainer.devices=2", "optim.batch_size=2", f"data.mode={mode}", *monitor],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ckpt = read_checkpoint(out / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 2 * (12 // (2 * 2))  # 3 steps per epoch: the 12 clips split over 2 processes
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    if monitor:
        accs = [float(r["monitor/knn_acc"]) for r in rows(out) if r["monitor/knn_acc"]]
        assert len(accs) == 2 and all(0 <= a <= 100 for a in accs)
        assert (out / "checkpoints" / "best.ckpt").is_file()  # both processes saw the monitored metric


def test_checkpoints_from_before_input_norm_still_load(full_run, tmp_path):
    ckpt = torch.load(full_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    del ckpt["mcsimclr"]["encoder"]["input_norm"]
    ckpt["state_dict"] = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith("encoder.norm.")}
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    model = mcsimclr.load_encoder(old)
    assert model.encoder.input_norm == "none"
    assert model(torch.randn(2, 4, 8000)).shape == (2, 32)


def test_sync_batchnorm_is_on_for_several_gpu_processes_only():
    assert resolve_sync_batchnorm("auto", world_size=4, accelerator="gpu") is True
    assert resolve_sync_batchnorm("auto", world_size=1, accelerator="gpu") is False
    assert resolve_sync_batchnorm("auto", world_size=2, accelerator="cpu") is False  # gloo: torch refuses it
    assert resolve_sync_batchnorm(False, world_size=4, accelerator="gpu") is False
    assert resolve_sync_batchnorm(True, world_size=1, accelerator="cpu") is True
    with pytest.raises(RunError, match="sync_batchnorm=true needs GPUs"):
        resolve_sync_batchnorm(True, world_size=2, accelerator="cpu")
    from mcsimclr.core.config import ConfigError

    assert load_config(PretrainConfig, TINY, ["trainer.sync_batchnorm=false"]).trainer.sync_batchnorm is False
    with pytest.raises(ConfigError, match=r"trainer\.sync_batchnorm: expected .*'auto'.* or bool, got 'maybe'"):
        load_config(PretrainConfig, TINY, ["trainer.sync_batchnorm=maybe"])


def test_sync_batchnorm_true_on_cpu_processes_fails_before_writing(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(args(data, out, "trainer.devices=2", "optim.batch_size=2", "trainer.sync_batchnorm=true")) == 2
    assert "sync_batchnorm=true needs GPUs" in capsys.readouterr().err
    assert not out.exists()


def test_knn_bank_is_loaded_on_the_modules_device_at_fit_start(data):
    """Lightning moves the module to its device after the callbacks' setup: the bank follows the module at fit
    start (here a module on the meta device stands for a GPU) and only the first process loads it."""
    import lightning as L

    from mcsimclr.pretrain.callbacks import KNNMonitor

    class Placed(L.LightningModule):
        def __init__(self, device: str) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1, device=device))

    monitor = KNNMonitor(train=str(data / "clean_train.h5"), dev=str(data / "dev.h5"), crop_samples=8000,
                         n_classes=3)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    module = Placed("meta")
    module.to(torch.device("meta"))
    monitor.on_fit_start(trainer, module)
    for audio, label, azimuth in monitor.data.values():
        assert audio.device.type == label.device.type == azimuth.device.type == "meta"
        assert audio.shape[1:] == (4, 8000)
    assert len(monitor.data["train"][0]) == 8 and len(monitor.data["dev"][0]) == 8


def test_throughput_and_loss_are_logged_only_on_logging_steps(data, tmp_path):
    """Per-step values reach the host only on logging steps (log_every_n_steps), where the throughput window
    ends; the epoch loss is logged once."""
    out = tmp_path / "every2"
    assert main(args(data, out, "trainer.log_every_n_steps=2", "optim.epochs=1", "optim.warmup_epochs=0")) == 0
    logged = rows(out)
    steps = [int(r["step"]) for r in logged if r["train/clips_per_s"]]
    assert steps and all((s + 1) % 2 == 0 for s in steps)
    assert all(float(r["train/clips_per_s"]) > 0 for r in logged if r["train/clips_per_s"])
    (epoch,) = [r for r in logged if r["train/loss_epoch"]]
    assert np.isfinite(float(epoch["train/loss_epoch"]))
    losses = [float(r["train/loss_step"]) for r in logged if r["train/loss_step"]]
    assert len(losses) == 1  # of the 3 steps, only step index 1 is a logging step
