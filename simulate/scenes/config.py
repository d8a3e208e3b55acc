"""The typed schema of a ``simulate scenes`` config (YAML in ``configs/simulate/scenes-*.yaml``).

The room, array, source and backend sections are those of ``simulate build`` (``simulate.config``); ``scene``
says what one scene is and how many each split has; ``output`` how the audio is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mcsimclr.core.array import ArrayConfig
from simulate.config import BackendConfig, Range, RoomConfig, SourceConfig, _check_range
from simulate.scenes.events import MAX_POLYPHONY
from simulate.scenes.trajectory import TRAJECTORY_KINDS

MAX_SCENE_SECONDS = 60.0


@dataclass
class SceneConfig:
    """One scene: its length, its events and their paths, levels and noise, and the scenes per split.

    ``splits`` maps each output split to its number of scenes; ``clip_splits`` maps an output split to the source
    split whose clips its events draw (default: the split of the same name, else the source's only split), so
    that e.g. ``train`` scenes use ``noisy_train`` clips and ``test`` scenes ``test`` clips, never shared.
    ``ebr_db`` is each event's power over its span against the ambient background (unit power); the scene's SNR
    is set by it (docs/dataset.md, "Scenes").
    """

    duration_s: float = 5.0
    n_events: tuple[int, int] = (1, 6)
    max_polyphony: int = MAX_POLYPHONY
    max_event_s: float | None = None
    trajectories: dict[str, float] = field(default_factory=lambda: {"static": 1.0, "arc": 1.0, "line": 1.0})
    angular_speed: Range = (10.0, 40.0)
    line_speed: Range = (0.2, 1.0)
    ebr_db: Range = (6.0, 30.0)
    ambient_noise: bool = True
    noise_files: list[str] | None = None
    rir_step_s: float = 0.05
    crossfade: str = "hann"
    label_hop_s: float = 0.1
    schedule_tries: int = 100
    splits: dict[str, int] = field(default_factory=lambda: {"train": 40, "test": 10})
    clip_splits: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.duration_s <= MAX_SCENE_SECONDS:
            raise ValueError(f"duration_s must be in (0, {MAX_SCENE_SECONDS:g}] s, got {self.duration_s}")
        low, high = self.n_events
        if not 1 <= low <= high:
            raise ValueError(f"n_events must be [low, high] with 1 <= low <= high, got {list(self.n_events)}")
        if not 1 <= self.max_polyphony <= MAX_POLYPHONY:
            raise ValueError(f"max_polyphony must be 1 to {MAX_POLYPHONY}, got {self.max_polyphony}")
        if self.max_event_s is not None and self.max_event_s <= 0:
            raise ValueError(f"max_event_s must be > 0 or null, got {self.max_event_s}")
        unknown = sorted(set(self.trajectories) - set(TRAJECTORY_KINDS))
        if unknown or any(w < 0 for w in self.trajectories.values()) or sum(self.trajectories.values()) <= 0:
            raise ValueError(f"trajectories must give weights >= 0 (not all 0) to {', '.join(TRAJECTORY_KINDS)}, "
                             f"got {self.trajectories}")
        _check_range("angular_speed", self.angular_speed)
        _check_range("line_speed", self.line_speed)
        lo, hi = self.ebr_db
        if lo > hi:
            raise ValueError(f"ebr_db range [{lo}, {hi}] has its lower bound above its upper bound")
        if self.rir_step_s <= 0 or self.label_hop_s <= 0:
            raise ValueError(f"rir_step_s and label_hop_s must be > 0, got {self.rir_step_s}, {self.label_hop_s}")
        if self.crossfade not in ("hann", "linear"):
            raise ValueError(f"crossfade must be 'hann' or 'linear', got {self.crossfade!r}")
        if self.schedule_tries < 1:
            raise ValueError(f"schedule_tries must be >= 1, got {self.schedule_tries}")
        if not self.splits:
            raise ValueError("scene.splits must name at least one split")
        for name, count in self.splits.items():
            if count < 1:
                raise ValueError(f"scene.splits.{name} must be >= 1 scene, got {count}")
        stray = sorted(set(self.clip_splits) - set(self.splits))
        if stray:
            raise ValueError(f"scene.clip_splits names {stray}, which scene.splits does not have")


@dataclass
class DcaseHoldOutConfig:
    """Recordings moved from one output split to a new one: a dev split (for the epoch selection of ``mcsimclr
    seld``) where the folds have none, as STARSS23's development set (train and test folds only).

    ``split``: the new split's name (``""``: no hold-out); ``source``: the split of ``folds`` it takes recordings
    from; ``fraction``: of each fold of ``source`` (rounded; at least one recording of a fold with two or more,
    never a whole fold); ``seed``: which recordings. Recordings are held out whole; two recordings of one room may
    land on both sides (the dev split selects epochs, it does not measure generalisation to new rooms).
    """

    split: str = ""
    source: str = "train"
    fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ValueError(f"dcase.hold_out.fraction must be in (0, 1), got {self.fraction}")
        if self.seed < 0:
            raise ValueError(f"dcase.hold_out.seed must be >= 0, got {self.seed}")


@dataclass
class DcaseSourceConfig:
    """Recorded scenes in the STARSS23 / DCASE layout under ``root`` (``mic_dev/<fold>/*.wav``, 4 channels, 24 kHz;
    ``metadata_dev/<fold>/*.csv``), read into scene files instead of simulated.

    ``folds`` maps each output split to the folds it holds (e.g. ``train: [dev-train-sony, dev-train-tau]``);
    a fold belongs to one split only. The folds decide the splits and their scenes (one per recording, sorted
    by fold, then name): ``scene.splits`` and the rest of the ``scene``, ``room`` and ``backend`` sections are
    not used. ``hold_out`` adds a split of recordings taken from another (:class:`DcaseHoldOutConfig`).
    ``class_names`` fixes the classes (default: STARSS23's 13); ``max_tracks``: events at once in a
    frame. The array must be ``tetrahedral`` and ``sample_rate`` that of the recordings (24000; no
    resampling); labels are DCASE's 100 ms frames. See ``simulate.scenes.recorded``.
    """

    root: str = ""
    folds: dict[str, list[str]] = field(default_factory=dict)
    hold_out: DcaseHoldOutConfig = field(default_factory=DcaseHoldOutConfig)
    class_names: list[str] | None = None
    max_tracks: int = 6

    @property
    def output_splits(self) -> list[str]:
        """The splits written: those of ``folds``, then the hold-out's."""
        return [*self.folds, *([self.hold_out.split] if self.hold_out.split else [])]

    def __post_init__(self) -> None:
        if self.max_tracks < 1:
            raise ValueError(f"dcase.max_tracks must be >= 1, got {self.max_tracks}")
        owner: dict[str, str] = {}
        for split, folds in self.folds.items():
            if not folds:
                raise ValueError(f"dcase.folds.{split} is empty; list the folds of split {split!r}")
            for fold in folds:
                if fold in owner:
                    raise ValueError(f"dcase.folds: fold {fold!r} is in both {owner[fold]!r} and {split!r}; a fold "
                                     "belongs to one split")
                owner[fold] = split
        h = self.hold_out
        if h.split and h.split in self.folds:
            raise ValueError(f"dcase.hold_out.split {h.split!r} is already a split of dcase.folds; name a new one")
        if h.split and h.source not in self.folds:
            raise ValueError(f"dcase.hold_out.source {h.source!r} is not a split of dcase.folds "
                             f"({', '.join(self.folds) or 'none'})")


@dataclass
class ScenesSourceConfig(SourceConfig):
    """Where the events come from: the clip sources of ``simulate build``, or ``dcase``: recorded scenes."""

    kind: Literal["synthetic", "fsdnoisy18k", "folder", "dcase"] = "synthetic"
    dcase: DcaseSourceConfig = field(default_factory=DcaseSourceConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind == "dcase" and not (self.dcase.root and self.dcase.folds):
            raise ValueError("source kind 'dcase' needs dcase.root (the STARSS23-layout folder) and dcase.folds "
                             "(output split -> folds), e.g. 'source.dcase.folds={test: [dev-test-sony]}'")


@dataclass
class SofaBackendConfig:
    """Measured rooms: the multichannel room impulse responses of a SOFA file (``backend.name: sofa``).

    Events are placed at the file's measured source positions; a moving event steps through neighbouring measured
    positions, ``seconds_per_position`` each (``simulate.scenes.measured``). ``scene.trajectories``: the ``static``
    weight gives static events, the ``arc`` and ``line`` weights together give moving (``measured``) ones. The
    file's receivers (or ``mic_positions``) must be the config's ``array`` (mic count and offsets within 1 mm) and
    its sample rate ``sample_rate``; ``room`` is not used (its ``speed_of_sound`` only for the diffuse noise). In
    the scene files the room fields and ``array_center`` are NaN and ``start_pos``/``end_pos`` are offsets from the
    array centre in the array's frame. ``source_frame``/``mic_positions``: see ``simulate.backends.sofa.SofaRoom``
    (``array`` and explicit mic offsets for SpatialScaper's TAU/METU files).
    """

    path: str = ""
    source_frame: Literal["global", "array"] = "global"
    mic_positions: list[tuple[float, float, float]] | None = None
    seconds_per_position: float = 0.5

    def __post_init__(self) -> None:
        if self.seconds_per_position <= 0:
            raise ValueError(f"sofa.seconds_per_position must be > 0, got {self.seconds_per_position}")


@dataclass
class ScenesBackendConfig(BackendConfig):
    """The RIR simulator of ``simulate build``, or ``name: sofa``: measured RIRs from ``sofa.path``."""

    sofa: SofaBackendConfig = field(default_factory=SofaBackendConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name == "sofa" and not self.sofa.path:
            raise ValueError("backend 'sofa' needs sofa.path: a SOFA file of measured RIRs (backend.sofa.path=FILE)")


@dataclass
class ScenesOutputConfig:
    """How scenes are stored: audio dtype, the peak over all mics of each scene, scenes per work block."""

    audio_dtype: str = "float32"
    peak: float = 0.5
    chunk_scenes: int = 4

    def __post_init__(self) -> None:
        if self.audio_dtype not in ("float32", "float16"):
            raise ValueError(f"audio_dtype must be float32 or float16, got {self.audio_dtype!r}")
        if not 0.0 < self.peak <= 1.0:
            raise ValueError(f"peak must be in (0, 1], got {self.peak}")
        if self.chunk_scenes < 1:
            raise ValueError(f"chunk_scenes must be >= 1, got {self.chunk_scenes}")


@dataclass
class ScenesConfig:
    """The whole ``simulate scenes`` config."""

    sample_rate: int = 24000
    seed: int = 0
    room: RoomConfig = field(default_factory=RoomConfig)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    source: ScenesSourceConfig = field(default_factory=ScenesSourceConfig)
    backend: ScenesBackendConfig = field(default_factory=ScenesBackendConfig)
    scene: SceneConfig = field(default_factory=SceneConfig)
    output: ScenesOutputConfig = field(default_factory=ScenesOutputConfig)

    def __post_init__(self) -> None:
        if self.sample_rate < 1000:
            raise ValueError(f"sample_rate must be >= 1000 Hz, got {self.sample_rate}")
