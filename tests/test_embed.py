"""`mcsimclr embed` for real on tiny data: a tiny `simulate build`, a tiny `simulate scenes` and a few pretraining
steps; clip embeddings against the probe's whole-clip protocol computed here window by window, frame embeddings
against `SpatialEncoder.frames`, the joins back to clips, scenes and label frames, and the clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import mcsimclr
from mcsimclr.cli import main
from mcsimclr.probe.embed_file import EMBED_FORMAT, embed_file, read_embeddings
from mcsimclr.probe.windows import window_starts
from simulate.cli import main as simulate


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(out), "--no-progress",
                     "source.synthetic.splits.clean_train=4", "source.synthetic.splits.test=6"]) == 0
    return out


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scenes")
    assert simulate(["scenes", "--config", "configs/simulate/scenes-tiny.yaml", "--out", str(out),
                     "scene.splits.train=1"]) == 0
    return out / "test.h5"


@pytest.fixture(scope="module")
def checkpoint(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain") / "run"
    assert main(["pretrain", "--config", "configs/pretrain/tiny.yaml", f"data.train={data / 'noisy_train.h5'}",
                 f"out_dir={out}"]) == 0
    return out / "checkpoints" / "last.ckpt"


def _audio(path: Path, i: int) -> torch.Tensor:
    with h5py.File(path) as f:
        o, n = int(f["offsets"][i]), int(f["lengths"][i])
        return torch.from_numpy(np.asarray(f["audio"][:, o : o + n], dtype=np.float32))


def test_clip_level_is_the_mean_over_the_probe_windows(data, checkpoint, tmp_path):
    out = embed_file(checkpoint=checkpoint, data=data / "test.h5", out=tmp_path / "clip.h5", window_seconds=0.25,
                     hop_seconds=0.1, batch=3, accelerator="cpu")
    attrs, arrays = read_embeddings(out)
    model = mcsimclr.load_encoder(checkpoint)
    assert attrs["format"] == EMBED_FORMAT and attrs["level"] == "clip" and attrs["data_kind"] == "clips"
    assert attrs["checkpoint"] == str(checkpoint) and len(attrs["checkpoint_sha256"]) == 64
    assert attrs["setting"] == "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"
    assert attrs["window_samples"] == 4000 and attrs["hop_samples"] == 1600 and attrs["embed_dim"] == model.embed_dim
    with h5py.File(data / "test.h5") as f:
        assert attrs["data_config_sha256"] == f.attrs["config_sha256"]
        n = int(f.attrs["n_clips"])
        for key in ("label", "azimuth_deg", "distance_m", "rt60_measured", "source_pos"):
            np.testing.assert_array_equal(arrays[key], f[key][()], err_msg=key)
        assert list(arrays["source_id"]) == [s.decode() for s in f["source_id"][()]]
        np.testing.assert_array_equal(arrays["n_samples"], f["lengths"][()])
    assert arrays["embeddings"].shape == (n, model.embed_dim) and arrays["embeddings"].dtype == np.float32
    np.testing.assert_array_equal(arrays["clip_index"], np.arange(n))
    n_windows = []
    with torch.no_grad():
        for i in range(n):
            audio = _audio(data / "test.h5", i)
            audio = torch.nn.functional.pad(audio, (0, max(0, 4000 - audio.shape[1])))
            starts = window_starts(audio.shape[1], window=4000, hop=1600)
            n_windows.append(len(starts))
            windows = torch.stack([audio[:, s : s + 4000] for s in starts])
            expected = model(windows).mean(0).numpy()
            np.testing.assert_allclose(arrays["embeddings"][i], expected, rtol=1e-4, atol=1e-5, err_msg=str(i))
    assert min(n_windows) > 1  # every clip is several windows: the mean is really taken


def test_frame_level_on_scenes_joins_back(scenes, checkpoint, tmp_path):
    out = tmp_path / "frames.h5"
    assert main(["embed", "--checkpoint", str(checkpoint), "--data", str(scenes), "--out", str(out),
                 "--accelerator", "cpu", "--batch", "2"]) == 0
    assert not out.with_name(out.name + ".partial").exists()
    attrs, a = read_embeddings(out)
    model = mcsimclr.load_encoder(checkpoint)
    hl, m = model.features.hop_length, model.encoder.min_frames
    assert attrs["level"] == "frame" and attrs["data_kind"] == "scenes"  # auto: frame for a scene file
    assert attrs["frame_hop_s"] == pytest.approx(model.frame_hop_s) and attrs["step_samples"] == hl * m
    assert attrs["hop_samples"] % attrs["step_samples"] == 0 and attrs["hop_samples"] <= attrs["window_samples"] // 2
    with h5py.File(scenes) as f:
        n, hop_s = int(f.attrs["n_scenes"]), float(f.attrs["label_hop_s"])
        lengths, n_frames, frame_offsets = f["lengths"][()], f["n_frames"][()], f["frame_offsets"][()]
        scene_class = f["frames/class_index"][()]
    expected_steps = (1 + lengths // hl) // m
    np.testing.assert_array_equal(a["lengths"], expected_steps)
    np.testing.assert_array_equal(a["offsets"], np.concatenate([[0], np.cumsum(expected_steps)[:-1]]))
    total = int(expected_steps.sum())
    assert a["frames"].shape == (total, model.encoder.frame_dim) and a["frames"].dtype == np.float32
    for key in ("item_index", "step", "time_s", "label_frame", "label_row"):
        assert a[key].shape == (total,), key
    for i in range(n):
        rows = slice(a["offsets"][i], a["offsets"][i] + a["lengths"][i])
        assert (a["item_index"][rows] == i).all()
        np.testing.assert_array_equal(a["step"][rows], np.arange(a["lengths"][i]))
    # The centre of step k is the mean of the centres (f * hop_length) of its min_frames feature frames.
    np.testing.assert_allclose(a["time_s"], (a["step"] * m + (m - 1) / 2) * hl / model.sample_rate, rtol=0,
                               atol=1e-12)
    assert np.all(np.diff(a["time_s"][a["item_index"] == 0]) == pytest.approx(model.frame_hop_s))
    inside = a["label_frame"] >= 0
    lf, t = a["label_frame"][inside], a["time_s"][inside]
    assert np.all(lf * hop_s <= t + 1e-9) and np.all(t < (lf + 1) * hop_s)
    assert np.all(lf < n_frames[a["item_index"][inside]])
    outside = ~inside
    assert np.all(a["time_s"][outside] >= n_frames[a["item_index"][outside]] * hop_s - 1e-9)
    np.testing.assert_array_equal(a["label_row"][inside], frame_offsets[a["item_index"][inside]] + lf)
    assert (a["label_row"][outside] == -1).all()
    assert scene_class[a["label_row"][inside]].shape == (int(inside.sum()), scene_class.shape[1])  # the join
    np.testing.assert_array_equal(a["frame_offsets"], frame_offsets)
    # Overlapping windows (1 s at 0.48 s): each step is the mean of the windows that cover it, checked by hand.
    window, hop, step = attrs["window_samples"], attrs["hop_samples"], hl * m
    n_w = (1 + window // hl) // m
    with torch.no_grad():
        audio = _audio(scenes, 0)
        sums, counts = np.zeros((expected_steps[0], model.encoder.frame_dim)), np.zeros(expected_steps[0])
        start = 0
        while True:
            crop = torch.nn.functional.pad(audio[:, start * step :], (0, window))[:, :window]
            seq = model.frames(crop[None])[0].numpy()
            keep = min(n_w, expected_steps[0] - start)
            sums[start : start + keep] += seq[:keep]
            counts[start : start + keep] += 1
            if start + n_w >= expected_steps[0]:
                break
            start += hop // step
        assert counts.max() > 1  # windows overlap
        np.testing.assert_allclose(a["frames"][: expected_steps[0]], sums / counts[:, None], rtol=1e-4, atol=1e-5)


def test_one_window_per_item_is_the_encoder_frame_sequence(data, checkpoint, tmp_path):
    """Frame level on a clip file with a window as long as the clips: exactly ``SpatialEncoder.frames``."""
    with h5py.File(data / "test.h5") as f:
        lengths = f["lengths"][()]
    model = mcsimclr.load_encoder(checkpoint)
    i = int(np.argmax(lengths == lengths.max()))
    out = embed_file(checkpoint=checkpoint, data=data / "test.h5", out=tmp_path / "f.h5", level="frame",
                     window_seconds=lengths.max() / model.sample_rate, accelerator="cpu")
    attrs, a = read_embeddings(out)
    assert attrs["level"] == "frame" and attrs["data_kind"] == "clips" and "label_frame" not in a
    np.testing.assert_array_equal(a["label"], h5py.File(data / "test.h5")["label"][()])
    with torch.no_grad():
        expected = model.frames(_audio(data / "test.h5", i)[None])[0].numpy()
    rows = slice(a["offsets"][i], a["offsets"][i] + a["lengths"][i])
    assert a["lengths"][i] == expected.shape[0]
    np.testing.assert_allclose(a["frames"][rows], expected, rtol=1e-5, atol=1e-6)


def test_errors(data, scenes, checkpoint, tmp_path, capsys):
    def embed(*extra: str, data_file: Path = data / "test.h5", out: Path = tmp_path / "o.h5") -> str:
        assert main(["embed", "--checkpoint", str(checkpoint), "--data", str(data_file), "--out", str(out),
                     "--accelerator", "cpu", *extra]) == 2
        return capsys.readouterr().err

    assert "data file not found" in embed(data_file=tmp_path / "none.h5")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["format"] = "something.else"
    assert "not a `simulate build` or `simulate scenes` file (format 'something.else')" in embed(data_file=foreign)
    rate = tmp_path / "rate.h5"
    shutil.copy(data / "test.h5", rate)
    with h5py.File(rate, "r+") as f:
        f.attrs["sample_rate"] = 24000
    assert "sample rate 24000 Hz, but the checkpoint" in embed(data_file=rate)
    array = tmp_path / "array.h5"
    shutil.copy(data / "test.h5", array)
    with h5py.File(array, "r+") as f:
        f.attrs["mic_offsets"] = 2 * f.attrs["mic_offsets"]
    assert "does not match the checkpoint" in embed(data_file=array)
    assert "clip level needs a clip file" in embed("--level", "clip", data_file=scenes)
    assert "not a whole number of the encoder's steps" in embed("--level", "frame", "--hop", "0.03")
    if not torch.cuda.is_available():
        assert "asks for a GPU (--accelerator gpu) and CUDA is not available" in embed("--accelerator", "gpu")
    err = embed("--window", "0.01")
    assert "needs at least one step" in err
    assert main(["embed", "--checkpoint", str(tmp_path / "none.ckpt"), "--data", str(data / "test.h5"), "--out",
                 str(tmp_path / "o.h5")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert not list(tmp_path.glob("o.h5*"))  # no output, no partial file
    done = tmp_path / "done.h5"
    assert main(["embed", "--checkpoint", str(checkpoint), "--data", str(data / "test.h5"), "--out", str(done),
                 "--accelerator", "cpu"]) == 0
    assert "exists; pass --overwrite" in embed(out=done)
    assert main(["embed", "--checkpoint", str(checkpoint), "--data", str(data / "test.h5"), "--out", str(done),
                 "--accelerator", "cpu", "--overwrite"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["embed", "--help"])
    shown = capsys.readouterr().out
    assert "label_row" in shown and "offsets[i] : offsets[i] + lengths[i]" in shown and "Device policy" in shown


def test_interrupted_write_leaves_no_file(data, checkpoint, tmp_path, monkeypatch):
    """A failure while the file is written removes the partial file; no OUT appears."""
    import mcsimclr.probe.embed_file as ef

    def boom(partial, final):
        raise KeyboardInterrupt

    monkeypatch.setattr(ef, "publish", boom)
    out = tmp_path / "x.h5"
    with pytest.raises(KeyboardInterrupt):
        embed_file(checkpoint=checkpoint, data=data / "test.h5", out=out, accelerator="cpu")
    assert not list(tmp_path.iterdir())
