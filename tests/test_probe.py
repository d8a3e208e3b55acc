"""`mcsimclr probe` and `mcsimclr report` for real on tiny data: a tiny `simulate build` and a few pretraining steps,
then every protocol, the report table, the frozen encoder, determinism, and the clear errors."""

from __future__ import annotations

import csv
import hashlib
import json
import math
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
from mcsimclr.data.clip_store import ClipStore
from mcsimclr.probe.config import ProbeConfig
from mcsimclr.probe.cv_linear import L2_GRID
from mcsimclr.probe.embed import embed_clips
from mcsimclr.probe.result_dir import PLOTS, read_result
from mcsimclr.probe.run import run_probe
from mcsimclr.probe.setting import BASELINE_SETTING
from simulate.cli import main as simulate

TINY = "configs/probe/tiny.yaml"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """12 unlabelled clips for pretraining, 40 labelled (4 for validation), 16 test clips."""
    out = tmp_path_factory.mktemp("data")
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(out), "--no-progress",
                     "source.synthetic.splits.clean_train=40", "source.synthetic.splits.test=16"]) == 0
    return out


@pytest.fixture(scope="module")
def checkpoint(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain") / "run"
    assert main(["pretrain", "--config", "configs/pretrain/tiny.yaml", f"data.train={data / 'noisy_train.h5'}",
                 f"out_dir={out}"]) == 0
    return out / "checkpoints" / "last.ckpt"


def probe_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["probe", "--config", TINY, f"data.train={data / 'clean_train.h5'}", f"data.test={data / 'test.h5'}",
            "--out", str(out), *extra]


def config(data: Path, out: Path, *overrides: str) -> ProbeConfig:
    return load_config(ProbeConfig, TINY, [f"data.train={data / 'clean_train.h5'}", f"data.test={data / 'test.h5'}",
                                           f"out_dir={out}", *overrides])


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.fixture(scope="module")
def results(data, checkpoint, tmp_path_factory) -> Path:
    """Every protocol through the CLI, two seeds of the linear probe and a label fraction."""
    root = tmp_path_factory.mktemp("probes")
    runs = [("linear", "0", "1"), ("linear", "1", "1"), ("finetune", "0", "1"), ("finetune", "0", "0.5"),
            ("scratch", "0", "1"), ("random-linear", "0", "1")]
    for mode, seed, fraction in runs:
        out = root / f"{mode}-s{seed}-f{fraction}"
        assert main(probe_args(data, out, "--mode", mode, "--checkpoint", str(checkpoint), "--seed", seed,
                               "--fraction", fraction)) == 0, mode
    return root


def test_every_protocol_writes_a_complete_result(results, checkpoint):
    dirs = sorted(p for p in results.iterdir() if p.is_dir())
    assert len(dirs) == 6
    for d in dirs:
        doc = read_result(d)
        run = doc["run"]
        for key in ("accuracy", "azimuth_error_mean", "azimuth_error_median"):
            assert finite(doc[key]), (d.name, key)
        assert 0 <= doc["accuracy"] <= 100 and 0 <= doc["azimuth_error_median"] <= 180
        # The random encoder is drawn 3 times (linear.random_draws): every count is over its 3 x 16 predictions.
        n = 16 * (3 if run["mode"] == "random-linear" else 1)
        assert doc["n_clips"] == 16 and doc["n_predictions"] == n
        assert sum(c["count"] for c in doc["per_class"].values()) == n
        assert sum(b["count"] for b in doc["by_rt60"]) == n and sum(b["count"] for b in doc["by_distance"]) == n
        assert all(b["hi"] - b["lo"] == pytest.approx(0.5) for b in doc["by_distance"] if b["lo"] is not None)
        assert np.asarray(doc["confusion"]).sum() == n
        assert run["checkpoint"] == str(checkpoint) and len(run["checkpoint_config_sha256"]) == 64
        assert run["n_clips"]["val"] == 4 and run["n_clips"]["train_part"] == 36 and run["n_clips"]["test"] == 16
        assert 1 <= run["best_epoch"] <= run["epochs"] and run["wall_time_s"] > 0
        for name in (*PLOTS, "config.yaml", "history.csv", "predictions.csv", "model.pt"):
            assert (d / name).is_file() and (d / name).stat().st_size > 0, (d.name, name)
        cfg = load_config(ProbeConfig, d / "config.yaml")
        assert cfg.mode == run["mode"] and cfg.seed == run["seed"] and cfg.fraction == run["fraction"]
        with open(d / "predictions.csv") as fh:
            assert len(list(csv.DictReader(fh))) == n
    by_name = {d.name: read_result(d)["run"] for d in dirs}
    assert by_name["linear-s0-f1"]["setting"] == "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"
    assert by_name["scratch-s0-f1"]["setting"] == by_name["random-linear-s0-f1"]["setting"] == BASELINE_SETTING
    # Linear probe: embeddings of all 8 ChannelSwap copies of each training clip; fine-tuning: the clips.
    assert by_name["linear-s0-f1"]["n_clips"]["train_examples"] == 8 * 36
    assert by_name["finetune-s0-f1"]["encoder_grad_scale"] == 0.1
    assert by_name["scratch-s0-f1"]["encoder_grad_scale"] == 1 and by_name["linear-s0-f1"]["encoder_grad_scale"] is None
    # Fine-tuning trained the encoder (saved beside the heads); the linear probe saved the heads only.
    tuned = torch.load(results / "finetune-s0-f1" / "model.pt", weights_only=True)
    pretrained = read_checkpoint(checkpoint)["state_dict"]
    key = "branch.joint.fc.weight"
    assert not torch.equal(tuned["encoder"][key], pretrained[f"encoder.{key}"])
    assert torch.load(results / "linear-s0-f1" / "model.pt", weights_only=True)["encoder"] is None
    # 50 %: stratified, at least one clip per class, and the same number of steps as 100 % (equal_steps).
    half, full = by_name["finetune-s0-f0.5"], by_name["finetune-s0-f1"]
    assert half["n_clips"]["train_used"] < full["n_clips"]["train_used"] == 36
    assert half["steps_per_epoch"] == full["steps_per_epoch"]


def test_report_collects_the_table(results, tmp_path, capsys):
    out = tmp_path / "table.md"
    assert main(["report", str(results), "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    md, table = out.read_text(), out.with_suffix(".csv")
    assert md.strip() in shown
    lines = md.splitlines()
    assert lines[0] == ("| setting | LP acc (%) | LP az err (deg) | FT acc (%) | FT az err (deg) | FT 50 % acc (%) | "
                        "FT 50 % az err (deg) | runs |")
    assert lines[2].startswith(f"| {BASELINE_SETTING} |") and lines[3].startswith("| MC-SimCLR, ChannelSwap")
    assert " ± " in lines[3]  # two seeds of the linear probe
    with open(table) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["setting"] for r in rows] == [BASELINE_SETTING, "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"]
    ours = rows[1]
    assert ours["LP acc (%) n"] == "2" and ours["runs"] == "4"
    for key in ("LP acc (%) mean", "LP acc (%) std", "LP az err (deg) mean", "FT acc (%) mean", "FT az err (deg) mean",
                "FT 50 % acc (%) mean"):
        assert math.isfinite(float(ours[key])), key
    for key in ("LP acc (%) mean", "LP az err (deg) mean", "FT acc (%) mean", "FT az err (deg) mean"):
        assert math.isfinite(float(rows[0][key])), key
    assert main(["report", str(tmp_path / "nothing-here")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_linear_probe_leaves_the_encoder_bit_identical(data, checkpoint, tmp_path):
    outcome = run_probe(config(data, tmp_path / "lp", "mode=linear", f"checkpoint={checkpoint}"))
    state = read_checkpoint(checkpoint)["state_dict"]
    after = outcome.encoder.encoder.state_dict()
    assert after  # parameters and batch-norm buffers alike
    for name, tensor in after.items():
        assert torch.equal(tensor, state[f"encoder.{name}"]), name
    x = torch.randn(2, 4, 8000)
    with torch.no_grad():
        assert torch.equal(outcome.encoder(x), mcsimclr.load_encoder(checkpoint)(x))
    assert not outcome.encoder.training


def test_window_embedding_is_the_mean_over_windows(data):
    store = ClipStore(data / "test.h5", dtype=torch.float32)
    clips = np.array([0, 3, 5])

    def energy(x: torch.Tensor) -> torch.Tensor:  # (batch, mics, window) -> (batch, 2)
        return torch.stack([x.square().sum(dim=(1, 2)), x[:, 0].abs().amax(dim=1)], dim=1)

    got = embed_clips(energy, store, clips, window=8000, hop=4000)
    with h5py.File(data / "test.h5") as f:
        for row, c in enumerate(clips):
            audio = torch.from_numpy(f["audio"][:, f["offsets"][c] : f["offsets"][c] + f["lengths"][c]])
            audio = torch.nn.functional.pad(audio, (0, max(0, 8000 - audio.shape[1])))
            n = audio.shape[1]
            starts = list(range(0, n - 8000 + 1, 4000))
            if starts[-1] + 8000 < n:
                starts.append(n - 8000)
            expected = torch.stack([energy(audio[None, :, s : s + 8000])[0] for s in starts]).mean(0)
            assert torch.allclose(got.embedding[row], expected, rtol=1e-5), c
            assert int(got.label[row]) == int(f["label"][c])


def test_baselines_random_init_deterministic_and_same_architecture(data, checkpoint, tmp_path):
    a = run_probe(config(data, tmp_path / "a", "mode=random-linear", f"checkpoint={checkpoint}", "seed=3"))
    b = run_probe(config(data, tmp_path / "b", "mode=random-linear", f"checkpoint={checkpoint}", "seed=3"))
    for key in ("accuracy", "azimuth_error_mean", "confusion", "by_rt60"):
        assert a.metrics[key] == b.metrics[key], key
    meta = read_checkpoint(checkpoint)["mcsimclr"]
    assert a.metrics["run"]["encoder"] == meta["encoder"] and a.metrics["run"]["features"] == meta["features"]
    pretrained = mcsimclr.load_encoder(checkpoint).encoder.state_dict()
    key = "branch.joint.fc.weight"
    assert not torch.equal(a.encoder.encoder.state_dict()[key], pretrained[key])
    # Without a checkpoint the config's model section gives the architecture (tiny.yaml: the tiny pretraining's).
    c = run_probe(config(data, tmp_path / "c", "mode=random-linear", "seed=3"))
    assert c.metrics["run"]["encoder"] == meta["encoder"] and c.metrics["run"]["checkpoint"] == ""
    assert c.metrics["accuracy"] == a.metrics["accuracy"]  # same architecture, same seed: same encoder


def test_bins_head_and_recomputed_batch_norm(data, checkpoint, tmp_path):
    outcome = run_probe(config(data, tmp_path / "bins", "mode=random-linear", f"checkpoint={checkpoint}",
                               "heads.direction=bins", "heads.n_bins=12", "linear.bn_stats=recompute"))
    assert outcome.heads.direction.out_features == 12
    assert outcome.metrics["run"]["bn_stats"] == "recompute" and finite(outcome.metrics["azimuth_error_mean"])
    bn = outcome.encoder.encoder.branch["joint"].convs[0].layers[1]
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))  # not the fresh 0 / 1


def test_probe_with_the_cv_solver_fits_the_clips_every_protocol_fits(data, checkpoint, tmp_path):
    """Without a dev file, val_clips are held out for every protocol alike, so the cv solver (which needs no held-out
    clips) fits on the same 36 clips as fine-tuning and scratch, not on all 40."""
    outcome = run_probe(config(data, tmp_path / "cv", "mode=linear", f"checkpoint={checkpoint}", "linear.solver=cv",
                               "linear.cv_folds=3"))
    doc = read_result(outcome.out_dir)
    run = doc["run"]
    assert run["solver"] == "cv" and run["best_epoch"] is None and run["select_on"] is None
    assert run["selection"]["on"] == "held-out" and run["n_clips"]["val"] == 4
    assert run["n_clips"]["train_used"] == 36
    assert run["n_clips"]["train_examples"] == 8 * 36  # all ChannelSwap copies of the 36 training clips
    assert doc["val"]["folds"] == 3 and doc["val"]["l2_class"] in L2_GRID
    assert 0 <= doc["accuracy"] <= 100 and np.isfinite(doc["azimuth_error_mean"])
    assert (outcome.out_dir / "history.csv").read_text().startswith("l2,cv_accuracy,cv_azimuth_error")


# --- errors -----------------------------------------------------------------------------------------------------------


def _copy(src: Path, dst: Path, edit) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def test_checkpoint_features_must_match_the_data(data, checkpoint, tmp_path, capsys):
    other_rate = _copy(data / "test.h5", tmp_path / "rate.h5", lambda f: f.attrs.__setitem__("sample_rate", 24000))
    assert main(probe_args(data, tmp_path / "r", "--mode", "linear", "--checkpoint", str(checkpoint),
                           f"data.test={other_rate}")) == 2
    assert "sample rate 24000 Hz, but the checkpoint" in capsys.readouterr().err
    bigger = _copy(data / "clean_train.h5", tmp_path / "array.h5",
                   lambda f: f.attrs.__setitem__("mic_offsets", 2 * f.attrs["mic_offsets"]))
    assert main(probe_args(data, tmp_path / "g", "--mode", "scratch", "--checkpoint", str(checkpoint),
                           f"data.train={bigger}")) == 2
    assert "does not match the checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "g").exists()


@pytest.mark.parametrize("fraction", ["0", "1.5", "-0.2"])
def test_fraction_outside_the_unit_interval(data, checkpoint, tmp_path, capsys, fraction):
    assert main(probe_args(data, tmp_path / "f", "--mode", "finetune", "--checkpoint", str(checkpoint),
                           "--fraction", fraction)) == 2
    assert "fraction must be in (0, 1]" in capsys.readouterr().err


def _no_labels(f):
    f["label"][...] = -1


def _no_classes(f):
    f.attrs["class_names"] = np.array([], dtype=h5py.string_dtype())


def _no_azimuth(f):
    del f["azimuth_deg"]


@pytest.mark.parametrize(("edit", "message"), [
    (_no_labels, "no clip has a class label (labels [-1], expected 0..11)"),
    (_no_classes, "class_names holds 0 name(s)"),
    (_no_azimuth, "no azimuth_deg column(s)"),
])
def test_data_without_labels(data, checkpoint, tmp_path, capsys, edit, message):
    bad = _copy(data / "clean_train.h5", tmp_path / "bad.h5", edit)
    assert main(probe_args(data, tmp_path / "x", "--mode", "linear", "--checkpoint", str(checkpoint),
                           f"data.train={bad}")) == 2
    err = capsys.readouterr().err
    assert message in err and "the probe needs a labelled split" in err


def test_other_errors(data, checkpoint, tmp_path, capsys):
    renamed = _copy(data / "test.h5", tmp_path / "classes.h5", lambda f: f.attrs.__setitem__(
        "class_names", np.array([*list(f.attrs["class_names"])[:-1], "kazoo"], dtype=h5py.string_dtype())))
    assert main(probe_args(data, tmp_path / "a", "--mode", "scratch", f"data.test={renamed}")) == 2
    assert "class lists differ" in capsys.readouterr().err
    assert main(probe_args(data, tmp_path / "b", "--mode", "linear")) == 2
    assert "needs a pretrained checkpoint: pass --checkpoint" in capsys.readouterr().err
    assert main(probe_args(data, tmp_path / "c", "--mode", "scratch", "data.val_clips=39")) == 2
    assert "data.val_clips=39 are held out" in capsys.readouterr().err
    assert main(probe_args(data, tmp_path / "d", "--mode", "linear", "--checkpoint", str(tmp_path / "none.ckpt"))) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_existing_result_needs_overwrite_and_label_names_the_row(data, checkpoint, tmp_path, capsys):
    out = tmp_path / "once"
    common = ["--mode", "random-linear", "--label", "yes", "linear.epochs=1"]
    assert main(probe_args(data, out, *common)) == 0
    assert main(probe_args(data, out, *common)) == 2
    assert "already holds a probe result" in capsys.readouterr().err
    assert main(probe_args(data, out, *common, "--overwrite")) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["run"]["setting"] == doc["run"]["label"] == "yes"  # a string, not YAML's true
    assert main(["probe", "--config", TINY, "--mode", "scratch", "--print-config", "--seed", "4"]) == 0
    printed = capsys.readouterr().out
    assert "mode: scratch" in printed and "seed: 4" in printed


def test_report_keeps_checkpoints_with_the_same_setting_apart(data, checkpoint, tmp_path, capsys):
    """Two checkpoints pretrained on different data with the same augmentations: two rows, not one pooled row;
    seeds of one checkpoint still pool."""
    other = tmp_path / "other"
    assert main(["pretrain", "--config", "configs/pretrain/tiny.yaml", f"data.train={data / 'clean_train.h5'}",
                 f"out_dir={other}"]) == 0
    other_ckpt = other / "checkpoints" / "last.ckpt"
    root = tmp_path / "probes"
    for ckpt, seed in ((checkpoint, "0"), (checkpoint, "1"), (other_ckpt, "0")):
        assert main(probe_args(data, root / f"{ckpt.parent.parent.name}-s{seed}", "--mode", "linear",
                               "--checkpoint", str(ckpt), "--seed", seed, "linear.epochs=2")) == 0
    out = tmp_path / "table.md"
    assert main(["report", str(root), "--out", str(out)]) == 0
    capsys.readouterr()
    with open(out.with_suffix(".csv")) as fh:
        rows = list(csv.DictReader(fh))
    sha = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (checkpoint, other_ckpt)}
    setting = "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"
    by_sha = {r["checkpoint_sha256"]: r for r in rows}
    assert len(rows) == 2 and set(by_sha) == set(sha.values())
    for ckpt, runs in ((checkpoint, "2"), (other_ckpt, "1")):
        row = by_sha[sha[ckpt]]
        assert row["setting"] == f"{setting} [ckpt {sha[ckpt][:6]}]"
        assert row["runs"] == row["LP acc (%) n"] == runs and math.isfinite(float(row["LP acc (%) mean"]))
    md = out.read_text()
    assert "first hex digits of the SHA-256 of the checkpoint file" in md and "counted as separate" not in md


# --- selection on dev: the same clips for every protocol, and nothing of the test split in any fit or choice ----------


def _selection_runs(data: Path, checkpoint: Path, out: Path, test_file: Path) -> dict[str, dict]:
    """linear (L2 on dev), random-linear (2 draws) and scratch (a 2-value lr sweep), all selecting on dev.h5."""
    common = [f"checkpoint={checkpoint}", f"data.dev={data / 'dev.h5'}", f"data.test={test_file}"]
    runs = {"linear": ["mode=linear", "linear.solver=dev"],
            "random-linear": ["mode=random-linear", "linear.solver=dev", "linear.random_draws=2"],
            "scratch": ["mode=scratch", "finetune.lr_grid=[0.003,0.03]"]}
    done = {}
    for name, extra in runs.items():
        outcome = run_probe(config(data, out / name, *common, *extra))
        done[name] = {"doc": read_result(outcome.out_dir),
                      "state": torch.load(outcome.out_dir / "model.pt", weights_only=True),
                      "history": (outcome.out_dir / "history.csv").read_text()}
    return done


@pytest.fixture(scope="module")
def selection_runs(data, checkpoint, tmp_path_factory) -> tuple[dict, dict]:
    """The runs above twice: scored on test.h5, and on another labelled file (clean_train.h5) as the "test" split."""
    root = tmp_path_factory.mktemp("selection")
    return (_selection_runs(data, checkpoint, root / "a", data / "test.h5"),
            _selection_runs(data, checkpoint, root / "b", data / "clean_train.h5"))


def _equal_states(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal_states(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal_states(x, y) for x, y in zip(a, b, strict=True))
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def test_nothing_of_the_test_split_reaches_a_fit_or_a_choice(selection_runs):
    """Swap the whole test split for another file: every choice (L2 per head, epoch, learning rate), every dev
    score, every fitted weight and every history row stays bit-identical; only the test numbers move."""
    a, b = selection_runs
    for name in a:
        da, db = a[name]["doc"], b[name]["doc"]
        assert da["val"] == db["val"], name
        assert da.get("sweep") == db.get("sweep") and a[name]["history"] == b[name]["history"], name
        assert [d["val"] for d in da.get("draws", [])] == [d["val"] for d in db.get("draws", [])], name
        assert _equal_states(a[name]["state"], b[name]["state"]), name
        assert da["run"]["n_clips"]["test"] == 16 and db["run"]["n_clips"]["test"] == 40, name


def test_every_protocol_fits_all_of_train_and_selects_on_dev(selection_runs, data):
    a, _ = selection_runs
    for name, r in a.items():
        run = r["doc"]["run"]
        assert run["selection"] == {"on": "dev", "file": str(data / "dev.h5"), "clips": 8}, name
        assert run["n_clips"]["train_used"] == 40 and run["n_clips"]["val"] == 8, name
        assert run["data"]["dev"] == str(data / "dev.h5"), name
    lin = a["linear"]["doc"]
    assert lin["val"]["l2_class"] in L2_GRID and lin["val"]["l2_direction"] in L2_GRID
    assert a["linear"]["history"].startswith("l2,dev_accuracy,dev_azimuth_error")
    # The L2 chosen per head is the best dev score of the path (ties: the stronger penalty, listed first).
    rows = list(csv.DictReader(a["linear"]["history"].splitlines()))
    best_acc = max(float(r["dev_accuracy"]) for r in rows)
    assert lin["val"]["accuracy"] == pytest.approx(best_acc)
    assert float(next(r for r in rows if float(r["dev_accuracy"]) == best_acc)["l2"]) == lin["val"]["l2_class"]


def test_random_encoder_draws_and_the_scratch_sweep_are_recorded(selection_runs):
    a, _ = selection_runs
    rand = a["random-linear"]["doc"]
    draws = rand["draws"]
    assert [d["draw"] for d in draws] == [0, 1] and draws[0]["encoder_seed"] == 0 != draws[1]["encoder_seed"]
    assert rand["run"]["random_draws"] == 2 and rand["n_predictions"] == 2 * 16
    assert rand["accuracy"] == pytest.approx(np.mean([d["accuracy"] for d in draws]))
    assert rand["azimuth_error_mean"] == pytest.approx(np.mean([d["azimuth_error_mean"] for d in draws]))
    assert len(a["random-linear"]["state"]["draw_heads"]) == 2
    scratch = a["scratch"]["doc"]
    sweep = scratch["sweep"]
    assert [r["lr"] for r in sweep] == [0.003, 0.03] and sum(r["chosen"] for r in sweep) == 1
    chosen = next(r for r in sweep if r["chosen"])
    assert chosen["val_loss"] == min(r["val_loss"] for r in sweep)  # optim.select_on: loss
    assert scratch["run"]["lr"] == chosen["lr"] and scratch["run"]["best_epoch"] == chosen["best_epoch"]
    lrs = {row.split(",")[0] for row in a["scratch"]["history"].splitlines()[1:]}
    assert lrs == {"0.003", "0.03"}  # every run of the sweep is in history.csv


def test_the_test_split_is_loaded_after_every_fit(data, checkpoint, tmp_path, monkeypatch):
    """The order of events inside run_probe, recorded by wrappers that call the real functions."""
    import mcsimclr.probe.run as probe_run

    events: list[str] = []

    def spy(name, real, tag):
        def wrapper(*args, **kwargs):
            events.append(tag(*args, **kwargs))
            return real(*args, **kwargs)
        monkeypatch.setattr(probe_run, name, wrapper)

    spy("load_store", probe_run.load_store, lambda info, **_: f"load {Path(info.path).name}")
    spy("fit_dev_heads", probe_run.fit_dev_heads, lambda *a, **k: "fit")
    spy("finetune", probe_run.finetune, lambda *a, **k: "fit")
    for mode, extra in (("random-linear", ["linear.solver=dev", "linear.random_draws=2"]),
                        ("finetune", ["finetune.lr_grid=[0.003,0.03]"])):
        events.clear()
        run_probe(config(data, tmp_path / mode, f"mode={mode}", f"checkpoint={checkpoint}",
                         f"data.dev={data / 'dev.h5'}", *extra))
        assert events.count("fit") == 2 and events.count("load test.h5") == 1, (mode, events)
        assert events.index("load test.h5") > max(i for i, e in enumerate(events) if e == "fit"), (mode, events)
