"""Write one scene in the DCASE / STARSS23 layout: ``mic_dev/<fold>/<name>.wav``, ``metadata_dev/<fold>/<name>.csv``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from mcsimclr.core.frame_labels import FrameLabels
from simulate.dcase.csv_format import write_dcase_csv
from simulate.dcase.frames import label_frames

__all__ = ["export_scene", "export_scene_file"]

DCASE_HOP_S = 0.1


def export_scene(out_dir: str | Path, *, name: str, fold: str, audio: np.ndarray, sample_rate: int,
                 labels: FrameLabels, subtype: str = "FLOAT") -> tuple[Path, Path]:
    """Write a scene's audio and labels so that :func:`simulate.dcase.starss.read_starss_folder` reads them back.

    The WAV is 32-bit float by default (``subtype="FLOAT"``): the float32 samples come back bit for bit, and
    nothing clips. ``subtype="PCM_24"`` (or ``"PCM_16"``) writes integer PCM for tools that read no float WAV;
    audio outside [-1, 1] is then an error, not clipped. The CSV is written by
    :func:`simulate.dcase.csv_format.write_dcase_csv`. Each file is written under a temporary name and renamed
    when complete; if the CSV cannot be written, the scene's WAV is removed again, so a scene on disk is whole.

    Args:
        out_dir: root of the layout (it and the fold folders are created).
        name: the recording's name, e.g. ``fold3_room21_mix001``.
        fold: the fold folder, e.g. ``dev-train-synth``.
        audio: ``(mics, samples)`` float samples.
        sample_rate: Hz.
        labels: the scene's labels; no active frame may start past the end of the audio
            (``ceil(samples / hop)`` frames, see :func:`simulate.dcase.frames.label_frames`).
        subtype: a libsndfile WAV subtype (``FLOAT``, ``PCM_24``, ``PCM_16``, ``DOUBLE``).

    Returns:
        The paths of the WAV and the CSV.

    Raises:
        ValueError: a bad name or fold, audio that is not ``(mics, samples)`` finite floats, PCM audio outside
            [-1, 1], labels past the end of the audio.
    """
    for what, value in (("name", name), ("fold", fold)):
        if not isinstance(value, str) or not value or value in (".", "..") or "/" in value or "\\" in value:
            raise ValueError(f"{what} must be a non-empty file name without path separators, got {value!r}")
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] < 1 or audio.shape[1] < 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"audio must be float samples (mics, samples), got {audio.dtype} of shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"scene {name}: audio holds NaN or infinite samples")
    if subtype.upper().startswith("PCM") and float(np.max(np.abs(audio))) > 1.0:
        raise ValueError(f"scene {name}: audio peak {float(np.max(np.abs(audio))):.3f} > 1 would clip in {subtype}; "
                         "scale it or write subtype='FLOAT'")
    n_frames = label_frames(audio.shape[1], hop_s=labels.hop_s, sample_rate=sample_rate)
    late = np.nonzero(labels.active[n_frames:].any(axis=1))[0]
    if late.size:
        raise ValueError(f"scene {name}: labels have active frames from {n_frames + int(late[0])} on, past the end of "
                         f"the audio ({audio.shape[1]} samples = {n_frames} frames of {labels.hop_s:g} s)")
    out_dir = Path(out_dir)
    wav = out_dir / "mic_dev" / fold / f"{name}.wav"
    csv = out_dir / "metadata_dev" / fold / f"{name}.csv"
    wav.parent.mkdir(parents=True, exist_ok=True)
    csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(f".{wav.name}.{os.getpid()}.tmp")
    try:
        sf.write(str(tmp), audio.T, sample_rate, subtype=subtype, format="WAV")
        os.replace(tmp, wav)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        write_dcase_csv(csv, labels)
    except BaseException:
        wav.unlink(missing_ok=True)
        raise
    return wav, csv


def export_scene_file(path: str | Path, *, out: str | Path, fold: str | None = None,
                      subtype: str = "FLOAT") -> list[tuple[Path, Path]]:
    """Every scene of the scene file ``path`` in the DCASE layout under ``out`` (``simulate export-dcase``).

    The recording of scene ``i`` is named after its ``source_id``: a simulated scene's ``<split>-<index>`` goes
    to the fold ``fold`` or the file's split; a recorded scene's ``<fold>/<name>`` (``source.kind: dcase``) to
    ``fold`` if given, else back to its own fold, so that exporting a file of recordings gives their layout
    again. Returns the (WAV, CSV) paths in scene order.

    Raises:
        DataError: not a scene file, labels at another hop than DCASE's 100 ms, or two scenes that would be
            written to the same fold and name.
    """
    from mcsimclr.core.errors import DataError
    from mcsimclr.core.scene_schema import open_scene_file

    with open_scene_file(path) as scenes:
        if abs(scenes.hop_s - DCASE_HOP_S) > 1e-9:
            raise DataError(f"{path}: labels every {scenes.hop_s:g} s; the DCASE format has 100 ms frames "
                            "(make the scenes with scene.label_hop_s=0.1)")
        split = str(scenes.attrs["split"])
        targets = []
        for source_id in map(str, scenes.column("source_id")):
            own, _, name = source_id.rpartition("/")
            targets.append((fold or own or split, name))
        seen: dict[tuple[str, str], int] = {}
        for i, target in enumerate(targets):
            if target in seen:
                raise DataError(f"{path}: scenes {seen[target]} and {i} would both be written to "
                                f"{target[0]}/{target[1]}; export them to their own folds (no --fold)")
            seen[target] = i
        return [export_scene(out, name=name, fold=target_fold, audio=scenes.audio(i),
                             sample_rate=scenes.sample_rate, labels=scenes.labels(i), subtype=subtype)
                for i, (target_fold, name) in enumerate(targets)]
