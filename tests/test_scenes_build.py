"""`simulate scenes` end to end: real rooms, real scene files (schema 2), workers, resume, shards, DCASE export,
clear errors, and pretraining on a scene file."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mcsimclr.cli import main as mcsimclr
from mcsimclr.core.scene_schema import SpatialScenesFile
from simulate.cli import main
from simulate.dcase.classes import STARSS23_CLASSES
from simulate.dcase.csv_format import read_dcase_csv
from simulate.scenes.info import polyphony_fractions
from simulate.verify import verify_file

TINY = "configs/simulate/scenes-tiny.yaml"
ONE_SPLIT = ["scene.splits={test: 8}", "output.chunk_scenes=1", "source.synthetic.splits={test: 8}"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scenes")
    assert main(["scenes", "--config", TINY, "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    assert main(["scenes", "--config", TINY, "--out", str(out), "--no-progress", *ONE_SPLIT]) == 0
    return out / "test.h5"


def test_scene_files_conform_and_labels_follow_the_events(scenes, capsys):
    assert sorted(p.name for p in scenes.iterdir()) == ["test.h5", "train.h5"]
    for path in scenes.iterdir():
        assert verify_file(path, check_audio=True) == []
    with SpatialScenesFile(scenes / "train.h5") as f:
        a = f.attrs
        assert a["schema_version"] == 2 and a["n_scenes"] == 6 and a["max_tracks"] == 2 and a["label_hop_s"] == 0.1
        assert f.class_names and len(f) == 6
        for i in range(len(f)):
            audio, labels, events = f.audio(i), f.labels(i), f.events(i)
            assert audio.shape == (4, 32000) and np.max(np.abs(audio)) == pytest.approx(0.5, rel=1e-5)
            assert labels.active.shape == (20, 2)  # 2 s at 100 ms, cap 2
            assert labels.active.sum(axis=1).max() <= 2
            for onset, duration, cls, track in zip(events["onset_s"], events["duration_s"], events["class_index"],
                                                   events["track"], strict=True):
                centres = labels.frame_centres()
                inside = (centres >= onset) & (centres < onset + duration)
                assert np.all(labels.active[inside, track]) and np.all(labels.class_index[inside, track] == cls)
            assert set(events["trajectory"]) <= {"static", "arc", "line"}
    assert main(["info", str(scenes / "train.h5")]) == 0
    out = capsys.readouterr().out
    assert "frames at each polyphony" in out and "events per class" in out and "paths:" in out


def test_polyphony_fractions_count_active_tracks():
    active = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=bool)
    assert polyphony_fractions(active).tolist() == [0.25, 0.5, 0.25]


def test_workers_give_identical_files(tmp_path, reference):
    assert main(["scenes", "--config", TINY, "--out", str(tmp_path), "--workers", "2", "--no-progress",
                 *ONE_SPLIT]) == 0
    assert sha(tmp_path / "test.h5") == sha(reference)


def test_interrupted_scenes_resume_bit_identical(tmp_path, reference):
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulate.cli", "scenes", "--config", TINY, "--out", str(tmp_path), "--workers",
         "2", "--no-progress", *ONE_SPLIT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    work = tmp_path / "test.h5.work"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(work.glob("block_*.npz"))) < 2:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    blocks = len(list(work.glob("block_*.npz")))
    assert 2 <= blocks < 8, "the build must be interrupted part-way for this test to mean anything"
    assert not (tmp_path / "test.h5").exists()
    again = subprocess.run([sys.executable, "-m", "simulate.cli", "scenes", "--config", TINY, "--out",
                            str(tmp_path), "--no-progress", *ONE_SPLIT], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout
    assert sha(tmp_path / "test.h5") == sha(reference)


def test_shards_merge_into_the_unsharded_file(tmp_path, reference):
    for i in range(3):
        assert main(["scenes", "--config", TINY, "--out", str(tmp_path), "--no-progress", "--shard", f"{i}/3",
                     *ONE_SPLIT]) == 0
    shards = sorted(tmp_path.glob("test.shard-*-of-3.h5"))
    assert len(shards) == 3 and all(verify_file(p) == [] for p in shards)
    assert main(["merge", *map(str, shards), "--out", str(tmp_path / "test.h5")]) == 0
    assert sha(tmp_path / "test.h5") == sha(reference)


def test_an_empty_shard_is_a_valid_file_and_merges(tmp_path, reference):
    # 8 scenes in 2 blocks of 4, cut into 3 shards: shard 0 gets no block
    args = ["scenes", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT, "output.chunk_scenes=4"]
    for i in range(3):
        assert main([*args, "--shard", f"{i}/3"]) == 0
    empty = tmp_path / "test.shard-0-of-3.h5"
    assert verify_file(empty) == [] and len(SpatialScenesFile(empty)) == 0
    assert main(["merge", *map(str, sorted(tmp_path.glob("test.shard-*-of-3.h5"))), "--out",
                 str(tmp_path / "test.h5")]) == 0
    assert main([*args[:4], str(tmp_path / "whole"), "--no-progress", *ONE_SPLIT, "output.chunk_scenes=4"]) == 0
    assert sha(tmp_path / "test.h5") == sha(tmp_path / "whole" / "test.h5")


def test_export_dcase_writes_the_labels_of_the_file(scenes, tmp_path):
    assert main(["export-dcase", str(scenes / "test.h5"), "--out", str(tmp_path)]) == 0
    with SpatialScenesFile(scenes / "test.h5") as f:
        names = f.class_names
        for i, scene_id in enumerate(f.column("source_id")):
            csv = tmp_path / "metadata_dev" / "test" / f"{scene_id}.csv"
            rows = [list(map(int, line.split(","))) for line in csv.read_text().splitlines()]
            assert rows and all(len(r) == 6 for r in rows)  # frame,class,source_idx,azimuth,elevation,distance_cm
            back = read_dcase_csv(csv, class_names=names, n_frames=f.labels(i).frames, max_tracks=2)
            labels = f.labels(i)
            assert np.array_equal(back.active, labels.active)
            assert np.array_equal(back.class_index, labels.class_index)
            active = labels.active
            assert np.max(np.abs(back.azimuth_deg[active] - labels.azimuth_deg[active])) <= 0.5 + 1e-6
            assert np.max(np.abs(back.distance_m[active] - labels.distance_m[active])) <= 0.005 + 1e-6
            assert (tmp_path / "mic_dev" / "test" / f"{scene_id}.wav").is_file()
    assert len(STARSS23_CLASSES) == 13


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["scene.line_speed=[3.0,4.0]", "scene.duration_s=5"],
         "impossible trajectory: a line at the lowest speed scene.line_speed[0]=3 m/s"),
        (["scene.n_events=[3,3]", "scene.max_polyphony=1", "source.synthetic.min_duration=0.9",
          "source.synthetic.max_duration=1.0"], "scene test-000000: "),
        (["scene.duration_s=61"], "duration_s must be in (0, 60] s"),
        (["scene.clip_splits={test: nowhere}"], "scene split 'test' needs a source split of clips"),
    ],
)
def test_clear_errors_and_no_file_that_looks_complete(tmp_path, capsys, extra, message):
    assert main(["scenes", "--config", TINY, "--out", str(tmp_path), "--no-progress", *ONE_SPLIT, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.h5"))


def test_export_refuses_a_clip_file(tmp_path, capsys):
    assert main(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(tmp_path), "--no-progress",
                 "--splits", "test"]) == 0
    assert main(["export-dcase", str(tmp_path / "test.h5"), "--out", str(tmp_path / "dcase")]) == 2
    assert "a clip file (`simulate build`), not a scene file" in capsys.readouterr().err


def test_pretraining_takes_a_scene_file_and_the_probe_refuses_one(scenes, tmp_path, capsys):
    out = tmp_path / "run"
    assert mcsimclr(["pretrain", "--config", "configs/pretrain/tiny.yaml", f"data.train={scenes / 'train.h5'}",
                     f"out_dir={out}", "optim.epochs=1", "optim.warmup_epochs=0"]) == 0
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert mcsimclr(["probe", "--config", "configs/probe/tiny.yaml", "--mode", "scratch",
                     f"data.train={scenes / 'train.h5'}", f"data.test={scenes / 'test.h5'}",
                     f"out_dir={tmp_path / 'probe'}"]) == 2
    assert "a scene file (`simulate scenes`, labels per frame)" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["device", "stream"])
def test_pretraining_on_scenes_with_near_pairs(scenes, tmp_path, capsys, mode):
    """Views within 0.1 s of each other (both views of a scene hold the same events), in both data modes."""
    out = tmp_path / "run"
    assert mcsimclr(["pretrain", "--config", "configs/pretrain/tiny.yaml", f"data.train={scenes / 'train.h5'}",
                     f"out_dir={out}", "optim.epochs=1", "optim.warmup_epochs=0", f"data.mode={mode}",
                     "data.num_workers=0", "data.pair_max_shift_seconds=0.1"]) == 0
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert "pair_max_shift_seconds: 0.1" in (out / "config.yaml").read_text()
    assert mcsimclr(["pretrain", "--config", "configs/pretrain/tiny.yaml", f"data.train={scenes / 'train.h5'}",
                     f"out_dir={tmp_path / 'bad'}", "data.pair_max_shift_seconds=-0.5"]) == 2
    assert "pair_max_shift_seconds must be >= 0 or null, got -0.5" in capsys.readouterr().err
