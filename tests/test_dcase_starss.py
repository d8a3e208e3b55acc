"""The STARSS23 folder reader and the DCASE export, on tiny folders in the exact layout built in ``tmp_path``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from dcase_labels import assert_labels_equal, random_labels  # tests/ helper module

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.dcase.classes import STARSS23_CLASSES
from simulate.dcase.export import export_scene
from simulate.dcase.starss import read_starss_folder
from simulate.sources.base import SourceError

SR = 24000
HOP = 2400  # 100 ms at 24 kHz


def write_wav(path: Path, audio: np.ndarray, sr: int = SR, subtype: str = "PCM_24") -> Path:
    """Write ``(channels, samples)`` audio (STARSS23 is distributed as 24-bit PCM WAV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.T, sr, subtype=subtype)
    return path


def write_csv(path: Path, rows: list[tuple[int, ...]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


def noise(samples: int, channels: int = 4, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((channels, samples))).astype(np.float32)


# Two folds: 2024 rows with distance in one, 2023 rows without in the other (both occur in STARSS23 releases).
SONY = [(0, 1, 0, -50, 20, 150), (1, 1, 0, -48, 20, 150), (1, 7, 0, 120, -10, 300), (4, 12, 0, 0, 0, 200)]
TAU = [(0, 8, 0, 90, 5), (2, 8, 0, 91, 5)]


def make_starss(root: Path) -> Path:
    """A tiny STARSS23 development set: three recordings in two folds (0.45 s, 0.5 s and 0.3 s long)."""
    write_wav(root / "mic_dev" / "dev-train-sony" / "fold3_room21_mix001.wav", noise(10800, seed=1))
    write_csv(root / "metadata_dev" / "dev-train-sony" / "fold3_room21_mix001.csv", SONY)
    write_wav(root / "mic_dev" / "dev-train-sony" / "fold3_room21_mix002.wav", noise(12000, seed=2))
    write_csv(root / "metadata_dev" / "dev-train-sony" / "fold3_room21_mix002.csv", [])
    write_wav(root / "mic_dev" / "dev-test-tau" / "fold4_room2_mix001.wav", noise(7200, seed=3))
    write_csv(root / "metadata_dev" / "dev-test-tau" / "fold4_room2_mix001.csv", TAU)
    return root


def test_reads_every_recording_with_its_labels(tmp_path: Path) -> None:
    scenes = read_starss_folder(make_starss(tmp_path))
    assert [(s.fold, s.name) for s in scenes] == [
        ("dev-test-tau", "fold4_room2_mix001"),
        ("dev-train-sony", "fold3_room21_mix001"),
        ("dev-train-sony", "fold3_room21_mix002"),
    ]
    tau, sony, empty = scenes
    # 10800 samples = 4.5 frames of 2400: the partial fifth frame (frame 4) is audio and may hold labels.
    assert sony.n_samples == 10800 and sony.labels.n_frames == math.ceil(10800 / HOP) == 5
    np.testing.assert_array_equal(sony.labels.class_index[:, :2], [[1, -1], [1, 7], [-1, -1], [-1, -1], [12, -1]])
    assert sony.labels.azimuth_deg[1, 0] == -48.0 and sony.labels.distance_m[1, 1] == np.float32(3.0)
    assert tau.labels.n_frames == 3 and tau.labels.class_index[2, 0] == 8 and np.isnan(tau.labels.distance_m).all()
    assert not empty.labels.active.any() and empty.labels.n_frames == 5
    assert sony.class_names == STARSS23_CLASSES and sony.class_names[12] == "Knock"
    assert sony.array == "tetrahedral"
    np.testing.assert_array_equal(sony.mic_positions, ARRAY_PRESETS["tetrahedral"])


def test_audio_is_read_lazily_as_channels_by_samples(tmp_path: Path) -> None:
    root = make_starss(tmp_path)
    scene = read_starss_folder(root, folds=["dev-train-sony"])[0]
    audio = scene.load_audio()
    expected, _ = sf.read(str(scene.audio_path), dtype="float32")
    assert audio.shape == (4, 10800) and audio.dtype == np.float32
    np.testing.assert_array_equal(audio, expected.T)
    # 24-bit PCM keeps the written noise to within its quantisation step.
    np.testing.assert_allclose(audio, noise(10800, seed=1), atol=2.0**-23)
    write_wav(scene.audio_path, noise(4800, seed=1))
    with pytest.raises(SourceError, match=r"fold3_room21_mix001\.wav: changed since it was listed"):
        scene.load_audio()


def test_folds_argument_selects_folds(tmp_path: Path) -> None:
    root = make_starss(tmp_path)
    assert {s.fold for s in read_starss_folder(root, folds=["dev-test-tau"])} == {"dev-test-tau"}
    with pytest.raises(SourceError, match=r"mic_dev/dev-test-nope: fold folder not found"):
        read_starss_folder(root, folds=["dev-test-nope"])


def test_class_names_come_from_the_caller(tmp_path: Path) -> None:
    root = tmp_path
    write_wav(root / "mic_dev" / "f" / "a.wav", noise(2400))
    write_csv(root / "metadata_dev" / "f" / "a.csv", [(0, 1, 0, 10, 0)])
    assert read_starss_folder(root, class_names=["dog", "cat"])[0].class_names == ("dog", "cat")
    write_csv(root / "metadata_dev" / "f" / "a.csv", [(0, 2, 0, 10, 0)])
    with pytest.raises(SourceError, match=r"metadata_dev/f/a\.csv line 1: unknown class index 2; there are 2 classes"):
        read_starss_folder(root, class_names=["dog", "cat"])


def test_missing_csv_or_wav_is_named(tmp_path: Path) -> None:
    root = make_starss(tmp_path)
    (root / "metadata_dev" / "dev-test-tau" / "fold4_room2_mix001.csv").unlink()
    with pytest.raises(SourceError, match=r"fold4_room2_mix001\.wav: no label CSV; expected "
                                          r".*metadata_dev/dev-test-tau/fold4_room2_mix001\.csv"):
        read_starss_folder(root)
    write_csv(root / "metadata_dev" / "dev-test-tau" / "fold4_room2_mix001.csv", TAU)
    (root / "mic_dev" / "dev-train-sony" / "fold3_room21_mix002.wav").unlink()
    with pytest.raises(SourceError, match=r"fold3_room21_mix002\.csv: no audio; expected .*mic_dev/dev-train-sony/"
                                          r"fold3_room21_mix002\.wav"):
        read_starss_folder(root)


def test_missing_layout_folders(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"mic_dev: folder not found; a STARSS23-layout root holds"):
        read_starss_folder(tmp_path)
    (tmp_path / "mic_dev").mkdir()
    (tmp_path / "metadata_dev" / "dev-test-x").mkdir(parents=True)
    with pytest.raises(SourceError, match=r"dev-test-x: fold has labels but no audio folder"):
        read_starss_folder(tmp_path)


@pytest.mark.parametrize(
    ("channels", "sr", "pattern"),
    [(2, SR, r"expected 4 channels \(the MIC format's tetrahedral array\), got 2"),
     (4, 48000, r"sample rate 48000 Hz, expected 24000 Hz; recordings are not resampled")],
)
def test_wav_with_wrong_channels_or_rate(tmp_path: Path, channels: int, sr: int, pattern: str) -> None:
    root = make_starss(tmp_path)
    write_wav(root / "mic_dev" / "dev-test-tau" / "fold4_room2_mix001.wav", noise(7200, channels=channels), sr=sr)
    with pytest.raises(SourceError, match=r"mic_dev/dev-test-tau/fold4_room2_mix001\.wav: " + pattern):
        read_starss_folder(root)


def test_corrupt_wav_is_named(tmp_path: Path) -> None:
    root = make_starss(tmp_path)
    (root / "mic_dev" / "dev-test-tau" / "fold4_room2_mix001.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(SourceError, match=r"fold4_room2_mix001\.wav: cannot read audio file"):
        read_starss_folder(root)


def test_frame_past_the_end_of_the_wav(tmp_path: Path) -> None:
    root = make_starss(tmp_path)
    # 7200 samples are exactly 3 frames: frame 3 starts after the last sample.
    write_csv(root / "metadata_dev" / "dev-test-tau" / "fold4_room2_mix001.csv", [*TAU, (3, 8, 0, 91, 5)])
    with pytest.raises(SourceError, match=r"fold4_room2_mix001\.csv line 3: frame 3 is past the end of the audio "
                                          r"\(3 frames of 0\.1 s"):
        read_starss_folder(root)


def test_bad_column_count_in_a_fold(tmp_path: Path) -> None:
    root = make_starss(tmp_path)
    write_csv(root / "metadata_dev" / "dev-test-tau" / "fold4_room2_mix001.csv", [(0, 8, 0)])
    with pytest.raises(SourceError, match=r"fold4_room2_mix001\.csv line 1: expected 4, 5, 6 or 7"):
        read_starss_folder(root)


def test_other_files_are_ignored_with_a_warning(tmp_path: Path) -> None:
    root = make_starss(tmp_path)
    (root / "mic_dev" / "dev-test-tau" / "README.txt").write_text("notes")
    (root / "mic_dev" / "dev-test-tau" / ".DS_Store").write_text("")
    with pytest.warns(UserWarning, match=r"dev-test-tau: ignored 1 entry that are not \.wav files, e.g. README\.txt"):
        assert len(read_starss_folder(root)) == 3


# --- export ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_distance", [True, False])
def test_export_then_read_back_gives_the_same_scene(tmp_path: Path, with_distance: bool) -> None:
    rng = np.random.default_rng(11)
    samples = 23 * HOP + 700  # a partial last frame
    labels = random_labels(rng, n_frames=24, n_tracks=3, with_distance=with_distance, p_active=0.5)
    audio = (0.3 * rng.standard_normal((4, samples))).astype(np.float32)
    audio[0, :5] = [1.7, -2.5, 0.0, 1e-9, -1.0]  # float WAV keeps values beyond full scale
    wav, csv = export_scene(tmp_path, name="fold9_room1_mix001", fold="dev-train-synth", audio=audio,
                            sample_rate=SR, labels=labels)
    assert wav == tmp_path / "mic_dev" / "dev-train-synth" / "fold9_room1_mix001.wav"
    assert csv == tmp_path / "metadata_dev" / "dev-train-synth" / "fold9_room1_mix001.csv"
    (scene,) = read_starss_folder(tmp_path, max_tracks=3)
    assert_labels_equal(scene.labels, labels)
    np.testing.assert_array_equal(scene.load_audio(), audio)
    assert sorted(p.name for p in wav.parent.iterdir()) == ["fold9_room1_mix001.wav"]


def test_export_pcm24_is_within_quantisation(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    audio = np.clip(0.3 * rng.standard_normal((4, 4 * HOP)), -0.99, 0.99).astype(np.float32)
    labels = random_labels(rng, n_frames=4, n_tracks=2, with_distance=True)
    export_scene(tmp_path, name="a", fold="f", audio=audio, sample_rate=SR, labels=labels, subtype="PCM_24")
    (scene,) = read_starss_folder(tmp_path, max_tracks=2)
    assert sf.info(str(scene.audio_path)).subtype == "PCM_24"
    np.testing.assert_allclose(scene.load_audio(), audio, atol=2.0**-23)
    with pytest.raises(ValueError, match=r"scene b: audio peak 1\.500 > 1 would clip in PCM_24"):
        export_scene(tmp_path, name="b", fold="f", audio=audio * 0 + 1.5, sample_rate=SR, labels=labels,
                     subtype="PCM_24")


def test_export_rejects_labels_past_the_audio(tmp_path: Path) -> None:
    labels = random_labels(np.random.default_rng(0), n_frames=6, n_tracks=2, with_distance=True, p_active=1.0)
    with pytest.raises(ValueError, match=r"scene a: labels have active frames from 5 on, past the end of the audio "
                                         r"\(12000 samples = 5 frames"):
        export_scene(tmp_path, name="a", fold="f", audio=noise(5 * HOP), sample_rate=SR, labels=labels)
    assert not (tmp_path / "mic_dev").exists()


def test_export_rejects_bad_names_and_audio(tmp_path: Path) -> None:
    labels = random_labels(np.random.default_rng(0), n_frames=2, n_tracks=1, with_distance=True)
    with pytest.raises(ValueError, match="name must be a non-empty file name"):
        export_scene(tmp_path, name="../x", fold="f", audio=noise(2 * HOP), sample_rate=SR, labels=labels)
    with pytest.raises(ValueError, match=r"audio must be float samples \(mics, samples\), got float32 of shape"):
        export_scene(tmp_path, name="x", fold="f", audio=noise(2 * HOP)[0], sample_rate=SR, labels=labels)
    bad = noise(2 * HOP)
    bad[1, 7] = np.nan
    with pytest.raises(ValueError, match="scene x: audio holds NaN"):
        export_scene(tmp_path, name="x", fold="f", audio=bad, sample_rate=SR, labels=labels)


def test_export_failing_csv_removes_the_wav(tmp_path: Path) -> None:
    labels = random_labels(np.random.default_rng(0), n_frames=4, n_tracks=2, with_distance=True, p_active=1.0)
    labels.distance_m[0, 0] = np.nan  # some rows without distance: write_dcase_csv refuses
    with pytest.raises(ValueError, match="have no distance"):
        export_scene(tmp_path, name="x", fold="f", audio=noise(4 * HOP), sample_rate=SR, labels=labels)
    assert list((tmp_path / "mic_dev" / "f").iterdir()) == []
    assert list((tmp_path / "metadata_dev" / "f").iterdir()) == []
