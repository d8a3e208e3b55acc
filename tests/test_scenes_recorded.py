"""Recorded scenes (``source.kind: dcase``): a tiny STARSS23-layout folder made here, through ``simulate scenes``.

The scene files must hold the WAVs' samples and the CSVs' labels exactly (references: ``soundfile`` and
``read_dcase_csv``; the events from the raw CSV rows), be byte-identical for any worker count and after a resume,
survive ``export-dcase`` and back, and refuse bad input naming the file and line without leaving a ``*.h5``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import soundfile as sf
from dcase_labels import assert_labels_equal  # tests/ helper module

from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.core.scene_schema import open_scene_file
from simulate.cli import main
from simulate.dcase.classes import STARSS23_CLASSES
from simulate.dcase.csv_format import read_dcase_csv
from simulate.scenes.recorded import RecordedSceneRenderer, hold_out, label_events

SR = 24000
HOP = 2400  # 100 ms at 24 kHz
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "simulate" / "scenes-starss23.yaml"
FOLDS = "source.dcase.folds={train: [dev-train-sony], test: [dev-test-tau]}"

# 2024 rows (frame,class,source_idx,azimuth,elevation,distance_cm): two "Male speech" talkers at once (frames 2-5),
# a knock that stops and starts again (two events), footsteps into the last, partial frame (12 of 12.5 frames).
SONY_1 = ([(0, 12, 0, 10, 0, 120), (1, 12, 0, 10, 0, 120), (3, 12, 0, 12, 0, 120)]
          + [(f, 1, 0, -40 + f, 10, 200) for f in range(2, 6)] + [(f, 1, 1, 135, -5, 310) for f in range(2, 6)]
          + [(f, 6, 2, 160 + f, 0, 90) for f in range(9, 13)])
SONY_2 = [(f, 8, 0, -180, 30, 250) for f in range(0, 10)]  # music over the whole second; -180 reads as 180
# 2022-2023 rows without distance (frame,class,source_idx,azimuth,elevation): a bell, then a clap during it.
TAU_1 = [(f, 11, 0, 90, 5) for f in range(1, 8)] + [(f, 2, 0, -90, 0) for f in range(4, 6)]
RECORDINGS = {  # (fold, name): (samples, CSV rows)
    ("dev-train-sony", "fold3_room21_mix001"): (30000, SONY_1),
    ("dev-train-sony", "fold3_room21_mix002"): (24000, SONY_2),
    ("dev-test-tau", "fold4_room2_mix001"): (36000, TAU_1),
}


def write_csv(path: Path, rows: list[tuple[int, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))


def make_starss(root: Path) -> Path:
    """The folder of ``RECORDINGS``: 4-channel 24-bit PCM noise at 24 kHz (STARSS23's format) and its CSVs."""
    for k, ((fold, name), (samples, rows)) in enumerate(RECORDINGS.items()):
        audio = 0.1 * np.random.default_rng(k).standard_normal((samples, 4))
        (root / "mic_dev" / fold).mkdir(parents=True, exist_ok=True)
        sf.write(str(root / "mic_dev" / fold / f"{name}.wav"), audio, SR, subtype="PCM_24")
        write_csv(root / "metadata_dev" / fold / f"{name}.csv", rows)
    return root


NO_HOLD_OUT = "source.dcase.hold_out.split=''"  # the tests of the folds alone; the hold-out has tests of its own


def scenes(root: Path, out: Path, *args: str, hold_out: bool = False) -> int:
    return main(["scenes", "--config", str(CONFIG), "--out", str(out), "--no-progress", f"source.dcase.root={root}",
                 FOLDS, *([] if hold_out else [NO_HOLD_OUT]), *args])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def csv_events(rows: list[tuple[int, ...]], seconds: float) -> list[tuple[float, float, int, int]]:
    """Reference events from raw rows: (onset, duration, class, source_idx) per run of consecutive frames of one
    (class, source_idx), ended at the end of the audio, sorted."""
    frames: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        frames.setdefault((row[1], row[2]), []).append(row[0])
    out = []
    for (cls, src), fs in frames.items():
        fs = sorted(fs)
        runs = np.split(np.array(fs), np.flatnonzero(np.diff(fs) > 1) + 1)
        out += [(r[0] * 0.1, min((r[-1] + 1) * 0.1, seconds) - r[0] * 0.1, cls, src) for r in runs]
    return sorted(out)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny folder and the scene files made from it (one scene per block, so a split has several blocks)."""
    base = tmp_path_factory.mktemp("recorded")
    root, out = make_starss(base / "starss"), base / "out"
    assert scenes(root, out, "output.chunk_scenes=1") == 0
    return root, out


def test_scene_files_hold_the_recordings_and_their_labels(built) -> None:
    root, out = built
    for split, fold in (("train", "dev-train-sony"), ("test", "dev-test-tau")):
        names = sorted(n for f, n in RECORDINGS if f == fold)
        with open_scene_file(out / f"{split}.h5") as f:
            attrs = f.attrs
            assert (attrs["source_kind"], attrs["backend"], attrs["backend_version"]) == ("dcase", "recorded", "none")
            assert attrs["array_geometry"] == "tetrahedral" and attrs["n_mics"] == 4 and attrs["sample_rate"] == SR
            np.testing.assert_array_equal(attrs["mic_offsets"], ARRAY_PRESETS["tetrahedral"])
            assert f.class_names == list(STARSS23_CLASSES) and f.hop_s == 0.1 and attrs["max_tracks"] == 6
            assert list(attrs["folds"]) == [fold] and math.isnan(attrs["peak"])
            assert list(f.column("source_id")) == [f"{fold}/{n}" for n in names]
            np.testing.assert_array_equal(f.column("scene_index"), np.arange(len(names)))
            np.testing.assert_array_equal(f.column("gain"), 1.0)
            for key in ("room_dims", "rt60_target", "rt60_sabine", "absorption", "array_center"):
                assert np.all(np.isnan(f.column(key))), key
            for i, name in enumerate(names):
                samples, rows = RECORDINGS[(fold, name)]
                wav, rate = sf.read(str(root / "mic_dev" / fold / f"{name}.wav"), dtype="float32")
                assert rate == SR
                np.testing.assert_array_equal(f.audio(i), wav.T)  # as recorded: not re-scaled
                n_frames = math.ceil(samples / HOP)
                expected = read_dcase_csv(root / "metadata_dev" / fold / f"{name}.csv", class_names=STARSS23_CLASSES,
                                          n_frames=n_frames)
                assert_labels_equal(f.labels(i), expected)
                ev = f.events(i)
                got = sorted(zip(ev["onset_s"], ev["duration_s"], ev["class_index"], strict=True))
                ref = csv_events(rows, samples / SR)
                assert [g[2] for g in got] == [r[2] for r in ref]
                np.testing.assert_allclose([g[:2] for g in got], [r[:2] for r in ref], atol=1e-12)
                for onset, duration, cls, track in zip(ev["onset_s"], ev["duration_s"], ev["class_index"],
                                                       ev["track"], strict=True):
                    span = slice(round(onset / 0.1), math.ceil(round((onset + duration) / 0.1, 6)))
                    assert np.all(expected.class_index[span, track] == cls)  # the event's track holds it throughout
                assert set(ev["trajectory"]) == {"recorded"} and set(ev["source_id"]) == {name}
                assert np.all(np.isnan(ev["start_pos"])) and np.all(np.isnan(ev["ebr_db"]))


def test_two_talkers_of_one_class_at_once_are_two_events(built) -> None:
    with open_scene_file(built[1] / "train.h5") as f:
        ev = f.events(0)
        speech = np.flatnonzero(ev["class_index"] == 1)
        assert sorted(ev["track"][speech]) == [0, 1]
        np.testing.assert_allclose(ev["onset_s"][speech], 0.2)
        np.testing.assert_allclose(ev["duration_s"][speech], 0.4)
        knock = np.flatnonzero(ev["class_index"] == 12)
        np.testing.assert_allclose(sorted(ev["onset_s"][knock]), [0.0, 0.3])
        steps = np.flatnonzero(ev["class_index"] == 6)
        np.testing.assert_allclose(ev["onset_s"][steps] + ev["duration_s"][steps], 30000 / SR)  # the audio's end


def test_label_events_are_maximal_runs_of_track_and_class() -> None:
    labels = FrameLabels.empty(n_frames=8, n_tracks=2)
    for frame, track, cls in [(0, 0, 3), (1, 0, 3), (2, 0, 5), (4, 0, 5), (1, 1, 3), (2, 1, 3), (7, 1, 0)]:
        labels.active[frame, track] = True
        labels.class_index[frame, track] = cls
    runs = [(e.first, e.stop, e.track, e.class_index) for e in label_events(labels)]
    assert runs == [(0, 2, 0, 3), (1, 3, 1, 3), (2, 3, 0, 5), (4, 5, 0, 5), (7, 8, 1, 0)]


def test_workers_and_resume_give_byte_identical_files(built, tmp_path: Path, monkeypatch) -> None:
    root, out = built
    assert scenes(root, tmp_path / "w2", "output.chunk_scenes=1", "--workers", "2") == 0
    for split in ("train", "test"):
        assert sha(tmp_path / "w2" / f"{split}.h5") == sha(out / f"{split}.h5")

    render, calls = RecordedSceneRenderer.render, []

    def interrupted_after_one_block(self, refs):
        calls.append(refs)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return render(self, refs)

    monkeypatch.setattr(RecordedSceneRenderer, "render", interrupted_after_one_block)
    assert scenes(root, tmp_path / "resumed", "output.chunk_scenes=1") == 130
    assert not list((tmp_path / "resumed").glob("*.h5"))
    assert len(list((tmp_path / "resumed" / "train.h5.work").glob("block_*.npz"))) == 1
    monkeypatch.setattr(RecordedSceneRenderer, "render", render)
    assert scenes(root, tmp_path / "resumed", "output.chunk_scenes=1") == 0
    for split in ("train", "test"):
        assert sha(tmp_path / "resumed" / f"{split}.h5") == sha(out / f"{split}.h5")


def test_shards_hold_the_slices_of_the_whole_split(built, tmp_path: Path) -> None:
    root, out = built
    for i in range(2):
        assert scenes(root, tmp_path, "output.chunk_scenes=1", "--splits", "train", "--shard", f"{i}/2") == 0
    with open_scene_file(out / "train.h5") as whole:
        row = 0
        for i in range(2):
            with open_scene_file(tmp_path / f"train.shard-{i}-of-2.h5") as part:
                assert part.attrs["config_sha256"] == whole.attrs["config_sha256"]
                for k in range(len(part)):
                    np.testing.assert_array_equal(part.audio(k), whole.audio(row))
                    assert_labels_equal(part.labels(k), whole.labels(row))
                    row += 1
        assert row == len(whole)


def test_export_dcase_and_back_gives_the_same_scenes(built, tmp_path: Path) -> None:
    out = built[1]
    exported = tmp_path / "exported"
    for split in ("train", "test"):
        assert main(["export-dcase", str(out / f"{split}.h5"), "--out", str(exported)]) == 0
    assert sorted(p.relative_to(exported / "mic_dev").as_posix() for p in exported.glob("mic_dev/*/*.wav")) == \
        sorted(f"{fold}/{name}.wav" for fold, name in RECORDINGS)  # back in their own folds
    assert scenes(exported, tmp_path / "again") == 0
    for split in ("train", "test"):
        with open_scene_file(out / f"{split}.h5") as a, open_scene_file(tmp_path / "again" / f"{split}.h5") as b:
            assert len(a) == len(b) and list(a.column("source_id")) == list(b.column("source_id"))
            for i in range(len(a)):
                assert_labels_equal(a.labels(i), b.labels(i))
                np.testing.assert_array_equal(a.audio(i), b.audio(i))
            ea, eb = a.events(), b.events()
            for key in ea:
                np.testing.assert_array_equal(ea[key], eb[key], err_msg=key)


@pytest.mark.parametrize(("row", "message"), [
    ((3, 13, 0, 0, 0), "unknown class index 13"),
    ((15, 2, 0, 0, 0), "frame 15 is past the end of the audio (15 frames"),
    ((3, 2, 0), "got 3 fields: 3,2,0"),
])
def test_bad_csv_is_refused_naming_file_and_line(tmp_path: Path, capsys, row, message) -> None:
    root = make_starss(tmp_path / "starss")
    csv = root / "metadata_dev" / "dev-test-tau" / "fold4_room2_mix001.csv"
    write_csv(csv, [*TAU_1[:2], row, *TAU_1[2:]])
    assert scenes(root, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{csv} line 3" in err and message in err, err
    assert not list((tmp_path / "out").glob("*.h5*"))


def test_wrong_array_or_rate_is_refused(tmp_path: Path, capsys) -> None:
    root = make_starss(tmp_path / "starss")
    assert scenes(root, tmp_path / "out", "array.geometry=circular4") == 2
    err = capsys.readouterr().err
    assert "array.geometry is 'circular4'" in err and "tetrahedral" in err, err
    assert scenes(root, tmp_path / "out", "sample_rate=16000") == 2
    err = capsys.readouterr().err
    assert "fold3_room21_mix001.wav: sample rate 24000 Hz, expected 16000 Hz" in err, err
    assert not list((tmp_path / "out").glob("*.h5*"))


def test_a_fold_in_two_splits_is_a_config_error(tmp_path: Path, capsys) -> None:
    root = make_starss(tmp_path / "starss")
    code = main(["scenes", "--config", str(CONFIG), "--out", str(tmp_path / "out"), f"source.dcase.root={root}",
                 "source.dcase.folds={train: [dev-test-tau], test: [dev-test-tau]}"])
    assert code == 2
    assert "fold 'dev-test-tau' is in both 'train' and 'test'" in capsys.readouterr().err


def test_a_split_without_recordings_is_refused(tmp_path: Path, capsys) -> None:
    root = make_starss(tmp_path / "starss")
    (root / "mic_dev" / "dev-test-sony").mkdir()
    (root / "metadata_dev" / "dev-test-sony").mkdir()
    code = main(["scenes", "--config", str(CONFIG), "--out", str(tmp_path / "out"), f"source.dcase.root={root}",
                 "source.dcase.folds={train: [dev-train-sony], test: [dev-test-sony]}"])
    assert code == 2
    assert "split 'test': its folds dev-test-sony" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_hold_out_draws_a_fraction_of_each_fold_never_a_whole_one() -> None:
    recs = [SimpleNamespace(fold=f, name=f"{f}-{i}") for f, n in (("a", 10), ("b", 3), ("c", 1)) for i in range(n)]
    kept, held = hold_out(recs, fraction=0.2, seed=0)
    assert [r.fold for r in held].count("a") == 2 and [r.fold for r in held].count("b") == 1
    assert "c" not in [r.fold for r in held]  # a fold of one recording stays whole
    assert sorted(id(r) for r in kept + held) == sorted(id(r) for r in recs) and not set(map(id, kept)) & set(
        map(id, held))
    assert kept == [r for r in recs if r in kept] and held == [r for r in recs if r in held]  # input order
    assert hold_out(recs, fraction=0.2, seed=0) == (kept, held)
    assert any(hold_out(recs, fraction=0.2, seed=s)[1] != held for s in range(1, 6))
    assert len(hold_out(recs, fraction=0.99, seed=0)[0]) == 3  # one left of each fold


def test_the_starss_config_holds_out_a_dev_split_of_train_recordings(tmp_path: Path) -> None:
    """The config's own hold-out: one of the two Sony train recordings becomes dev.h5, with its WAV samples; the
    test fold is untouched; building dev alone gives the same file."""
    root = make_starss(tmp_path / "starss")
    assert scenes(root, tmp_path / "out", hold_out=True) == 0
    ids = {}
    for split in ("train", "dev", "test"):
        with open_scene_file(tmp_path / "out" / f"{split}.h5") as f:
            ids[split] = list(f.column("source_id"))
    sony = {f"dev-train-sony/{n}" for fold, n in RECORDINGS if fold == "dev-train-sony"}
    assert len(ids["dev"]) == 1 and set(ids["train"]) | set(ids["dev"]) == sony and not set(ids["train"]) & set(
        ids["dev"])
    assert ids["test"] == ["dev-test-tau/fold4_room2_mix001"]
    with h5py.File(tmp_path / "out" / "dev.h5") as f:
        assert "dev from train" in str(f.attrs["hold_out"]) and list(f.attrs["folds"]) == ["dev-train-sony"]
        name = ids["dev"][0].split("/")[1]
        wav, _ = sf.read(str(root / "mic_dev" / "dev-train-sony" / f"{name}.wav"), dtype="float32")
    with open_scene_file(tmp_path / "out" / "dev.h5") as f:
        np.testing.assert_allclose(f.audio(0), wav.T, atol=1e-7)
    assert scenes(root, tmp_path / "alone", "--splits", "dev", hold_out=True) == 0
    assert sha(tmp_path / "alone" / "dev.h5") == sha(tmp_path / "out" / "dev.h5")


@pytest.mark.parametrize(("override", "message"), [
    ("source.dcase.hold_out.split=test", "hold_out.split 'test' is already a split"),
    ("source.dcase.hold_out.source=valid", "hold_out.source 'valid' is not a split of dcase.folds"),
    ("source.dcase.hold_out.fraction=1.0", "hold_out.fraction must be in (0, 1), got 1.0"),
    ("source.dcase.hold_out.source=test", "no fold of split 'test' has 2 or more recordings"),
])
def test_a_bad_hold_out_is_refused(tmp_path: Path, capsys, override: str, message: str) -> None:
    root = make_starss(tmp_path / "starss")
    assert scenes(root, tmp_path / "out", override, hold_out=True) == 2
    assert message in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.h5"))
