"""Audio reading and the FSDnoisy18k and folder source loaders, on tiny data sets built in ``tmp_path``."""

from __future__ import annotations

import csv
import pickle
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate.sources.audio_io import read_mono
from simulate.sources.base import ClipRef, SourceError
from simulate.sources.folder import FolderSource, apportion
from simulate.sources.fsdnoisy18k import FSDNOISY18K_CLASSES, FSDnoisy18kSource

SR = 44100
TRAIN_HEADER = ["fname", "label", "aso_id", "manually_verified", "noisy_small"]
TEST_HEADER = ["fname", "label", "aso_id"]


def tone(freq: float = 1000.0, seconds: float = 0.25, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    """A sine ``(samples,)``."""
    return amp * np.sin(2 * np.pi * freq * np.arange(round(seconds * sr)) / sr)


def write_wav(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    """Write 16-bit PCM audio (mono ``(samples,)`` or ``(samples, channels)``), as FSDnoisy18k is distributed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sr, subtype="PCM_16")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def peak_frequency(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sr / len(x))


# FSDnoisy18k: (fname, label, manually_verified) rows of train.csv, (fname, label) rows of test.csv
TRAIN = [
    ("00044347.wav", "Wind", "0"),
    ("00044348.wav", "Coin_(dropping)", "1"),
    ("00044349.wav", "Hi-hat", "0"),
    ("00044350.wav", "Acoustic_guitar", "1"),
    ("00044351.wav", "Writing", "0"),
    ("00044352.wav", "Dishes_and_pots_and_pans", "1"),
]
TEST = [("10000001.wav", "Walk_or_footsteps"), ("10000002.wav", "Piano"), ("10000003.wav", "Fart")]


def make_fsd(root: Path) -> Path:
    """A tiny FSDnoisy18k in its distributed layout, one short tone or noise clip per row."""
    rng = np.random.default_rng(0)
    for i, (fname, _, _) in enumerate(TRAIN):
        clip = tone(300.0 + 100 * i, 0.2) if i % 2 else 0.3 * rng.uniform(-1, 1, 6000)
        write_wav(root / "FSDnoisy18k.audio_train" / fname, clip)
    for i, (fname, _) in enumerate(TEST):
        write_wav(root / "FSDnoisy18k.audio_test" / fname, tone(500.0 + 50 * i, 0.15))
    write_csv(
        root / "FSDnoisy18k.meta" / "train.csv",
        TRAIN_HEADER,
        [[f, label, "/m/0xyz", mv, "0"] for f, label, mv in TRAIN],
    )
    write_csv(root / "FSDnoisy18k.meta" / "test.csv", TEST_HEADER, [[f, label, "/m/0abc"] for f, label in TEST])
    return root


# --- read_mono -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [16000, 24000])
@pytest.mark.parametrize("n", [22050, 13231])
def test_resampling_length_and_frequency(tmp_path: Path, target: int, n: int) -> None:
    freq = 1000.0
    path = write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * freq * np.arange(n) / SR))
    out = read_mono(path, sample_rate=target, source_id="tone.wav")
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - round(n * target / SR)) <= 1
    # FFT bin spacing target / len(out) is < 4 Hz here; the peak must sit on the tone.
    assert abs(peak_frequency(out, target) - freq) <= target / len(out)
    # Polyphase resampling keeps the amplitude of an in-band tone (away from the edges).
    middle = out[len(out) // 4 : 3 * len(out) // 4]
    assert np.max(np.abs(middle)) == pytest.approx(0.5, abs=0.01)


def test_same_rate_returns_the_samples(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", tone(440.0, 0.1))
    expected, _ = sf.read(str(path), dtype="float32")
    out = read_mono(path, sample_rate=SR, source_id="a.wav")
    np.testing.assert_array_equal(out, expected)


def test_resampling_is_deterministic(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "n.wav", 0.3 * np.random.default_rng(1).uniform(-1, 1, 5000))
    a = read_mono(path, sample_rate=16000, source_id="n.wav")
    b = read_mono(path, sample_rate=16000, source_id="n.wav")
    np.testing.assert_array_equal(a, b)


def test_multichannel_is_rejected(tmp_path: Path) -> None:
    stereo = np.stack([tone(440.0, 0.1), tone(660.0, 0.1)], axis=1)
    path = write_wav(tmp_path / "stereo_clip.wav", stereo)
    with pytest.raises(SourceError, match=r"stereo_clip\.wav.*2 channels"):
        read_mono(path, sample_rate=16000, source_id="stereo_clip.wav")


def test_random_bytes_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(SourceError, match=r"garbage\.wav.*(unreadable or corrupt)"):
        read_mono(path, sample_rate=16000, source_id="garbage.wav")


def test_truncated_header_is_rejected(tmp_path: Path) -> None:
    good = write_wav(tmp_path / "good.wav", tone(440.0, 0.1))
    path = tmp_path / "truncated.wav"
    path.write_bytes(good.read_bytes()[:30])
    with pytest.raises(SourceError, match=r"truncated\.wav.*corrupt"):
        read_mono(path, sample_rate=16000, source_id="truncated.wav")


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "empty.wav", np.zeros(0))
    with pytest.raises(SourceError, match=r"empty\.wav.*empty \(0 frames\)"):
        read_mono(path, sample_rate=16000, source_id="empty.wav")


@pytest.mark.parametrize("level", [0.0, 1 / 32768])
def test_silent_file_is_rejected(tmp_path: Path, level: float) -> None:
    path = write_wav(tmp_path / "quiet.wav", np.full(4410, level))
    with pytest.raises(SourceError, match=r"quiet\.wav.*silent"):
        read_mono(path, sample_rate=16000, source_id="quiet.wav")


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nothere\.wav.*not found"):
        read_mono(tmp_path / "nothere.wav", sample_rate=16000, source_id="nothere.wav")


def test_bad_sample_rate_is_a_caller_error_not_a_bad_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", tone())
    with pytest.raises(ValueError, match="sample_rate") as info:
        read_mono(path, sample_rate=0, source_id="a.wav")
    assert not isinstance(info.value, SourceError)


# --- FSDnoisy18k -----------------------------------------------------------------------------------------------


def test_fsd_class_list() -> None:
    assert len(FSDNOISY18K_CLASSES) == 20 == len(set(FSDNOISY18K_CLASSES))
    assert FSDNOISY18K_CLASSES[0] == "Acoustic_guitar"
    assert FSDNOISY18K_CLASSES[3] == "Coin_(dropping)"
    assert FSDNOISY18K_CLASSES[11] == "Hi-hat"
    assert FSDNOISY18K_CLASSES[-1] == "Writing"
    assert list(FSDNOISY18K_CLASSES) == sorted(FSDNOISY18K_CLASSES, key=str.lower)


def test_fsd_splits_labels_and_order(tmp_path: Path) -> None:
    source = FSDnoisy18kSource(root=make_fsd(tmp_path / "fsd"))
    assert source.class_names == FSDNOISY18K_CLASSES
    splits = source.splits()
    assert list(splits) == ["noisy_train", "clean_train", "test"]

    def listing(split: str) -> list[tuple[str, str]]:
        return [(ref.source_id, source.class_names[ref.label]) for ref in splits[split]]

    assert listing("noisy_train") == [
        ("FSDnoisy18k.audio_train/00044347.wav", "Wind"),
        ("FSDnoisy18k.audio_train/00044349.wav", "Hi-hat"),
        ("FSDnoisy18k.audio_train/00044351.wav", "Writing"),
    ]
    assert listing("clean_train") == [
        ("FSDnoisy18k.audio_train/00044348.wav", "Coin_(dropping)"),
        ("FSDnoisy18k.audio_train/00044350.wav", "Acoustic_guitar"),
        ("FSDnoisy18k.audio_train/00044352.wav", "Dishes_and_pots_and_pans"),
    ]
    assert listing("test") == [(f"FSDnoisy18k.audio_test/{f}", label) for f, label in TEST]
    for name, refs in splits.items():
        assert [ref.index for ref in refs] == list(range(len(refs)))
        assert all(ref.split == name for ref in refs)


def test_fsd_load_every_clip(tmp_path: Path) -> None:
    source = FSDnoisy18kSource(root=make_fsd(tmp_path / "fsd"))
    for refs in source.splits().values():
        for ref in refs:
            raw, sr = sf.read(str(source.root / ref.source_id))
            x = source.load(ref, sample_rate=16000)
            assert x.dtype == np.float32 and x.ndim == 1
            assert abs(len(x) - round(len(raw) * 16000 / sr)) <= 1


def test_fsd_loads_a_tone_at_its_frequency(tmp_path: Path) -> None:
    source = FSDnoisy18kSource(root=make_fsd(tmp_path / "fsd"), splits=["test"])
    ref = source.splits()["test"][0]
    x = source.load(ref, sample_rate=24000)
    assert abs(peak_frequency(x, 24000) - 500.0) <= 24000 / len(x)


def test_fsd_split_subset_order_and_limit(tmp_path: Path) -> None:
    root = make_fsd(tmp_path / "fsd")
    source = FSDnoisy18kSource(root=root, splits=("test", "clean_train"), max_clips_per_split=2)
    splits = source.splits()
    assert list(splits) == ["test", "clean_train"]
    assert [r.source_id.split("/")[1] for r in splits["test"]] == ["10000001.wav", "10000002.wav"]
    assert [r.source_id.split("/")[1] for r in splits["clean_train"]] == ["00044348.wav", "00044350.wav"]


def test_fsd_test_split_alone_needs_no_train_files(tmp_path: Path) -> None:
    root = make_fsd(tmp_path / "fsd")
    (root / "FSDnoisy18k.meta" / "train.csv").unlink()
    for f in (root / "FSDnoisy18k.audio_train").iterdir():
        f.unlink()
    (root / "FSDnoisy18k.audio_train").rmdir()
    assert len(FSDnoisy18kSource(root=root, splits=["test"]).splits()["test"]) == len(TEST)
    with pytest.raises(SourceError, match=r"FSDnoisy18k\.audio_train"):
        FSDnoisy18kSource(root=root, splits=["noisy_train"]).splits()


def test_fsd_source_survives_pickling(tmp_path: Path) -> None:
    source = FSDnoisy18kSource(root=make_fsd(tmp_path / "fsd"))
    ref = source.splits()["noisy_train"][1]
    clone = pickle.loads(pickle.dumps(source))
    np.testing.assert_array_equal(clone.load(ref, sample_rate=16000), source.load(ref, sample_rate=16000))


def test_fsd_missing_root(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nowhere"):
        FSDnoisy18kSource(root=tmp_path / "nowhere").splits()


@pytest.mark.parametrize(
    "missing", ["FSDnoisy18k.audio_test", "FSDnoisy18k.meta/test.csv", "FSDnoisy18k.meta/train.csv"]
)
def test_fsd_missing_directory_or_csv(tmp_path: Path, missing: str) -> None:
    root = make_fsd(tmp_path / "fsd")
    target = root / missing
    if target.is_dir():
        for f in target.iterdir():
            f.unlink()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(SourceError, match=re.escape(missing.split("/")[-1])) as info:
        FSDnoisy18kSource(root=root).splits()
    assert str(target) in str(info.value)


def test_fsd_missing_column_names_missing_and_found(tmp_path: Path) -> None:
    root = make_fsd(tmp_path / "fsd")
    write_csv(root / "FSDnoisy18k.meta" / "train.csv", ["fname", "label", "aso_id"], [["00044347.wav", "Wind", "x"]])
    with pytest.raises(SourceError) as info:
        FSDnoisy18kSource(root=root).splits()
    message = str(info.value)
    assert "train.csv" in message
    assert "manually_verified" in message and "noisy_small" in message
    assert "found columns: fname, label, aso_id" in message


def test_fsd_unknown_label_names_label_csv_and_line(tmp_path: Path) -> None:
    root = make_fsd(tmp_path / "fsd")
    rows = [[f, label, "/m/0", mv, "0"] for f, label, mv in TRAIN]
    rows[1][1] = "Coin_dropping"
    write_csv(root / "FSDnoisy18k.meta" / "train.csv", TRAIN_HEADER, rows)
    with pytest.raises(SourceError) as info:
        FSDnoisy18kSource(root=root).splits()
    message = str(info.value)
    assert "'Coin_dropping'" in message and "train.csv line 3" in message and "Coin_(dropping)" in message


@pytest.mark.parametrize("value", ["yes", "2", ""])
def test_fsd_bad_manually_verified(tmp_path: Path, value: str) -> None:
    root = make_fsd(tmp_path / "fsd")
    rows = [[f, label, "/m/0", mv, "0"] for f, label, mv in TRAIN]
    rows[4][3] = value
    write_csv(root / "FSDnoisy18k.meta" / "train.csv", TRAIN_HEADER, rows)
    with pytest.raises(SourceError, match=rf"train\.csv line 6: manually_verified must be 0 or 1, got '{value}'"):
        FSDnoisy18kSource(root=root).splits()


def test_fsd_corrupt_clip_fails_on_load_naming_the_file(tmp_path: Path) -> None:
    root = make_fsd(tmp_path / "fsd")
    (root / "FSDnoisy18k.audio_train" / "00044349.wav").write_bytes(b"RIFF\x00\x00")
    source = FSDnoisy18kSource(root=root)
    ref = source.splits()["noisy_train"][1]
    with pytest.raises(SourceError, match=r"FSDnoisy18k\.audio_train/00044349\.wav"):
        source.load(ref, sample_rate=16000)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"splits": ["train"]}, "unknown FSDnoisy18k split 'train'"), ({"max_clips_per_split": 0}, "max_clips")],
)
def test_fsd_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FSDnoisy18kSource(root=tmp_path, **kwargs)


# --- folder source ---------------------------------------------------------------------------------------------


def make_class_folders(root: Path) -> Path:
    write_wav(root / "dog" / "b.wav", tone(400.0, 0.1))
    write_wav(root / "dog" / "a.wav", tone(300.0, 0.1))
    sf.write(str(root / "dog" / "c.FLAC"), tone(350.0, 0.1), SR, subtype="PCM_16")
    write_wav(root / "cat" / "sub" / "x.wav", tone(800.0, 0.1))
    write_wav(root / "cat" / ".hidden.wav", tone(800.0, 0.1))
    write_wav(root / "cat" / ".cache" / "y.wav", tone(800.0, 0.1))
    (root / "cat" / "notes.txt").write_text("not audio")
    (root / ".DS_Store").write_bytes(b"\x00")
    return root


def test_folder_class_subfolders(tmp_path: Path) -> None:
    source = FolderSource(root=make_class_folders(tmp_path / "data"))
    with pytest.warns(UserWarning, match=r"ignored 1 file.*cat/notes\.txt"):
        splits = source.splits()
    assert source.class_names == ("cat", "dog")
    assert list(splits) == ["train"]
    assert [(r.source_id, r.label, r.index) for r in splits["train"]] == [
        ("cat/sub/x.wav", 0, 0),
        ("dog/a.wav", 1, 1),
        ("dog/b.wav", 1, 2),
        ("dog/c.FLAC", 1, 3),
    ]
    flac = source.load(splits["train"][3], sample_rate=16000)
    assert abs(peak_frequency(flac, 16000) - 350.0) <= 16000 / len(flac)


def test_folder_class_names_fix_the_order(tmp_path: Path) -> None:
    source = FolderSource(root=make_class_folders(tmp_path / "data"), class_names=["dog", "cat"])
    with pytest.warns(UserWarning):
        refs = source.splits()["train"]
    assert source.class_names == ("dog", "cat")
    assert [(r.source_id, source.class_names[r.label]) for r in refs][:2] == [
        ("cat/sub/x.wav", "cat"),
        ("dog/a.wav", "dog"),
    ]


def test_folder_subfolder_not_in_class_names(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data")
    with pytest.warns(UserWarning), pytest.raises(SourceError, match=r"unknown label 'cat'.*class_names: dog"):
        FolderSource(root=root, class_names=["dog"]).splits()


def test_folder_class_without_clips_is_an_error(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data")
    with pytest.warns(UserWarning), pytest.raises(SourceError, match=r"no clips for class\(es\) bird"):
        FolderSource(root=root, class_names=["cat", "dog", "bird"]).splits()


def test_folder_audio_directly_in_root_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_wav(root / "dog" / "a.wav", tone())
    write_wav(root / "stray.wav", tone())
    with pytest.raises(SourceError, match=r"stray\.wav.*directly in the folder root"):
        FolderSource(root=root).splits()


def test_folder_root_without_audio(tmp_path: Path) -> None:
    (tmp_path / "data" / "dog").mkdir(parents=True)
    (tmp_path / "data" / "dog" / "readme.md").write_text("x")
    with pytest.warns(UserWarning), pytest.raises(SourceError, match="no audio files"):
        FolderSource(root=tmp_path / "data").splits()


def test_folder_manifest_without_split_column(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_wav(data / "clips" / "one.wav", tone(500.0, 0.1))
    write_wav(data / "clips" / "two.wav", tone(600.0, 0.1))
    outside = write_wav(tmp_path / "elsewhere" / "three.wav", tone(700.0, 0.1))
    inside_abs = write_wav(data / "clips" / "four.wav", tone(900.0, 0.1))
    manifest = write_csv(
        data / "manifest.csv",
        ["path", "label", "comment"],
        [
            ["clips/two.wav", "b", "second"],
            ["./clips/one.wav", "a", ""],
            [str(outside), "a", "absolute, outside"],
            [str(inside_abs), "c", "absolute, inside"],
        ],
    )
    source = FolderSource(root="", manifest=manifest)
    refs = source.splits()["train"]
    assert source.class_names == ("a", "b", "c")
    assert [(r.source_id, source.class_names[r.label]) for r in refs] == [
        ("clips/two.wav", "b"),
        ("clips/one.wav", "a"),
        (outside.as_posix(), "a"),
        ("clips/four.wav", "c"),
    ]
    for ref, freq in zip(refs, [600.0, 500.0, 700.0, 900.0], strict=True):
        x = source.load(ref, sample_rate=16000)
        assert abs(peak_frequency(x, 16000) - freq) <= 16000 / len(x)


def test_folder_manifest_with_split_column(tmp_path: Path) -> None:
    manifest = write_csv(
        tmp_path / "m.csv",
        ["split", "path", "label"],
        [["val", "a.wav", "x"], ["train", "b.wav", "y"], ["val", "c.wav", "y"], ["test", "d.wav", "x"]],
    )
    source = FolderSource(manifest=manifest, split_fractions={"train": 1.0})
    splits = source.splits()
    assert list(splits) == ["val", "train", "test"]
    assert [(r.source_id, r.label, r.index) for r in splits["val"]] == [("a.wav", 0, 0), ("c.wav", 1, 1)]
    assert [r.source_id for r in splits["train"]] == ["b.wav"]
    assert [r.source_id for r in splits["test"]] == ["d.wav"]


def test_folder_split_column_with_fractions_is_an_error(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", ["path", "label", "split"], [["a.wav", "x", "train"]])
    with pytest.raises(SourceError, match=r"m\.csv has a split column and split_fractions"):
        FolderSource(manifest=manifest, split_fractions={"train": 0.5, "val": 0.5}).splits()


def test_folder_split_column_needs_every_value(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", ["path", "label", "split"], [["a.wav", "x", "train"], ["b.wav", "x", ""]])
    with pytest.raises(SourceError, match=r"m\.csv line 3: empty split for b\.wav"):
        FolderSource(manifest=manifest).splits()


def test_folder_manifest_errors(tmp_path: Path) -> None:
    no_label = write_csv(tmp_path / "no_label.csv", ["path", "class"], [["a.wav", "x"]])
    with pytest.raises(SourceError, match=r"no_label\.csv: missing column\(s\) label; found columns: path, class"):
        FolderSource(manifest=no_label).splits()
    empty = write_csv(tmp_path / "empty.csv", ["path", "label"], [])
    with pytest.raises(SourceError, match=r"empty\.csv lists no clips"):
        FolderSource(manifest=empty).splits()
    unknown = write_csv(tmp_path / "unknown.csv", ["path", "label"], [["a.wav", "x"], ["b.wav", "zebra"]])
    with pytest.raises(SourceError, match=r"unknown\.csv line 3: unknown label 'zebra'; class_names: x, y"):
        FolderSource(manifest=unknown, class_names=["x", "y"]).splits()
    dupes = write_csv(tmp_path / "dupes.csv", ["path", "label"], [["a.wav", "x"], ["./a.wav", "y"]])
    with pytest.raises(SourceError, match=r"dupes\.csv line 3: path './a\.wav' already listed on line 2"):
        FolderSource(manifest=dupes).splits()
    with pytest.raises(SourceError, match=r"missing\.csv not found"):
        FolderSource(manifest=tmp_path / "missing.csv").splits()
    with pytest.raises(SourceError, match=r"no_root"):
        FolderSource(root=tmp_path / "no_root").splits()


def test_folder_needs_exactly_one_of_root_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="got neither"):
        FolderSource()
    with pytest.raises(SourceError, match="got both"):
        FolderSource(root=tmp_path, manifest=tmp_path / "m.csv")


def test_folder_missing_clip_fails_on_load(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", ["path", "label"], [["gone.wav", "x"]])
    source = FolderSource(manifest=manifest)
    ref = source.splits()["train"][0]
    with pytest.raises(SourceError, match=r"gone\.wav: audio file not found"):
        source.load(ref, sample_rate=16000)


# --- stratified split assignment -------------------------------------------------------------------------------

STRATA = {"a": 10, "b": 7, "c": 3}
FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


def strata_manifest(path: Path, order: list[int] | None = None) -> Path:
    """A manifest of 20 clips in 3 classes (files need not exist: ``splits()`` does not open them)."""
    rows = [[f"{label}/{i:02d}.wav", label] for label, n in STRATA.items() for i in range(n)]
    if order is not None:
        rows = [rows[i] for i in order]
    return write_csv(path, ["path", "label"], rows)


def membership(splits: dict[str, list[ClipRef]]) -> dict[str, set[str]]:
    return {name: {r.source_id for r in refs} for name, refs in splits.items()}


def test_stratified_sizes_follow_the_documented_rule(tmp_path: Path) -> None:
    source = FolderSource(manifest=strata_manifest(tmp_path / "m.csv"), split_fractions=FRACTIONS, split_seed=3)
    splits = source.splits()
    assert list(splits) == ["train", "val", "test"]
    per_class = {name: Counter(source.class_names[r.label] for r in refs) for name, refs in splits.items()}
    # a: 8/1/1 exactly; b: 5.6/0.7/0.7 -> floors 5/0/0, two left for the largest remainders (val, test);
    # c: 2.4/0.3/0.3 -> floors 2/0/0, one left for the largest remainder (train).
    assert per_class["train"] == {"a": 8, "b": 5, "c": 3}
    assert per_class["val"] == {"a": 1, "b": 1}
    assert per_class["test"] == {"a": 1, "b": 1}
    all_ids = [r.source_id for refs in splits.values() for r in refs]
    assert len(all_ids) == len(set(all_ids)) == sum(STRATA.values())
    for refs in splits.values():
        assert [r.index for r in refs] == list(range(len(refs)))
        assert [r.source_id for r in refs] == sorted(r.source_id for r in refs)  # listing (manifest row) order


def test_stratified_split_is_deterministic_per_seed(tmp_path: Path) -> None:
    manifest = strata_manifest(tmp_path / "m.csv")
    first = FolderSource(manifest=manifest, split_fractions=FRACTIONS, split_seed=0).splits()
    again = FolderSource(manifest=manifest, split_fractions=FRACTIONS, split_seed=0).splits()
    other = FolderSource(manifest=manifest, split_fractions=FRACTIONS, split_seed=1).splits()
    assert first == again
    assert membership(first) != membership(other)
    assert (
        {n: len(v) for n, v in first.items()}
        == {n: len(v) for n, v in other.items()}
        == {
            "train": 16,
            "val": 2,
            "test": 2,
        }
    )
    # The assignment depends on the clips' ids and the seed, not on the manifest's row order.
    shuffled = strata_manifest(tmp_path / "shuffled.csv", order=list(np.random.default_rng(5).permutation(20)))
    assert membership(FolderSource(manifest=shuffled, split_fractions=FRACTIONS, split_seed=0).splits()) == (
        membership(first)
    )


def test_stratified_ties_balance_the_totals(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", ["path", "label"], [["p.wav", "p"], ["q.wav", "q"], ["r.wav", "r"]])
    splits = FolderSource(manifest=manifest, split_fractions={"x": 0.5, "y": 0.5}).splits()
    # Every remainder is 1/2: p goes to x (listed first), q to y (x is ahead), r to x (both even again).
    assert membership(splits) == {"x": {"p.wav", "r.wav"}, "y": {"q.wav"}}


def test_stratified_split_uses_exact_decimal_fractions(tmp_path: Path) -> None:
    rows = [[f"{i}.wav", "k"] for i in range(10)]
    manifest = write_csv(tmp_path / "m.csv", ["path", "label"], rows)
    splits = FolderSource(manifest=manifest, split_fractions={"a": 0.7, "b": 0.2, "c": 0.1}).splits()
    assert [len(v) for v in splits.values()] == [7, 2, 1]


def test_split_without_clips_is_an_error(tmp_path: Path) -> None:
    manifest = write_csv(tmp_path / "m.csv", ["path", "label"], [["a.wav", "k"], ["b.wav", "k"]])
    with pytest.raises(SourceError, match="split 'val' gets no clips"):
        FolderSource(manifest=manifest, split_fractions={"train": 0.9, "val": 0.1}).splits()


@pytest.mark.parametrize("fractions", [{}, {"train": 0.5}, {"train": 0.0, "val": 1.0}, {"train": 1.2, "val": -0.2}])
def test_bad_split_fractions(tmp_path: Path, fractions: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="split_fractions"):
        FolderSource(root=tmp_path, split_fractions=fractions)


@settings(max_examples=200, deadline=None, database=None)
@given(
    n=st.integers(0, 500),
    weights=st.lists(st.integers(1, 20), min_size=1, max_size=6),
)
def test_apportion_is_largest_remainder(n: int, weights: list[int]) -> None:
    fractions = [Fraction(w, sum(weights)) for w in weights]
    sizes = apportion(n, fractions)
    assert sum(sizes) == n
    for size, f in zip(sizes, fractions, strict=True):
        assert size - 1 < n * f < size + 1
