"""FSDnoisy18k (Fonseca et al. 2019) in its distributed layout: the paper's 20-class source clips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simulate.config import check_dev_split
from simulate.sources.audio_io import read_mono
from simulate.sources.base import ClipRef, SourceError, SourceSet
from simulate.sources.csv_table import read_table
from simulate.sources.stratify import stratified_pick

__all__ = ["FSDNOISY18K_CLASSES", "FSDNOISY18K_DEV_SPLIT", "FSDNOISY18K_SPLITS", "FSDnoisy18kSource"]

FSDNOISY18K_CLASSES: tuple[str, ...] = (
    "Acoustic_guitar",
    "Bass_guitar",
    "Clapping",
    "Coin_(dropping)",
    "Crash_cymbal",
    "Dishes_and_pots_and_pans",
    "Engine",
    "Fart",
    "Fire",
    "Fireworks",
    "Glass",
    "Hi-hat",
    "Piano",
    "Rain",
    "Slam",
    "Squeak",
    "Tearing",
    "Walk_or_footsteps",
    "Wind",
    "Writing",
)
"""The 20 classes, in the order of their label index (recipe.md, "Data")."""

FSDNOISY18K_SPLITS: tuple[str, ...] = ("noisy_train", "clean_train", "test")
"""The splits FSDnoisy18k is distributed with."""

FSDNOISY18K_DEV_SPLIT = "dev"
"""The split held out of ``clean_train`` when ``dev_clips > 0`` (FSDnoisy18k itself has none)."""

_VALID_SPLITS = (*FSDNOISY18K_SPLITS, FSDNOISY18K_DEV_SPLIT)

_TRAIN_DIR = "FSDnoisy18k.audio_train"
_TEST_DIR = "FSDnoisy18k.audio_test"
_META_DIR = "FSDnoisy18k.meta"
_TRAIN_COLUMNS = ("fname", "label", "aso_id", "manually_verified", "noisy_small")
_TEST_COLUMNS = ("fname", "label", "aso_id")


class FSDnoisy18kSource(SourceSet):
    """FSDnoisy18k clips under ``root``, in the layout the data set is distributed in.

    Layout::

        root/FSDnoisy18k.audio_train/*.wav
        root/FSDnoisy18k.audio_test/*.wav
        root/FSDnoisy18k.meta/train.csv   fname,label,aso_id,manually_verified,noisy_small
        root/FSDnoisy18k.meta/test.csv    fname,label,aso_id

    Splits: ``clean_train`` is the rows of ``train.csv`` with ``manually_verified == 1``, ``noisy_train`` the
    rows with ``manually_verified == 0`` (the two are disjoint and together make up ``train.csv``), ``test``
    is ``test.csv``. Splits are listed in the order asked, clips in CSV row order; ``ClipRef.source_id`` is
    the file's path relative to ``root`` (``FSDnoisy18k.audio_train/123.wav``).

    ``dev``: FSDnoisy18k has no validation split; the paper holds out random clean_train clips for it. With
    ``dev_clips = n > 0``, ``n`` clips of ``clean_train`` move to a ``dev`` split (so ``clean_train`` loses
    them; ``noisy_train`` and ``test`` are unchanged), stratified by class (each class gives its share of
    ``n``, rounded by largest remainder) and, within a class, the clips with the smallest
    ``sha256(f"{dev_seed}:{source_id}")``: deterministic from ``dev_seed`` and the clip names alone.
    ``splits`` must then list ``dev``, and may list it only then.

    Args:
        root: the data set directory (the one holding the three ``FSDnoisy18k.*`` folders).
        splits: which splits to list, in this order; any of ``noisy_train``, ``clean_train``, ``test``, and
            ``dev`` when ``dev_clips > 0``.
        max_clips_per_split: keep only the first N clips of each split, in CSV row order (a deterministic
            prefix for quick runs, not a random sample: the CSV's order decides which clips are kept); applied
            after ``dev`` is taken from the whole of ``clean_train``.
        dev_clips: clips of ``clean_train`` held out as the ``dev`` split (0: no dev split).
        dev_seed: seed of which clips are held out.
        silence_peak: clips whose absolute peak is below this are rejected as silent when loaded.

    Only the CSVs and directories are checked by :meth:`splits`; a listed file that is missing or bad is
    reported by :meth:`load` for that clip alone (so that a build may skip it when asked to).
    """

    kind = "fsdnoisy18k"

    def __init__(
        self,
        *,
        root: str | Path,
        splits: Sequence[str] = FSDNOISY18K_SPLITS,
        max_clips_per_split: int | None = None,
        dev_clips: int = 0,
        dev_seed: int = 0,
        silence_peak: float = 1e-4,
    ) -> None:
        if not str(root):
            raise ValueError("FSDnoisy18k root is empty; give the data set directory")
        if isinstance(splits, str):
            raise ValueError(f"splits must be a sequence of split names, got the string {splits!r}")
        splits = tuple(splits)
        if not splits:
            raise ValueError(f"splits must name at least one of {', '.join(_VALID_SPLITS)}")
        for name in splits:
            if name not in _VALID_SPLITS:
                raise ValueError(f"unknown FSDnoisy18k split {name!r}; valid: {', '.join(_VALID_SPLITS)}")
        if len(set(splits)) != len(splits):
            raise ValueError(f"splits lists a split more than once: {list(splits)}")
        if max_clips_per_split is not None and max_clips_per_split < 1:
            raise ValueError(f"max_clips_per_split must be >= 1 or None, got {max_clips_per_split}")
        if silence_peak < 0:
            raise ValueError(f"silence_peak must be >= 0, got {silence_peak}")
        check_dev_split(splits=splits, dev_clips=dev_clips)
        self.root = Path(root)
        self.split_names: tuple[str, ...] = splits
        self.max_clips_per_split = max_clips_per_split
        self.dev_clips, self.dev_seed = int(dev_clips), int(dev_seed)
        self.silence_peak = float(silence_peak)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The 20 FSDnoisy18k classes, indexed by ``ClipRef.label``."""
        return FSDNOISY18K_CLASSES

    def splits(self) -> dict[str, list[ClipRef]]:
        """The clips of every requested split, in the order asked, each in CSV row order.

        Raises:
            SourceError: missing root, audio directory or CSV; missing CSV column; empty or duplicated
                ``fname``; unknown label; ``manually_verified`` not 0 or 1; a requested split with no clips;
                ``dev_clips`` not below the number of ``clean_train`` clips.
        """
        if not self.root.is_dir():
            raise SourceError(f"FSDnoisy18k root {self.root} is not a directory (expected the data set folder)")
        meta = self.root / _META_DIR
        rows: dict[str, list[tuple[str, int]]] = {}
        if {"noisy_train", "clean_train", FSDNOISY18K_DEV_SPLIT} & set(self.split_names):
            self._require_dir(self.root / _TRAIN_DIR)
            train_rows = _read_csv(meta / "train.csv", _TRAIN_COLUMNS)
            rows["noisy_train"], rows["clean_train"] = [], []
            for line, row in train_rows:
                label = _label_index(row["label"], csv_path=meta / "train.csv", line=line)
                flag = row["manually_verified"].strip()
                if flag not in ("0", "1"):
                    raise SourceError(
                        f"{meta / 'train.csv'} line {line}: manually_verified must be 0 or 1, got {flag!r}"
                    )
                split = "clean_train" if flag == "1" else "noisy_train"
                rows[split].append((f"{_TRAIN_DIR}/{row['fname'].strip()}", label))
            if self.dev_clips:
                rows["clean_train"], rows[FSDNOISY18K_DEV_SPLIT] = self._hold_out_dev(rows["clean_train"],
                                                                                      meta / "train.csv")
        if "test" in self.split_names:
            self._require_dir(self.root / _TEST_DIR)
            test_csv = meta / "test.csv"
            rows["test"] = [
                (f"{_TEST_DIR}/{row['fname'].strip()}", _label_index(row["label"], csv_path=test_csv, line=line))
                for line, row in _read_csv(test_csv, _TEST_COLUMNS)
            ]

        out: dict[str, list[ClipRef]] = {}
        for split in self.split_names:
            listed = rows[split]
            if not listed:
                csv_name = "test.csv" if split == "test" else "train.csv"
                raise SourceError(f"FSDnoisy18k split {split!r} has no clips in {meta / csv_name}")
            if self.max_clips_per_split is not None:
                listed = listed[: self.max_clips_per_split]
            out[split] = [
                ClipRef(split=split, index=i, label=label, source_id=source_id)
                for i, (source_id, label) in enumerate(listed)
            ]
        return out

    def load(self, ref: ClipRef, *, sample_rate: int) -> np.ndarray:
        """The clip as mono float32 samples ``(samples,)`` at ``sample_rate``, read from ``root/source_id``.

        Raises:
            SourceError: missing, unreadable or corrupt file, multichannel audio, empty or silent clip.
        """
        return read_mono(
            self.root / ref.source_id, sample_rate=sample_rate, source_id=ref.source_id, silence_peak=self.silence_peak
        )

    def _hold_out_dev(self, clean: list[tuple[str, int]], train_csv: Path
                      ) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """``(clean_train, dev)``: ``dev_clips`` of the ``clean`` rows ``(source_id, label)`` moved to dev, both
        in CSV row order."""
        if self.dev_clips >= len(clean):
            raise SourceError(f"dev_clips={self.dev_clips} must be below the {len(clean)} clean_train clips of "
                              f"{train_csv} (rows with manually_verified == 1): dev is held out of clean_train")
        picked = set(stratified_pick([label for _, label in clean], [sid for sid, _ in clean], n=self.dev_clips,
                                     seed=self.dev_seed))
        return ([r for i, r in enumerate(clean) if i not in picked], [r for i, r in enumerate(clean) if i in picked])

    @staticmethod
    def _require_dir(path: Path) -> None:
        if not path.is_dir():
            raise SourceError(f"FSDnoisy18k audio directory {path} not found (expected the distributed layout)")


def _label_index(value: str, *, csv_path: Path, line: int) -> int:
    label = value.strip()
    try:
        return FSDNOISY18K_CLASSES.index(label)
    except ValueError:
        raise SourceError(
            f"{csv_path} line {line}: unknown label {label!r}; valid FSDnoisy18k classes: "
            f"{', '.join(FSDNOISY18K_CLASSES)}"
        ) from None


def _read_csv(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a metadata CSV as ``(line number, {column: value})``; checks columns and ``fname`` values."""
    if not path.is_file():
        raise SourceError(f"FSDnoisy18k metadata file {path} not found (expected the distributed layout)")
    _, rows = read_table(path, required=columns, expected=", ".join(columns))
    seen: dict[str, int] = {}
    for line, row in rows:
        fname = row["fname"]
        if not fname:
            raise SourceError(f"{path} line {line}: empty fname")
        if fname in seen:
            raise SourceError(f"{path} line {line}: fname {fname!r} already listed on line {seen[fname]}")
        seen[fname] = line
    return rows
