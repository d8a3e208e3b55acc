"""The typed schema of a ``simulate build`` config (YAML in ``configs/simulate/``).

Defaults follow the MC-SimCLR paper's simulation (recipe.md, "Room simulation"); every range is a value
here so that users can change it from YAML or with a dotted override (``room.rt60=[0.2,0.6]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mcsimclr.core.array import ArrayConfig

Range = tuple[float, float]


def _check_range(name: str, value: Range, *, low: float = 0.0, strict: bool = True) -> None:
    lo, hi = value
    if lo > hi:
        raise ValueError(f"{name} range [{lo}, {hi}] has its lower bound above its upper bound")
    if (lo <= low) if strict else (lo < low):
        raise ValueError(f"{name} range [{lo}, {hi}] must be {'>' if strict else '>='} {low}")


@dataclass
class RoomConfig:
    """Random shoebox rooms and placements, one new room per clip. Lengths in metres, times in seconds."""

    width: Range = (3.0, 10.0)
    length: Range = (3.0, 10.0)
    height: Range = (2.5, 4.0)
    rt60: Range = (0.1, 1.0)
    source_height: Range = (0.5, 2.0)
    array_height: Range = (0.5, 2.0)
    wall_margin: float = 0.5
    min_source_distance: float = 0.5
    max_absorption: float = 0.99
    speed_of_sound: float = 343.0
    placement_tries: int = 1000

    def __post_init__(self) -> None:
        for name in ("width", "length", "height", "rt60", "source_height", "array_height"):
            _check_range(name, getattr(self, name))
        if self.wall_margin < 0:
            raise ValueError(f"wall_margin must be >= 0, got {self.wall_margin}")
        if self.min_source_distance < 0:
            raise ValueError(f"min_source_distance must be >= 0, got {self.min_source_distance}")
        if not 0.0 < self.max_absorption <= 1.0:
            raise ValueError(f"max_absorption must be in (0, 1], got {self.max_absorption}")
        if self.speed_of_sound <= 0:
            raise ValueError(f"speed_of_sound must be > 0, got {self.speed_of_sound}")
        if self.placement_tries < 1:
            raise ValueError(f"placement_tries must be >= 1, got {self.placement_tries}")


@dataclass
class SyntheticSourceConfig:
    """The built-in procedural source set: distinct sound classes, deterministic from ``seed``."""

    seed: int = 0
    splits: dict[str, int] = field(
        default_factory=lambda: {"noisy_train": 600, "clean_train": 200, "test": 200}
    )
    min_duration: float = 0.3
    max_duration: float = 5.0

    def __post_init__(self) -> None:
        if not self.splits:
            raise ValueError("synthetic.splits must name at least one split")
        for name, count in self.splits.items():
            if count < 1:
                raise ValueError(f"synthetic.splits.{name} must be >= 1 clip, got {count}")
        if not 0.0 < self.min_duration <= self.max_duration:
            raise ValueError(
                f"need 0 < min_duration <= max_duration, got [{self.min_duration}, {self.max_duration}]"
            )


def check_dev_split(*, splits: Sequence[str], dev_clips: int) -> None:
    """FSDnoisy18k's held-out dev split: raise ``ValueError`` unless ``dev_clips >= 0`` and ``splits`` lists
    ``dev`` exactly when ``dev_clips > 0``."""
    if isinstance(dev_clips, bool) or not isinstance(dev_clips, int) or dev_clips < 0:
        raise ValueError(f"dev_clips must be an integer >= 0, got {dev_clips!r}")
    if dev_clips and "dev" not in splits:
        raise ValueError(f"dev_clips={dev_clips} holds clean_train clips out as the 'dev' split, but splits "
                         f"{list(splits)} does not list 'dev' (add it, or set dev_clips=0)")
    if not dev_clips and "dev" in splits:
        raise ValueError(f"splits {list(splits)} lists 'dev' but dev_clips is 0: FSDnoisy18k has no dev split of "
                         "its own; set dev_clips (e.g. 200 clean_train clips, as the paper does)")


@dataclass
class FSDnoisy18kSourceConfig:
    """FSDnoisy18k in its distributed layout under ``root`` (see docs/dataset.md).

    ``dev_clips``: clips of ``clean_train`` held out as a ``dev`` split (stratified by class, chosen by
    ``dev_seed``; ``splits`` must then list ``dev``): FSDnoisy18k has none, and every choice (probe L2, epochs,
    ``best.ckpt``) is made on dev, never on test. ``configs/simulate/fsdnoisy18k.yaml`` holds out 200, as the paper.
    """

    root: str = ""
    splits: list[str] = field(default_factory=lambda: ["noisy_train", "clean_train", "test"])
    max_clips_per_split: int | None = None
    dev_clips: int = 0
    dev_seed: int = 0

    def __post_init__(self) -> None:
        valid = ("noisy_train", "clean_train", "dev", "test")
        for name in self.splits:
            if name not in valid:
                raise ValueError(f"unknown FSDnoisy18k split {name!r}; valid: {', '.join(valid)}")
        if self.max_clips_per_split is not None and self.max_clips_per_split < 1:
            raise ValueError(f"max_clips_per_split must be >= 1, got {self.max_clips_per_split}")
        check_dev_split(splits=self.splits, dev_clips=self.dev_clips)


@dataclass
class FolderSourceConfig:
    """Any labelled audio collection: a CSV manifest (``path,label[,split]``) or one subfolder per class.

    Without a ``split`` column, clips are assigned to splits by ``split_fractions`` (stratified by class,
    seeded by ``split_seed``). ``class_names`` fixes the class order and rejects unknown labels; by default
    the sorted set of labels found is used.
    """

    root: str = ""
    manifest: str | None = None
    class_names: list[str] | None = None
    split_fractions: dict[str, float] = field(default_factory=lambda: {"train": 1.0})
    split_seed: int = 0

    def __post_init__(self) -> None:
        if not self.split_fractions:
            raise ValueError("folder.split_fractions must name at least one split")
        for name, frac in self.split_fractions.items():
            if not 0.0 < frac <= 1.0:
                raise ValueError(f"folder.split_fractions.{name} must be in (0, 1], got {frac}")
        total = sum(self.split_fractions.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"folder.split_fractions must sum to 1, got {total}")


@dataclass
class SourceConfig:
    """Where the mono clips come from. ``kind`` picks one of the sections below."""

    kind: Literal["synthetic", "fsdnoisy18k", "folder"] = "synthetic"
    synthetic: SyntheticSourceConfig = field(default_factory=SyntheticSourceConfig)
    fsdnoisy18k: FSDnoisy18kSourceConfig = field(default_factory=FSDnoisy18kSourceConfig)
    folder: FolderSourceConfig = field(default_factory=FolderSourceConfig)
    skip_bad_files: bool = False
    silence_peak: float = 1e-4

    def __post_init__(self) -> None:
        if self.kind == "fsdnoisy18k" and not self.fsdnoisy18k.root:
            raise ValueError("source kind 'fsdnoisy18k' needs fsdnoisy18k.root: the data set directory "
                             "(override: source.fsdnoisy18k.root=DIR)")
        if self.kind == "folder" and not (self.folder.root or self.folder.manifest):
            raise ValueError("source kind 'folder' needs folder.root (one subfolder per class) "
                             "or folder.manifest (CSV), e.g. source.folder.root=DIR")
        if self.silence_peak < 0:
            raise ValueError(f"silence_peak must be >= 0, got {self.silence_peak}")


def check_attenuations(*, att_diff_db: float, att_max_db: float) -> None:
    """Raise ``ValueError`` unless ``0 < att_diff_db < att_max_db`` (the diffuse tail's decay thresholds, dB)."""
    if not 0.0 < att_diff_db < att_max_db:
        raise ValueError(f"need 0 < att_diff_db < att_max_db, got {att_diff_db} and {att_max_db}")


@dataclass
class BackendConfig:
    """The room impulse response simulator.

    ``tail: diffuse`` (default) is gpuRIR's recipe (``simulate/tail.py``, docs/simulation_fidelity.md): image
    sources until the reverberation has decayed by ``att_diff_db`` (at the target RT60), then a seeded noise
    tail with the target's exponential decay until ``att_max_db``; the measured RT60 follows the target (97 %
    of rooms within +-10 %) at ~10-80 ms per room on one core. ``tail: none`` is the plain image-source model
    at the order the RT60 needs. ``max_order`` caps the image-source order either way (``null``: no cap); the
    pre-tail default was ``tail: none, max_order: 12`` (fast, but the decay is cut short: measured RT60
    0.3-1.0x the target, median 0.58; uncapped it overshoots 1.4x and costs up to seconds per room).
    The RT60 actually obtained is measured and stored either way.
    """

    name: str = "pyroomacoustics"
    max_order: int | None = None
    air_absorption: bool = False
    tail: Literal["diffuse", "none"] = "diffuse"
    att_diff_db: float = 15.0
    att_max_db: float = 60.0

    def __post_init__(self) -> None:
        if self.max_order is not None and self.max_order < 0:
            raise ValueError(f"max_order must be >= 0 or null, got {self.max_order}")
        if self.tail not in ("diffuse", "none"):
            raise ValueError(f"tail must be 'diffuse' or 'none', got {self.tail!r}")
        check_attenuations(att_diff_db=self.att_diff_db, att_max_db=self.att_max_db)

    def options(self) -> dict[str, object]:
        """The backend's own keyword arguments (besides sample rate, order cap, speed of sound, air absorption)
        for ``simulate.backends.make_backend``."""
        return {"tail": self.tail == "diffuse", "att_diff_db": self.att_diff_db, "att_max_db": self.att_max_db}


@dataclass
class OutputConfig:
    """How spatialised clips are stored.

    The wet multichannel clip is scaled so its peak over all mics is ``peak`` (the gain is stored per clip);
    ``keep_tail`` keeps the reverberant tail after the dry clip ends (length + RIR length - 1).
    """

    audio_dtype: Literal["float32", "float16"] = "float32"
    peak: float = 0.5
    keep_tail: bool = False
    chunk_clips: int = 16

    def __post_init__(self) -> None:
        if not 0.0 < self.peak <= 1.0:
            raise ValueError(f"peak must be in (0, 1], got {self.peak}")
        if self.chunk_clips < 1:
            raise ValueError(f"chunk_clips must be >= 1, got {self.chunk_clips}")


@dataclass
class SimulateConfig:
    """The whole ``simulate build`` config."""

    sample_rate: int = 24000
    seed: int = 0
    room: RoomConfig = field(default_factory=RoomConfig)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        if self.sample_rate < 1000:
            raise ValueError(f"sample_rate must be >= 1000 Hz, got {self.sample_rate}")
