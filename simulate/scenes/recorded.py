"""Recorded scenes (``source.kind: dcase``): the recordings of a STARSS23-layout folder as blocks of a scene file.

Each recording (``mic_dev/<fold>/<name>.wav`` with ``metadata_dev/<fold>/<name>.csv``, read by
:func:`simulate.dcase.starss.read_starss_folder`) becomes one scene, in the arrays ``SceneRenderer.render`` makes,
so that ``simulate.scenes.build`` assembles the file unchanged:

- audio: the WAV's samples as read (float32, then ``output.audio_dtype``: float16 rounds them), not re-scaled:
  ``gain`` is 1.0 and the file's ``peak`` attribute NaN;
- frames: the CSV's labels, ``ceil(samples / hop)`` frames of 100 ms (a labelled frame past the end of the audio
  is refused by the reader), ``dcase.max_tracks`` tracks;
- events: the maximal runs of one (track, class) active on consecutive frames. Onset and duration come from the
  frames (onset ``first * hop``, end ``(last + 1) * hop``, cut at the end of the audio); trajectory ``recorded``,
  start/end positions and the event-to-background ratio NaN (not known for a recording), speeds 0, ``source_id``
  the recording's name. Two events of one class on one track with no frame between them read as one;
- per scene: room fields and the array centre NaN, ``source_id`` ``<fold>/<name>``, ``scene_index`` the
  recording's row in its split (recordings sorted by fold, then name).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.core.scene_schema import EVENT_FIELDS, FRAME_FIELDS
from simulate.blocks import BlockRenderer
from simulate.dcase.classes import STARSS23_CLASSES
from simulate.dcase.export import DCASE_HOP_S
from simulate.dcase.starss import STARSS_ARRAY, RecordedScene, read_starss_folder
from simulate.scenes.block_arrays import PER_SCENE_NAMES, block_arrays
from simulate.scenes.config import ScenesConfig
from simulate.sources.base import SourceError

__all__ = ["LabelEvent", "RecordedRef", "RecordedSceneRenderer", "check_recorded_config", "hold_out", "label_events",
           "list_recordings", "recordings_digest"]

_NAN3 = (np.nan, np.nan, np.nan)
_TAG_HOLD_OUT = 0x686F6C64  # "hold": the hold-out's draws, apart from any other seed sequence


@dataclass(frozen=True)
class RecordedRef:
    """Recording ``index`` (its row) of output split ``split``."""

    split: str
    index: int


@dataclass(frozen=True)
class LabelEvent:
    """One run of a (track, class) on consecutive frames ``[first, stop)``."""

    track: int
    class_index: int
    first: int
    stop: int


def label_events(labels: FrameLabels) -> list[LabelEvent]:
    """The events of ``labels`` ``(frames, tracks)``: maximal runs of one (track, class) on consecutive frames,
    sorted by first frame, then track."""
    events = []
    tracks = labels.active.shape[1]
    # -1 marks an inactive frame; a change of value along a track starts or ends a run
    classes = np.where(labels.active, labels.class_index.astype(np.int64), -1)
    padded = np.concatenate([np.full((1, tracks), -1), classes, np.full((1, tracks), -1)])
    for track in range(tracks):
        column = padded[:, track]
        edges = np.flatnonzero(column[1:] != column[:-1])  # frame k (of `classes`) differs from frame k - 1
        for start, stop in itertools.pairwise(edges):
            if column[start + 1] >= 0:
                events.append(LabelEvent(track=track, class_index=int(column[start + 1]), first=int(start),
                                         stop=int(stop)))
    return sorted(events, key=lambda e: (e.first, e.track))


def check_recorded_config(config: ScenesConfig) -> None:
    """Raise ``ValueError`` unless the config can describe recordings of the STARSS23 MIC format.

    Raises:
        ValueError: an array other than the tetrahedral preset (the MIC format's capsules; the positions stored
            in the file must be those the audio was recorded with).
    """
    if config.array.geometry != STARSS_ARRAY:
        raise ValueError(f"source kind 'dcase' reads STARSS23 MIC-format recordings, made with the {STARSS_ARRAY} "
                         f"array; array.geometry is {config.array.geometry!r}: set array.geometry={STARSS_ARRAY}")


def list_recordings(config: ScenesConfig, splits: Sequence[str]) -> dict[str, list[RecordedScene]]:
    """Output split -> its recordings (the folds of ``source.dcase.folds``, sorted by fold, then name).

    Every WAV must be at ``config.sample_rate`` (no resampling) and every CSV is read and checked here, before any
    output is written.

    Raises:
        SourceError: a missing folder or file, a WAV at another rate or channel count, a bad CSV (naming the file
            and line), or a split with no recordings.
    """
    d = config.source.dcase
    h = d.hold_out
    class_names = tuple(d.class_names) if d.class_names is not None else STARSS23_CLASSES
    held = bool(h.split) and (h.split in splits or h.source in splits)
    to_read = [s for s in splits if s != h.split]  # the hold-out's recordings are read with its source split
    if held and h.source not in to_read:
        to_read.append(h.source)
    out = {}
    for split in to_read:
        folds = sorted(d.folds[split])
        out[split] = read_starss_folder(d.root, class_names=class_names, sample_rate=config.sample_rate, folds=folds,
                                        hop_s=DCASE_HOP_S, max_tracks=d.max_tracks)
        if not out[split]:
            raise SourceError(f"split {split!r}: its folds {', '.join(folds)} under {Path(d.root) / 'mic_dev'} hold "
                              "no recordings (.wav)")
    if held:
        out[h.source], out[h.split] = hold_out(out[h.source], fraction=h.fraction, seed=h.seed)
        if not out[h.split]:
            raise SourceError(f"source.dcase.hold_out: no fold of split {h.source!r} has 2 or more recordings, so "
                              f"none can be moved to {h.split!r} without emptying a fold")
    return {split: out[split] for split in splits}


def hold_out(recordings: Sequence[RecordedScene], *, fraction: float,
             seed: int) -> tuple[list[RecordedScene], list[RecordedScene]]:
    """``(kept, held)``: of each fold of ``recordings`` (sorted by fold, then name), ``round(fraction * n)``
    recordings drawn with ``seed`` (at least 1, at most ``n - 1``; none of a fold of one), both lists in the
    input's order."""
    by_fold: dict[str, list[int]] = {}
    for i, r in enumerate(recordings):
        by_fold.setdefault(r.fold, []).append(i)
    rng = np.random.default_rng(np.random.SeedSequence([_TAG_HOLD_OUT, seed]))
    chosen: set[int] = set()
    for fold in sorted(by_fold):
        rows = by_fold[fold]
        k = min(max(1, round(fraction * len(rows))), len(rows) - 1)
        chosen.update(rows[j] for j in rng.choice(len(rows), size=k, replace=False))
    return ([r for i, r in enumerate(recordings) if i not in chosen],
            [r for i, r in enumerate(recordings) if i in chosen])


def recordings_digest(recordings: Sequence[RecordedScene]) -> str:
    """Digest of a split's listing (names, WAV sizes, lengths, labels): unfinished work of another listing is
    never mixed in on resume."""
    h = hashlib.sha256()
    for r in recordings:
        h.update(f"{r.fold}/{r.name}\t{r.n_samples}\t{r.audio_path.stat().st_size}\n".encode())
        for f in FRAME_FIELDS:
            h.update(np.ascontiguousarray(getattr(r.labels, f.name)).tobytes())
    return h.hexdigest()


class RecordedSceneRenderer(BlockRenderer):
    """Renders blocks of recordings (``RecordedRef``) into the arrays of a scene block file."""

    unit = "scene"

    def __init__(self, *, recordings: dict[str, list[RecordedScene]], audio_dtype: str, max_tracks: int) -> None:
        self.recordings, self.audio_dtype, self.max_tracks = recordings, audio_dtype, max_tracks

    def setup(self) -> None:
        """Nothing to set up: the audio is read per scene."""

    def render(self, refs: Sequence[RecordedRef]) -> dict[str, np.ndarray]:
        """The arrays of ``refs`` (keys ``audio`` ``(4, samples)``, ``scene__*``, ``frames__*`` ``(frames,
        tracks)``, ``events__*``), as ``SceneRenderer.render`` makes them."""
        audio = []
        scenes: dict[str, list] = {k: [] for k in PER_SCENE_NAMES}
        frames: dict[str, list] = {f.name: [] for f in FRAME_FIELDS}
        events: dict[str, list] = {f.name: [] for f in EVENT_FIELDS}
        for local, ref in enumerate(refs):
            rec = self.recordings[ref.split][ref.index]
            audio.append(rec.load_audio().astype(self.audio_dtype))
            found = label_events(rec.labels)
            row = {"lengths": rec.n_samples, "n_frames": rec.labels.frames, "n_events": len(found),
                   "room_dims": _NAN3, "rt60_target": np.nan, "rt60_sabine": np.nan, "absorption": np.nan,
                   "array_center": _NAN3, "gain": 1.0, "scene_index": ref.index, "source_id": f"{rec.fold}/{rec.name}"}
            for key, value in row.items():
                scenes[key].append(value)
            for f in FRAME_FIELDS:
                frames[f.name].append(getattr(rec.labels, f.name))
            hop, seconds = rec.labels.hop_s, rec.n_samples / rec.sample_rate
            for e in found:
                onset = e.first * hop
                values = {"scene": local, "onset_s": onset, "duration_s": min(e.stop * hop, seconds) - onset,
                          "class_index": e.class_index, "track": e.track, "trajectory": "recorded",
                          "start_pos": _NAN3, "end_pos": _NAN3, "angular_speed_deg": 0.0, "speed_m_s": 0.0,
                          "ebr_db": np.nan, "source_id": rec.name}
                for key, value in values.items():
                    events[key].append(value)
        return block_arrays(audio=audio, scenes=scenes, frames=frames, events=events, tracks=self.max_tracks)
