"""Recorded scenes from a folder in the STARSS23 layout (4-channel MIC format, 24 kHz, DCASE label CSVs).

Layout (the development set of STARSS23, and what :func:`simulate.dcase.export.export_scene` writes)::

    root/mic_dev/<fold>/<name>.wav        4 channels (tetrahedral capsules), 24 kHz
    root/metadata_dev/<fold>/<name>.csv   labels, see simulate.dcase.csv_format

e.g. ``mic_dev/dev-train-sony/fold3_room21_mix001.wav``. The FOA format (``foa_dev``) is not read.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.frame_labels import FrameLabels
from simulate.dcase.classes import STARSS23_CLASSES, check_class_names
from simulate.dcase.csv_format import DEFAULT_MAX_TRACKS, read_dcase_csv
from simulate.dcase.frames import label_frames
from simulate.sources.base import SourceError

__all__ = ["STARSS_ARRAY", "STARSS_CHANNELS", "RecordedScene", "read_starss_folder"]

STARSS_ARRAY = "tetrahedral"
"""The array preset of the MIC format (Eigenmike em32 capsules 6, 10, 26, 22)."""
STARSS_CHANNELS = 4


@dataclass(frozen=True)
class RecordedScene:
    """One recording and its labels; the audio stays on disk until :meth:`load_audio`.

    Attributes:
        name: file name without extension, e.g. ``fold3_room21_mix001``.
        fold: the fold folder, e.g. ``dev-train-sony``.
        audio_path: the WAV file.
        csv_path: the label CSV.
        sample_rate: Hz (checked against the WAV header).
        n_samples: samples per channel of the WAV.
        labels: frame labels ``(frames, tracks)``, ``frames = ceil(n_samples / hop)``.
        class_names: the classes ``labels.class_index`` indexes.
        array: the array preset of the channels (``simulate.geometry.ARRAY_PRESETS``).
    """

    name: str
    fold: str
    audio_path: Path
    csv_path: Path
    sample_rate: int
    n_samples: int
    labels: FrameLabels
    class_names: tuple[str, ...]
    array: str = STARSS_ARRAY

    @property
    def mic_positions(self) -> np.ndarray:
        """Mic offsets from the array centre ``(4, 3)`` in metres, in channel order."""
        return ARRAY_PRESETS[self.array].copy()

    def load_audio(self) -> np.ndarray:
        """The recording as float32 ``(4, n_samples)``.

        Raises:
            SourceError: the file is gone, unreadable, or no longer what was listed (channels, rate, length).
        """
        try:
            data, rate = sf.read(str(self.audio_path), dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError, OSError) as err:
            raise SourceError(f"{self.audio_path}: cannot read audio file: {err}") from err
        if rate != self.sample_rate or data.shape != (self.n_samples, STARSS_CHANNELS):
            raise SourceError(f"{self.audio_path}: changed since it was listed: {data.shape[1]} channels, "
                              f"{data.shape[0]} samples at {rate} Hz, listed as {STARSS_CHANNELS} channels, "
                              f"{self.n_samples} samples at {self.sample_rate} Hz")
        return np.ascontiguousarray(data.T)


def read_starss_folder(root: str | Path, *, class_names: Sequence[str] = STARSS23_CLASSES, sample_rate: int = 24000,
                       folds: Sequence[str] | None = None, hop_s: float = 0.1,
                       max_tracks: int = DEFAULT_MAX_TRACKS) -> list[RecordedScene]:
    """List the recordings of a STARSS23-layout folder, with their labels, sorted by fold then name.

    Every WAV must have its CSV and every CSV its WAV. WAV headers are checked (4 channels, ``sample_rate``,
    not empty) and labels read here; the audio itself is read by :meth:`RecordedScene.load_audio`. Files other
    than ``.wav`` / ``.csv`` in the fold folders are ignored with a warning; hidden ones silently.

    Args:
        root: the folder holding ``mic_dev`` and ``metadata_dev``.
        class_names: the classes in class-index order (default: STARSS23's 13).
        sample_rate: the rate every WAV must have (no resampling: it would change the recordings).
        folds: the folds to read (default: every folder of ``mic_dev``).
        hop_s: label frame hop in seconds.
        max_tracks: tracks of the labels.

    Raises:
        SourceError: a missing folder, fold, WAV or CSV (naming it), a WAV with another channel count or
            rate, an unreadable or empty WAV, any CSV error of :func:`simulate.dcase.csv_format.read_dcase_csv`
            (a frame past the end of the audio is checked against the WAV's length).
    """
    names = check_class_names(class_names)
    root = Path(root)
    mic_dir, meta_dir = root / "mic_dev", root / "metadata_dev"
    for folder in (mic_dir, meta_dir):
        if not folder.is_dir():
            raise SourceError(f"{folder}: folder not found; a STARSS23-layout root holds mic_dev/<fold>/*.wav and "
                              "metadata_dev/<fold>/*.csv")
    found = sorted(p.name for p in mic_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if folds is None:
        meta_only = sorted(p.name for p in meta_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                           and p.name not in found)
        if meta_only:
            raise SourceError(f"{meta_dir / meta_only[0]}: fold has labels but no audio folder "
                              f"{mic_dir / meta_only[0]}")
        chosen = found
    else:
        if isinstance(folds, str):
            raise ValueError(f"folds must be a sequence of fold names, got the string {folds!r}")
        chosen = list(folds)
    if not chosen:
        raise SourceError(f"{mic_dir}: no fold folders found")
    scenes: list[RecordedScene] = []
    for fold in chosen:
        scenes.extend(_read_fold(root, fold, class_names=names, sample_rate=sample_rate, hop_s=hop_s,
                                 max_tracks=max_tracks))
    return scenes


def _read_fold(root: Path, fold: str, *, class_names: tuple[str, ...], sample_rate: int, hop_s: float,
               max_tracks: int) -> list[RecordedScene]:
    mic_dir, meta_dir = root / "mic_dev" / fold, root / "metadata_dev" / fold
    for folder in (mic_dir, meta_dir):
        if not folder.is_dir():
            raise SourceError(f"{folder}: fold folder not found")
    wavs = _listing(mic_dir, ".wav")
    csvs = _listing(meta_dir, ".csv")
    no_csv, no_wav = sorted(set(wavs) - set(csvs)), sorted(set(csvs) - set(wavs))
    if no_csv:
        raise SourceError(f"{wavs[no_csv[0]]}: no label CSV; expected {meta_dir / (no_csv[0] + '.csv')}"
                          + (f" ({len(no_csv)} WAVs have none)" if len(no_csv) > 1 else ""))
    if no_wav:
        raise SourceError(f"{csvs[no_wav[0]]}: no audio; expected {mic_dir / (no_wav[0] + '.wav')}"
                          + (f" ({len(no_wav)} CSVs have none)" if len(no_wav) > 1 else ""))
    scenes = []
    for name in sorted(wavs):
        wav, csv = wavs[name], csvs[name]
        n_samples = _check_wav(wav, sample_rate=sample_rate)
        n_frames = label_frames(n_samples, hop_s=hop_s, sample_rate=sample_rate)
        labels = read_dcase_csv(csv, class_names=class_names, n_frames=n_frames, hop_s=hop_s, max_tracks=max_tracks)
        scenes.append(RecordedScene(name=name, fold=fold, audio_path=wav, csv_path=csv, sample_rate=sample_rate,
                                    n_samples=n_samples, labels=labels, class_names=class_names))
    return scenes


def _listing(folder: Path, suffix: str) -> dict[str, Path]:
    """``{stem: path}`` of the files with ``suffix`` (any case) in ``folder``; warns once about other files."""
    out: dict[str, Path] = {}
    ignored: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix.lower() == suffix:
            out[path.stem] = path
        else:
            ignored.append(path.name)
    if ignored:
        warnings.warn(f"{folder}: ignored {len(ignored)} entr{'y' if len(ignored) == 1 else 'ies'} that are not "
                      f"{suffix} files, e.g. {ignored[0]}", stacklevel=4)
    return out


def _check_wav(path: Path, *, sample_rate: int) -> int:
    """Samples per channel of a 4-channel WAV at ``sample_rate``; a ``SourceError`` naming the file otherwise."""
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise SourceError(f"{path}: cannot read audio file (unreadable or corrupt): {err}") from err
    if info.channels != STARSS_CHANNELS:
        raise SourceError(f"{path}: expected {STARSS_CHANNELS} channels (the MIC format's tetrahedral array), "
                          f"got {info.channels}")
    if info.samplerate != sample_rate:
        raise SourceError(f"{path}: sample rate {info.samplerate} Hz, expected {sample_rate} Hz; recordings are not "
                          "resampled")
    if info.frames < 1:
        raise SourceError(f"{path}: audio file is empty (0 samples)")
    return int(info.frames)
