"""The one device/precision policy of pretrain, probe and demo (mcsimclr.core.device)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mcsimclr.cli import main
from mcsimclr.core.device import DEVICE_POLICY, DeviceChoice, resolve_device
from mcsimclr.core.errors import DeviceError
from mcsimclr.demo.plan import DemoPlan
from mcsimclr.demo.run import run_demo
from simulate.cli import main as simulate

needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the policy on a machine without CUDA")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(out), "--no-progress"]) == 0
    return out


@needs_no_gpu
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed", "32"])
def test_auto_and_cpu_run_float32_on_the_cpu(precision):
    for accelerator in ("auto", "cpu"):
        choice = resolve_device(accelerator=accelerator, precision=precision)
        assert choice == DeviceChoice(accelerator="cpu", precision="32")
        assert choice.device == torch.device("cpu") and choice.autocast_dtype is None


@needs_no_gpu
def test_gpu_without_cuda_is_an_error_unless_allowed():
    with pytest.raises(DeviceError, match=r"asks for a GPU \(trainer.accelerator=gpu\) and CUDA is not available"):
        resolve_device(accelerator="gpu", precision="bf16-mixed")
    with pytest.warns(UserWarning, match="no GPU: running on the CPU in float32"):
        assert resolve_device(accelerator="gpu", precision="bf16-mixed", allow_cpu=True).precision == "32"


def test_precisions_map_to_autocast_types():
    assert DeviceChoice(accelerator="gpu", precision="bf16-mixed").autocast_dtype == torch.bfloat16
    assert DeviceChoice(accelerator="gpu", precision="16-mixed").autocast_dtype == torch.float16
    assert DeviceChoice(accelerator="gpu", precision="32").device == torch.device("cuda")
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_device(accelerator="cpu", precision="64")
    with pytest.raises(ValueError, match="accelerator must be auto, gpu or cpu"):
        resolve_device(accelerator="tpu", precision="32")


@needs_no_gpu
@pytest.mark.parametrize("command", [["pretrain", "--config", "configs/pretrain/tiny.yaml"],
                                     ["probe", "--config", "configs/probe/tiny.yaml", "--mode", "scratch"]])
def test_pretrain_and_probe_refuse_a_missing_gpu_alike(command, tmp_path, capsys, tiny_data):
    data = [f"data.train={tiny_data / 'noisy_train.h5'}"] if command[0] == "pretrain" else [
        f"data.train={tiny_data / 'clean_train.h5'}", f"data.test={tiny_data / 'test.h5'}"]
    assert main([*command, *data, f"out_dir={tmp_path / 'run'}", "trainer.accelerator=gpu"]) == 2
    err = capsys.readouterr().err
    assert "asks for a GPU (trainer.accelerator=gpu) and CUDA is not available; pass --allow-cpu" in err


@needs_no_gpu
def test_demo_refuses_a_missing_gpu_before_touching_its_output(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier run")
    with pytest.raises(DeviceError, match=r"asks for a GPU \(--device cuda\)"):
        run_demo(out=out, plan=DemoPlan.quick(), device="cuda", overwrite=True, log=lambda _: None)
    assert (out / "keep.txt").exists()


def test_every_command_states_the_policy(capsys):
    for command in ("pretrain", "probe", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert " ".join(DEVICE_POLICY.split()) in text, command
