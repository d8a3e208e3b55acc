"""`mcsimclr seld` for real on tiny data: tiny `simulate scenes` train/dev/test files and a few pretraining steps
on the train scenes, then every mode through the CLI, the label fraction, the ChannelSwap label transform against
physics (a pyroomacoustics room rendered with the source moved by the symmetry), the bad-input errors, the order
of reads (test only after selection) and the ADPIT loss going down."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pyroomacoustics as pra
import pytest
import torch

import mcsimclr.seld.run as seld_run
from mcsimclr.augment.array_symmetry import wrap_degrees
from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.cli import main
from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.config import load_config
from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.probe.encoders import random_encoder
from mcsimclr.seld.accdoa import class_events, decode
from mcsimclr.seld.adpit import adpit_loss
from mcsimclr.seld.config import SeldConfig
from mcsimclr.seld.data import (
    fraction_scenes,
    gather_windows,
    load_scenes,
    swap_windows,
    symmetry_matrices,
    tiling_windows,
)
from mcsimclr.seld.model import SeldModel, pool_to_label_frames
from mcsimclr.seld.run import run_seld
from simulate.cli import main as simulate

TINY = "configs/seld/tiny.yaml"
SPLITS = ["scene.splits={train: 6, dev: 3, test: 3}", "source.synthetic.splits={train: 12, dev: 8, test: 8}"]
MODES = ("linear", "finetune", "scratch", "random-linear")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    """6 train, 3 dev and 3 test scenes of 2 s (configs/simulate/scenes-tiny.yaml with a dev split)."""
    out = tmp_path_factory.mktemp("scenes")
    assert simulate(["scenes", "--config", "configs/simulate/scenes-tiny.yaml", "--out", str(out), "--no-progress",
                     *SPLITS]) == 0
    return out


@pytest.fixture(scope="module")
def checkpoint(scenes, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain") / "run"
    assert main(["pretrain", "--config", "configs/pretrain/tiny.yaml", f"data.train={scenes / 'train.h5'}",
                 f"out_dir={out}"]) == 0
    return out / "checkpoints" / "last.ckpt"


def seld_args(scenes: Path, out: Path, *extra: str) -> list[str]:
    return ["seld", "--config", TINY, f"data.train={scenes / 'train.h5'}", f"data.dev={scenes / 'dev.h5'}",
            f"data.test={scenes / 'test.h5'}", "--out", str(out), *extra]


def config(scenes: Path, out: Path, *overrides: str) -> SeldConfig:
    return load_config(SeldConfig, TINY, [f"data.train={scenes / 'train.h5'}", f"data.dev={scenes / 'dev.h5'}",
                                          f"data.test={scenes / 'test.h5'}", f"out_dir={out}", *overrides])


def _in(value, lo: float, hi: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi


@pytest.fixture(scope="module")
def results(scenes, checkpoint, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seld")
    for mode in MODES:
        assert main(seld_args(scenes, root / mode, "--mode", mode, "--checkpoint", str(checkpoint))) == 0, mode
    return root


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_writes_a_complete_result(results, scenes, checkpoint, mode):
    out = results / mode
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["format"] == "mcsimclr.seld_result" and doc["run"]["mode"] == mode
    m24, m23 = doc["dcase2024"], doc["dcase2023"]
    assert doc["run"]["with_distance"] is True  # simulated scenes know every distance
    for key in ("F20", "LR_CD"):
        assert _in(m24[key], 0, 1) and _in(m23[key], 0, 1)
    assert _in(m24["ER20"], 0, 1e6) and _in(m23["ER20"], 0, 1e6) and _in(m24["SELD_score"], 0, 2)
    assert m24["DOAE_CD"] is None or _in(m24["DOAE_CD"], 0, 180)  # None: no matched pair in any class
    assert _in(m23["LE_CD"], 0, 180)
    assert "F20" in doc["dev"]["dcase2024"] and doc["run"]["checkpoint"] == str(checkpoint)
    assert len(doc["run"]["checkpoint_sha256"]) == 64 and set(doc["run"]["data"]) == {"train", "dev", "test"}
    epochs = doc["run"]["epochs"]
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 1 + epochs and 0 <= doc["run"]["selected_epoch"] < epochs
    cfg = load_config(SeldConfig, out / "config.yaml")
    assert cfg.mode == mode
    preds = np.load(out / "predictions.npz")
    with h5py.File(scenes / "test.h5", "r") as f:
        n_frames = f["n_frames"][()]
    for i, n in enumerate(n_frames):
        assert preds[f"scene{i}_active"].shape[0] == n
    setting = doc["run"]["setting"]
    assert setting.startswith("random init") if mode in ("scratch", "random-linear") else "MC-SimCLR" in setting


def test_linear_mode_leaves_the_encoder_unchanged(scenes, checkpoint, tmp_path):
    outcome = run_seld(config(scenes, tmp_path / "r", f"checkpoint={checkpoint}"))
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    for name, value in outcome.model.encoder.encoder.state_dict().items():
        assert torch.equal(value, saved[f"encoder.{name}"]), name


def test_fraction_half_trains_on_half_the_scenes(scenes, checkpoint, tmp_path):
    assert main(seld_args(scenes, tmp_path / "half", "--mode", "finetune", "--checkpoint", str(checkpoint),
                          "--fraction", "0.5")) == 0
    run = json.loads((tmp_path / "half" / "metrics.json").read_text())["run"]
    assert run["n_scenes"]["train_used"] == 3 and len(run["train_scenes"]) == 3
    small, half, full = (set(fraction_scenes(20, fraction=f, seed=3).tolist()) for f in (0.2, 0.5, 1.0))
    assert len(small) == 4 and len(half) == 10 and small <= half <= full == set(range(20))


def test_tiling_windows_cover_the_scene():
    rows = tiling_windows(np.array([20, 25, 4]), np.array([0, 1, 2]), window_frames=10)
    assert rows.tolist() == [[0, 0], [0, 10], [1, 0], [1, 10], [2, 0]]


def test_pooling_to_label_frames_is_the_mean_of_each_block():
    x = torch.randn(2, 12, 5)
    ref = x.numpy().reshape(2, 4, 3, 5).mean(axis=2)
    np.testing.assert_allclose(pool_to_label_frames(x, 4).numpy(), ref, rtol=1e-6, atol=1e-6)


def _one_event_labels(azimuth: float, elevation: float, distance: float, frames: int = 3) -> FrameLabels:
    shape = (frames, 1)
    return FrameLabels(active=np.ones(shape, bool), class_index=np.zeros(shape, np.int16),
                       azimuth_deg=np.full(shape, azimuth, np.float32),
                       elevation_deg=np.full(shape, elevation, np.float32),
                       distance_m=np.full(shape, distance, np.float32), hop_s=0.1)


def test_label_transform_matches_transform_azimuth_for_every_symmetry():
    swap = ChannelSwap(ARRAY_PRESETS["circular4"])
    matrices = symmetry_matrices(swap)
    assert swap.n_symmetries == 8
    rng = np.random.default_rng(0)
    for _ in range(5):
        az, el, d = rng.uniform(-180, 180), rng.uniform(-60, 60), rng.uniform(0.5, 3)
        ev, _ = class_events(_one_event_labels(az, el, d), n_classes=2, with_distance=True)
        for s, sym in enumerate(swap.symmetries):
            index = torch.tensor([s])
            audio = torch.zeros(1, 4, 10)
            _, moved = swap_windows(swap, matrices, audio, torch.from_numpy(ev)[None], index)
            # Decode the moved target as a perfect ACCDOA output (duplicated over the 3 tracks).
            out = moved[0, :, :, 0, :].permute(0, 2, 1)[:, None].expand(-1, 3, -1, -1)  # (frames, 3, 4, classes)
            lab = decode(out.reshape(3, -1), n_classes=2, with_distance=True, hop_s=0.1)
            expected_az = float(swap.transform_azimuth(torch.tensor([az]), index)[0])
            assert abs(wrap_degrees(lab.azimuth_deg[0, 0] - expected_az)) < 1e-3, str(sym)
            assert abs(lab.elevation_deg[0, 0] - el) < 1e-3 and abs(lab.distance_m[0, 0] - d) < 1e-4


@pytest.mark.parametrize("preset", ["circular4", "tetrahedral"])
def test_label_transform_equals_the_scene_rendered_with_the_source_moved(preset):
    """Physics: render a source at s in an anechoic pyroomacoustics room, and the same source at g s (the symmetry
    applied about the array centre). ChannelSwap of the first recording equals the second recording, and the
    transformed label of the first equals the direction of g s from the array (azimuth and elevation)."""
    fs = 16000
    offsets = np.asarray(ARRAY_PRESETS[preset])
    centre = np.array([3.0, 3.0, 1.2])
    mics = (centre + offsets).T
    src = np.array([4.1, 3.7, 1.9])
    signal = np.random.default_rng(1).standard_normal(fs // 4)
    swap = ChannelSwap(offsets)
    matrices = symmetry_matrices(swap)
    assert swap.n_symmetries == {"circular4": 8, "tetrahedral": 4}[preset]

    def render(position: np.ndarray) -> np.ndarray:
        room = pra.ShoeBox([6.0, 6.0, 3.0], fs=fs, max_order=0)
        room.add_source(position, signal=signal)
        room.add_microphone_array(mics)
        room.simulate()
        return room.mic_array.signals[:, : fs // 4 + 200]

    def direction(position: np.ndarray) -> tuple[float, float, float]:
        v = position - centre
        return (math.degrees(math.atan2(v[1], v[0])), math.degrees(math.atan2(v[2], math.hypot(v[0], v[1]))),
                float(np.linalg.norm(v)))

    original = torch.from_numpy(render(src)).float()[None]
    az, el, d = direction(src)
    ev, _ = class_events(_one_event_labels(az, el, d, frames=1), n_classes=1, with_distance=True)
    for s, sym in enumerate(swap.symmetries):
        moved_src = centre + sym.matrix() @ (src - centre)
        audio, events = swap_windows(swap, matrices, original, torch.from_numpy(ev)[None], torch.tensor([s]))
        reference = render(moved_src)  # float32 round-off of the mic positions: 1e-4 of the peak
        np.testing.assert_allclose(audio[0].numpy(), reference, atol=1e-4 * np.abs(reference).max(),
                                   err_msg=str(sym))
        maz, mel, md = direction(moved_src)
        vec = events[0, 0, 0, 0].numpy()
        assert abs(wrap_degrees(math.degrees(math.atan2(vec[1], vec[0])) - maz)) < 1e-4, str(sym)
        assert abs(math.degrees(math.asin(vec[2])) - mel) < 1e-4 and abs(vec[3] * 10 - md) < 1e-5


def test_adpit_loss_goes_down_in_a_few_steps(scenes):
    torch.manual_seed(0)
    cfg = load_config(SeldConfig, TINY)
    data = load_scenes(scenes / "train.h5", n_classes=12, with_distance=True, distance_scale=10.0,
                       device=torch.device("cpu"))
    features = SpatialFeatures.from_config(cfg.model.features, n_mics=4)
    kwargs = {"in_channels": features.out_channels, "n_bins": features.n_mels, "n_mel_channels": 4,
              **cfg.model.encoder.kwargs()}
    encoder = random_encoder(features=features.get_config(), encoder=kwargs, mic_offsets=data_offsets(scenes),
                             seed=0)
    model = SeldModel(encoder, n_classes=12, with_distance=True).train()
    audio, events, count = gather_windows(data, np.array([[0, 0], [1, 5], [2, 10], [3, 0]]), window_frames=10)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = adpit_loss(model(audio, 10), events, count)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def data_offsets(scenes: Path) -> np.ndarray:
    with h5py.File(scenes / "train.h5", "r") as f:
        return np.asarray(f.attrs["mic_offsets"])


def test_test_file_is_read_only_after_the_epoch_is_selected(scenes, checkpoint, tmp_path, monkeypatch):
    calls = []
    load, fit = seld_run.load_scenes, seld_run.fit_linear_head

    def logged_load(path, **kwargs):
        calls.append(("load", Path(path).name))
        return load(path, **kwargs)

    def logged_fit(*args, **kwargs):
        result = fit(*args, **kwargs)
        calls.append(("selected", result.selection.epoch))
        return result

    monkeypatch.setattr(seld_run, "load_scenes", logged_load)
    monkeypatch.setattr(seld_run, "fit_linear_head", logged_fit)
    run_seld(config(scenes, tmp_path / "r", f"checkpoint={checkpoint}"))
    assert [c[0] for c in calls] == ["load", "load", "selected", "load"]
    assert calls[0][1] == "train.h5" and calls[1][1] == "dev.h5" and calls[3][1] == "test.h5"


def _copy(src: Path, dst: Path, edit) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def test_a_clip_file_is_refused(scenes, checkpoint, tmp_path, capsys):
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(tmp_path / "clips"),
                     "--no-progress", "source.synthetic.splits={test: 2}"]) == 0
    clips = tmp_path / "clips" / "test.h5"
    assert main(seld_args(scenes, tmp_path / "r", "--checkpoint", str(checkpoint), f"data.dev={clips}")) == 2
    err = capsys.readouterr().err
    assert str(clips) in err and "a clip file" in err and "mcsimclr probe" in err
    assert not (tmp_path / "r").exists()


def test_class_lists_must_agree(scenes, checkpoint, tmp_path, capsys):
    other = _copy(scenes / "test.h5", tmp_path / "test.h5",
                  lambda f: f.attrs.__setitem__("class_names", np.array(list(f.attrs["class_names"])[::-1],
                                                                        dtype=h5py.string_dtype())))
    assert main(seld_args(scenes, tmp_path / "r", "--checkpoint", str(checkpoint), f"data.test={other}")) == 2
    err = capsys.readouterr().err
    assert "class lists differ" in err and str(other) in err and str(scenes / "train.h5") in err


def test_checkpoint_array_must_match_the_data(scenes, checkpoint, tmp_path, capsys):
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    ckpt["mcsimclr"]["mic_offsets"] = (2 * np.asarray(ckpt["mcsimclr"]["mic_offsets"])).tolist()
    bigger = tmp_path / "bigger.ckpt"
    torch.save(ckpt, bigger)
    for mode in ("linear", "scratch"):
        assert main(seld_args(scenes, tmp_path / mode, "--mode", mode, "--checkpoint", str(bigger))) == 2
        err = capsys.readouterr().err
        assert "does not match the checkpoint" in err and str(scenes / "train.h5") in err
    rate = _copy(scenes / "test.h5", tmp_path / "rate.h5", lambda f: f.attrs.__setitem__("sample_rate", 24000))
    assert main(seld_args(scenes, tmp_path / "rate", "--checkpoint", str(checkpoint), f"data.test={rate}")) == 2
    assert "sample rate 24000 Hz" in capsys.readouterr().err


def test_other_errors(scenes, checkpoint, tmp_path, capsys):
    assert main(seld_args(scenes, tmp_path / "a", "--mode", "linear")) == 2
    assert "needs a pretrained checkpoint" in capsys.readouterr().err
    assert main(seld_args(scenes, tmp_path / "b", "--checkpoint", str(checkpoint), "data.window_seconds=0.25")) == 2
    assert "whole number" in capsys.readouterr().err
    assert main(seld_args(scenes, tmp_path / "c", "--checkpoint", str(checkpoint), "data.dev=")) == 2
    assert "data.dev" in capsys.readouterr().err
    assert main(seld_args(scenes, tmp_path / "c", "--checkpoint", str(checkpoint), "data.dev=''")) == 2
    err = capsys.readouterr().err
    assert "data.dev must name scene files" in err and "source.dcase.hold_out makes one" in err
    assert main(seld_args(scenes, tmp_path / "d", "--checkpoint", str(checkpoint))) == 0
    assert main(seld_args(scenes, tmp_path / "d", "--checkpoint", str(checkpoint))) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_configs_load():
    for name in ("default", "tiny", "demo"):
        cfg = load_config(SeldConfig, f"configs/seld/{name}.yaml")
        assert cfg.heads.distance == "auto"
    assert load_config(SeldConfig, TINY, ["heads.distance=false"]).heads.distance is False


def test_dev_selection_best_f20_then_lower_doae_then_earlier():
    from mcsimclr.seld.selection import DevSelection

    net = torch.nn.Linear(1, 1)
    sel = DevSelection()

    def dev(f20: float, doae: float) -> dict:
        return {"dcase2024": {"F20": f20, "DOAE_CD": doae}}

    steps = [(0.1, float("nan")), (0.1, 40.0), (0.3, 50.0), (0.3, 30.0), (0.3, 30.0), (0.2, 1.0)]
    for epoch, (f20, doae) in enumerate(steps):
        with torch.no_grad():
            net.weight.fill_(epoch)
        sel.update(epoch, dev(f20, doae), net)
    assert sel.epoch == 3 and sel.f20 == 0.3 and sel.doae == 30.0
    sel.restore(net)
    assert float(net.weight) == 3.0


@pytest.mark.slow
def test_the_model_overfits_four_windows_to_exact_seld(scenes, checkpoint):
    """Targets, model, decoding and metrics agree: 400 Adam steps on 4 windows of 2 s (about 40 s on a CPU) leave
    every reference event detected at its direction (ER20 0, a few degrees of error) on those windows."""
    from mcsimclr.checkpoint import load_encoder
    from mcsimclr.seld.metrics import seld_metrics_2024

    torch.manual_seed(0)
    data = load_scenes(scenes / "train.h5", n_classes=12, with_distance=True, distance_scale=10.0,
                       device=torch.device("cpu"))
    model = SeldModel(load_encoder(checkpoint), n_classes=12, with_distance=True).train()
    rows = np.array([[0, 0], [1, 0], [2, 0], [3, 0]])
    audio, events, count = gather_windows(data, rows, window_frames=20)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        loss = adpit_loss(model(audio, 20), events, count)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(audio, 20)
    preds = [decode(o.reshape(20, -1), n_classes=12, with_distance=True, hop_s=0.1) for o in out]
    refs = [data.labels[s] for s, _ in rows]
    m = seld_metrics_2024(preds, refs, n_classes=12, use_distance=True)
    present = sorted({int(c) for r in refs for c in r.class_index[r.active]})
    assert m["ER20"] < 0.1 and m["DOAE_CD"] < 10
    assert np.all(m["per_class"]["F20"][present] > 0.9)


def test_distance_head_follows_the_data(scenes, checkpoint, tmp_path, capsys):
    def no_distance(f):
        d = f["frames/distance_m"]
        d[...] = np.full(d.shape, np.nan, dtype=d.dtype)

    train = _copy(scenes / "train.h5", tmp_path / "train.h5", no_distance)
    dev = _copy(scenes / "dev.h5", tmp_path / "dev.h5", no_distance)
    outcome = run_seld(config(scenes, tmp_path / "auto", f"checkpoint={checkpoint}", f"data.train={train}",
                              f"data.dev={dev}"))
    assert outcome.metrics["run"]["with_distance"] is False and outcome.model.head.coords == 3
    assert "RDE_CD" not in outcome.metrics["dcase2024"] and "RDE_CD" not in outcome.metrics["dev"]["dcase2024"]
    assert main(seld_args(scenes, tmp_path / "true", "--checkpoint", str(checkpoint), f"data.train={train}",
                          "heads.distance=true")) == 2
    assert "heads.distance=true" in capsys.readouterr().err


def test_the_trial_script_frame_diagnostics_count_class_frames_and_active_frames(scenes, tmp_path):
    """scripts/seld_dev_trials.py's sed_f1 on the labels themselves (1, 1), on nothing predicted (0, 0), and on every
    event given the next class (0 for SED, 1 for activity)."""
    import runpy

    from mcsimclr.core.scene_schema import open_scene_file
    from mcsimclr.seld.evaluate import labels_arrays

    sed_f1 = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "seld_dev_trials.py"), run_name="x")["sed_f1"]
    with open_scene_file(scenes / "dev.h5") as f:
        labels, n_classes = [f.labels(i) for i in range(len(f))], len(f.class_names)
    arrays = labels_arrays(labels)
    assert sum(int(a.sum()) for k, a in arrays.items() if k.endswith("_active")) > 0
    cases = {"same": arrays, "none": {k: np.zeros_like(a) if k.endswith("_active") else a for k, a in arrays.items()},
             "next": {k: np.where(a >= 0, (a + 1) % n_classes, a) if k.endswith("_class_index") else a
                      for k, a in arrays.items()}}
    got = {}
    for name, z in cases.items():
        np.savez(tmp_path / f"{name}.npz", **z)
        got[name] = sed_f1(tmp_path / f"{name}.npz", scenes / "dev.h5", n_classes)
    assert got == {"same": (1.0, 1.0), "none": (0.0, 0.0), "next": (0.0, 1.0)}
