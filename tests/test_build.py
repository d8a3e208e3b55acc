"""`simulate build` end to end: real rooms, real HDF5 files, resume after kill, clear errors."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from mcsimclr.core.h5schema import SpatialClipsFile
from simulate.cli import main
from simulate.verify import verify_file

TINY = "configs/simulate/tiny.yaml"
ONE_SPLIT = ["source.synthetic.splits={test: 24}", "output.chunk_clips=2"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulate.cli", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The one-split build, uninterrupted, in this process with one worker."""
    out = tmp_path_factory.mktemp("reference")
    assert main(["build", "--config", TINY, "--out", str(out), "--no-progress", *ONE_SPLIT]) == 0
    return out / "test.h5"


def test_tiny_build_conforms_and_describes_itself(tmp_path, capsys):
    assert main(["build", "--config", TINY, "--out", str(tmp_path), "--no-progress"]) == 0
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["clean_train.h5", "dev.h5", "noisy_train.h5", "test.h5"]
    for f in files:
        assert verify_file(f, check_audio=True) == []
    with SpatialClipsFile(tmp_path / "dev.h5") as clips:
        assert len(clips) == 8 and clips.attrs["split"] == "dev"
        assert all(s.startswith("synthetic:seed=0:split=dev:") for s in clips.column("source_id"))
    with SpatialClipsFile(tmp_path / "noisy_train.h5") as clips:
        assert len(clips) == 12
        a = clips.attrs
        assert a["sample_rate"] == 16000 and a["n_mics"] == 4 and a["schema_version"] == 1
        assert a["split"] == "noisy_train" and a["backend"] == "pyroomacoustics"
        assert clips.config()["room"]["rt60"] == [0.1, 0.4]
        assert len(clips.class_names) >= 10
        audio = clips.audio(0)
        assert audio.shape == (4, clips.column("lengths")[0]) and audio.dtype == np.float32
        assert np.max(np.abs(audio)) == pytest.approx(0.5, rel=1e-5)  # output.peak
        rt = clips.column("rt60_measured")
        assert np.all(np.isfinite(rt)) and np.all((rt > 0.02) & (rt < 1.0))
        assert np.all(clips.column("rt60_target") <= 0.4)
        assert np.all(clips.column("max_order") <= 6)
        assert list(clips.column("source_index")) == list(range(12))
    assert main(["info", str(tmp_path / "test.h5")]) == 0
    out = capsys.readouterr().out
    assert "RT60 target vs measured" in out and "azimuth (deg)" in out and "clips per class" in out


def test_workers_give_identical_files(tmp_path, reference):
    assert main(["build", "--config", TINY, "--out", str(tmp_path), "--workers", "2", "--no-progress",
                 *ONE_SPLIT]) == 0
    assert sha(tmp_path / "test.h5") == sha(reference)


def _interrupt(out: Path, sig: int) -> subprocess.Popen:
    """Start a build, wait until some blocks are saved, send ``sig`` to its whole process group."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulate.cli", "build", "--config", TINY, "--out", str(out), "--workers", "2",
         "--no-progress", *ONE_SPLIT],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    work = out / "test.h5.work"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(work.glob("block_*.npz"))) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_build_resumes_bit_identical(tmp_path, reference, sig):
    proc = _interrupt(tmp_path, sig)
    blocks = len(list((tmp_path / "test.h5.work").glob("block_*.npz")))
    assert 2 <= blocks < 12, "the build must be interrupted part-way for this test to mean anything"
    assert not (tmp_path / "test.h5").exists()  # nothing that looks finished
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "Run the same command again to resume" in proc.stderr.read()
    again = cli("build", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout
    assert sha(tmp_path / "test.h5") == sha(reference)
    assert not (tmp_path / "test.h5.work").exists()


def test_leftover_partial_file_is_never_taken_as_output(tmp_path, reference):
    (tmp_path / "test.h5.partial").write_bytes(b"half a file")
    assert main(["build", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT]) == 0
    assert sha(tmp_path / "test.h5") == sha(reference)
    assert not (tmp_path / "test.h5.partial").exists()


def test_rerun_skips_and_other_config_needs_overwrite(tmp_path, capsys):
    args = ["build", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT]
    assert main(args) == 0
    before = sha(tmp_path / "test.h5")
    assert main(args) == 0
    assert "already built from this config" in capsys.readouterr().out
    assert main([*args, "seed=5"]) == 2
    assert "built from a different config; pass --overwrite" in capsys.readouterr().err
    assert sha(tmp_path / "test.h5") == before
    assert main([*args, "seed=5", "--overwrite"]) == 0
    assert sha(tmp_path / "test.h5") != before


def test_unfinished_work_from_another_config_is_not_mixed_in(tmp_path, capsys):
    _interrupt(tmp_path, signal.SIGKILL)
    args = ["build", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT, "seed=9"]
    assert main(args) == 2
    assert "unfinished build from a different config" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    with SpatialClipsFile(tmp_path / "test.h5") as clips:
        assert clips.config()["seed"] == 9


def test_ml_package_version_does_not_make_unfinished_work_stale(tmp_path, reference, monkeypatch, capsys):
    """The resume digest is the simulator's (simulate.SIMULATOR_VERSION + schema), not mcsimclr.__version__."""
    import mcsimclr
    import simulate.build

    _interrupt(tmp_path, signal.SIGKILL)
    assert not (tmp_path / "test.h5").exists()
    args = ["build", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT]
    monkeypatch.setattr(simulate.build, "SIMULATOR_VERSION", "999.0")  # a new simulator: the work is stale
    assert main(args) == 2
    assert "unfinished build from a different config" in capsys.readouterr().err
    monkeypatch.setattr(simulate.build, "SIMULATOR_VERSION", simulate.SIMULATOR_VERSION)
    monkeypatch.setattr(mcsimclr, "__version__", "999.0")  # a new ML package alone: the work resumes
    assert main(args) == 0
    assert "resuming" in capsys.readouterr().out
    assert sha(tmp_path / "test.h5") == sha(reference)


def _write_folder(root: Path, bad: dict[str, np.ndarray | bytes] | None = None) -> Path:
    rng = np.random.default_rng(0)
    for label in ("dog", "bell"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            sf.write(root / label / f"{i}.wav", 0.3 * rng.standard_normal(8000), 16000, subtype="PCM_16")
    for name, content in (bad or {}).items():
        path = root / "dog" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            sf.write(path, content, 16000, subtype="PCM_16")
    return root


FOLDER = ["source.kind=folder", "output.chunk_clips=2"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"z_corrupt.wav": b"RIFF\x00\x00\x00\x00WAVEnot really"}, "z_corrupt.wav"),
        ({"z_stereo.wav": np.zeros((800, 2)) + 0.1}, "z_stereo.wav"),
        ({"z_silent.wav": np.zeros(800)}, "z_silent.wav: clip is silent"),
    ],
)
def test_bad_audio_is_named_and_leaves_no_output(tmp_path, capsys, bad, message):
    root = _write_folder(tmp_path / "clips", bad)
    out = tmp_path / "out"
    assert main(["build", "--config", TINY, "--out", str(out), "--no-progress", *FOLDER,
                 f"source.folder.root={root}"]) == 2
    assert message in capsys.readouterr().err
    assert not list(out.glob("*.h5"))
    # Skipping is explicit, and what was skipped is recorded in the output.
    assert main(["build", "--config", TINY, "--out", str(out), "--no-progress", *FOLDER,
                 f"source.folder.root={root}", "source.skip_bad_files=true", "--overwrite"]) == 0
    with SpatialClipsFile(out / "train.h5") as clips:
        assert len(clips) == 6
        (skipped_id, reason), = clips.skipped()
        assert skipped_id.endswith(next(iter(bad))) and reason
        assert clips.class_names == ["bell", "dog"]
    assert verify_file(out / "train.h5") == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["room.width=[0.8,1.0]"], "impossible geometry"),
        (["backend.name=nosuch"], "unknown backend 'nosuch'"),
        (["room.rt60=[0.5,0.1]"], "lower bound above its upper bound"),
        (["room.widht=[3,4]"], "unknown key 'widht' at room; valid keys: width, length"),
        (["source.kind=fsdnoisy18k", "source.fsdnoisy18k.root=/nonexistent/fsd"], "/nonexistent/fsd"),
        (["source.kind=folder", "source.folder.root=/nonexistent/clips"], "/nonexistent/clips"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, capsys, overrides, message):
    assert main(["build", "--config", TINY, "--out", str(tmp_path / "o"), "--no-progress", *overrides]) == 2
    assert message in capsys.readouterr().err
    assert not list((tmp_path).rglob("*.h5"))


def test_unknown_split_and_print_config(tmp_path, capsys):
    assert main(["build", "--config", TINY, "--out", str(tmp_path), "--splits", "valid"]) == 2
    assert "unknown split 'valid'; this source has: noisy_train, clean_train, dev, test" in capsys.readouterr().err
    assert main(["build", "--config", TINY, "--out", str(tmp_path), "--print-config", "seed=4"]) == 0
    assert "seed: 4" in capsys.readouterr().out


def test_verify_catches_tampering(tmp_path, reference):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(reference.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["azimuth_deg"][0] += 30.0
        f["offsets"][1] += 1
    problems = verify_file(bad)
    assert any("azimuth_deg disagrees" in p for p in problems)
    assert any("offsets are not the running sum" in p for p in problems)
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(reference.read_bytes()[:2000])
    assert "not a readable HDF5 file" in verify_file(truncated)[0]
    assert cli("verify", str(truncated)).returncode == 1


def test_fsdnoisy18k_layout_builds_end_to_end(tmp_path):
    from test_loaders import make_fsd

    from simulate.sources.fsdnoisy18k import FSDNOISY18K_CLASSES

    root = make_fsd(tmp_path / "FSDnoisy18k")
    out = tmp_path / "out"
    assert main(["build", "--config", TINY, "--out", str(out), "--no-progress", "source.kind=fsdnoisy18k",
                 f"source.fsdnoisy18k.root={root}"]) == 0
    assert sorted(p.name for p in out.glob("*.h5")) == ["clean_train.h5", "noisy_train.h5", "test.h5"]
    for path in out.glob("*.h5"):
        assert verify_file(path, check_audio=True) == []
        with SpatialClipsFile(path) as clips:
            assert clips.class_names == list(FSDNOISY18K_CLASSES)
            assert clips.sample_rate == 16000  # resampled from 44.1 kHz
            assert all(s.startswith("FSDnoisy18k.audio_") for s in clips.column("source_id"))


def _datasets(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        out: dict[str, np.ndarray] = {}
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return out


def test_adding_a_dev_split_leaves_the_other_splits_unchanged(tmp_path, capsys):
    """Clips and rooms are seeded by (seed, split name, index): a dev split added (anywhere in the order) changes
    no clip, room, label or sample of the other splits; only the config stored in their attributes differs."""
    without, with_dev = tmp_path / "without", tmp_path / "with"
    common = ["--no-progress", "output.chunk_clips=2"]
    assert main(["build", "--config", TINY, "--out", str(without), *common,
                 "source.synthetic.splits={clean_train: 4, test: 3}"]) == 0
    assert main(["build", "--config", TINY, "--out", str(with_dev), *common,
                 "source.synthetic.splits={clean_train: 4, dev: 3, test: 3}"]) == 0
    assert sorted(p.name for p in with_dev.glob("*.h5")) == ["clean_train.h5", "dev.h5", "test.h5"]
    for split in ("clean_train", "test"):
        a, b = _datasets(without / f"{split}.h5"), _datasets(with_dev / f"{split}.h5")
        assert sorted(a) == sorted(b) and "audio" in a and "label" in a and "source_pos" in a
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{split}.h5 {name}")
        with h5py.File(without / f"{split}.h5") as fa, h5py.File(with_dev / f"{split}.h5") as fb:
            differ = {k for k in fa.attrs if not np.array_equal(fa.attrs[k], fb.attrs[k])}
            assert differ == {"config_yaml", "config_sha256"}
    dev = with_dev / "dev.h5"
    assert verify_file(dev, check_audio=True) == [] and cli("verify", str(dev)).returncode == 0
    assert main(["info", str(dev)]) == 0
    assert "  split dev: 3 clips" in capsys.readouterr().out
    for i in range(2):  # a sharded dev split merges into the same file
        assert main(["build", "--config", TINY, "--out", str(tmp_path / "shards"), *common, "--splits", "dev",
                     "--shard", f"{i}/2", "source.synthetic.splits={clean_train: 4, dev: 3, test: 3}"]) == 0
    shards = sorted((tmp_path / "shards").glob("dev.shard-*-of-2.h5"))
    assert main(["merge", *map(str, shards), "--out", str(tmp_path / "dev.h5")]) == 0
    assert sha(tmp_path / "dev.h5") == sha(dev)


def test_fsdnoisy18k_dev_split_builds_end_to_end(tmp_path):
    from test_loaders import make_fsd

    root = make_fsd(tmp_path / "FSDnoisy18k")
    out = tmp_path / "out"
    assert main(["build", "--config", TINY, "--out", str(out), "--no-progress", "source.kind=fsdnoisy18k",
                 f"source.fsdnoisy18k.root={root}", "source.fsdnoisy18k.splits=[clean_train,dev]",
                 "source.fsdnoisy18k.dev_clips=1"]) == 0
    assert sorted(p.name for p in out.glob("*.h5")) == ["clean_train.h5", "dev.h5"]
    ids = {}
    for split in ("clean_train", "dev"):
        assert verify_file(out / f"{split}.h5", check_audio=True) == []
        with SpatialClipsFile(out / f"{split}.h5") as clips:
            ids[split] = set(clips.column("source_id"))
    assert len(ids["dev"]) == 1 and len(ids["clean_train"]) == 2 and not ids["dev"] & ids["clean_train"]
    assert ids["dev"] | ids["clean_train"] == {"FSDnoisy18k.audio_train/00044348.wav",
                                               "FSDnoisy18k.audio_train/00044350.wav",
                                               "FSDnoisy18k.audio_train/00044352.wav"}


def test_shards_merge_into_the_single_build(tmp_path, reference, capsys):
    for i in range(3):
        assert main(["build", "--config", TINY, "--out", str(tmp_path), "--no-progress", "--shard", f"{i}/3",
                     *ONE_SPLIT]) == 0
    shards = sorted(tmp_path.glob("test.shard-*-of-3.h5"))
    assert len(shards) == 3 and all(verify_file(s) == [] for s in shards)
    assert main(["merge", *map(str, shards[:2]), "--out", str(tmp_path / "test.h5")]) == 2
    assert "missing [2]" in capsys.readouterr().err
    assert main(["merge", *map(str, reversed(shards)), "--out", str(tmp_path / "test.h5")]) == 0
    assert sha(tmp_path / "test.h5") == sha(reference)
    assert main(["merge", *map(str, shards), "--out", str(tmp_path / "test.h5")]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["merge", str(reference), "--out", str(tmp_path / "x.h5")]) == 2
    assert "not a shard" in capsys.readouterr().err
    assert main(["build", "--config", TINY, "--out", str(tmp_path), "--shard", "3/3", *ONE_SPLIT]) == 2
    assert "--shard must be I/N" in capsys.readouterr().err


def test_shards_of_different_builds_are_refused(tmp_path, capsys):
    args = ["build", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT]
    assert main([*args, "--shard", "0/2"]) == 0
    assert main([*args, "--shard", "1/2", "seed=7"]) == 0
    assert main(["merge", *map(str, sorted(tmp_path.glob("test.shard-*"))), "--out", str(tmp_path / "m.h5")]) == 2
    assert "config_sha256" in capsys.readouterr().err and not (tmp_path / "m.h5").exists()


def test_workers_of_a_cuda_backend_take_the_gpus_in_turn(monkeypatch):
    """Each worker process of a CUDA backend sees one GPU (CUDA_VISIBLE_DEVICES, set before CUDA starts in it):
    worker i takes gpus[i % len(gpus)]; a CPU backend's workers are left alone."""
    import multiprocessing as mp
    import types

    import torch

    from mcsimclr.core.config import load_config
    from simulate.backends import make_backend
    from simulate.blocks import _init_worker, backend_gpus, worker_gpu
    from simulate.build import ClipRenderer
    from simulate.config import SimulateConfig
    from simulate.sources import make_source

    assert [worker_gpu(i, ["0", "1", "2"]) for i in range(5)] == ["0", "1", "2", "0", "1"]
    assert worker_gpu(3, []) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5, 7")
    assert backend_gpus(types.SimpleNamespace(device=torch.device("cuda"))) == ["5", "7"]
    cpu_backend = make_backend("pyroomacoustics", sample_rate=16000, max_order=2, speed_of_sound=343.0)
    assert backend_gpus(cpu_backend) == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    config = load_config(SimulateConfig, "configs/simulate/tiny.yaml")
    ctx = mp.get_context("spawn")
    with ctx.Pool(2, initializer=_init_worker,
                  initargs=(ClipRenderer(config, make_source(config.source)), ["5", "7"], ctx.Value("i", 0))) as pool:
        seen = set(pool.map(os.getenv, ["CUDA_VISIBLE_DEVICES"] * 8, chunksize=1))
    assert seen and seen <= {"5", "7"}
