"""Any labelled audio collection: a CSV manifest or one subfolder per class, split by a seeded, stratified rule."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

import numpy as np

from simulate.sources.audio_io import read_mono
from simulate.sources.base import ClipRef, SourceError, SourceSet
from simulate.sources.csv_table import read_table
from simulate.sources.stratify import apportion, clip_key

__all__ = ["AUDIO_EXTENSIONS", "FolderSource", "apportion"]

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".aiff", ".aif")
"""File extensions (compared case-insensitively) that count as audio in the subfolder layout."""

_DEFAULT_SPLIT_FRACTIONS: Mapping[str, float] = MappingProxyType({"train": 1.0})
_MANIFEST_COLUMNS = ("path", "label")


@dataclass(frozen=True)
class _Entry:
    """One listed clip before it is put into a split."""

    source_id: str
    label: str
    split: str | None
    where: str  # "manifest.csv line 7" or the file's path, for error messages


class FolderSource(SourceSet):
    """Labelled mono clips from a CSV manifest or from one subfolder per class.

    Layouts (give exactly one of ``root`` and ``manifest``; an empty string counts as not given):

    - ``manifest``: a CSV file with columns ``path,label`` and optionally ``split`` (other columns are
      ignored). ``path`` is relative to the manifest's directory, or absolute. Clips are listed in row
      order; blank rows are skipped; a path listed twice is an error.
    - ``root``: ``root/<class name>/**/<file>``, the class being the name of the top-level subfolder. Files
      whose extension is one of :data:`AUDIO_EXTENSIONS` (any case) are listed, sorted by their path relative
      to ``root``; hidden files and folders (name starting with ``.``) are ignored, other files are ignored
      with one warning, and an audio file directly in ``root`` (no class) is an error.

    ``ClipRef.source_id`` is the clip's path relative to ``root`` or to the manifest's directory (POSIX
    separators), or the absolute path for a manifest entry outside the manifest's directory.

    Classes: ``class_names`` fixes the class order (``ClipRef.label`` indexes it). A clip whose label is not
    in it is an error, and so is a listed class with no clip at all (fail fast: an empty class is almost
    always a typo or an incomplete copy, and would silently shift what the label indices mean). Without
    ``class_names`` the classes are the sorted set of labels found.

    Splits:

    - With a ``split`` column, its values are the splits (in order of first appearance) and every row must
      have one. ``split_fractions`` must then be left at its default ``{"train": 1.0}``: giving both is an
      error, because one would silently override the other.
    - Otherwise clips are assigned by ``split_fractions``, stratified per class, by this rule:

      1. The fractions are taken as exact decimals (``0.1`` is 1/10) and normalised to sum to 1.
      2. For each class in class order, with ``n`` clips, split ``s`` gets ``floor(n * f_s)`` clips, and the
         ``n - sum(floor)`` clips left over go one each to the splits with the largest remainders
         ``n * f_s - floor(n * f_s)`` (largest-remainder rounding). Ties go first to the split furthest
         below its share over the classes so far (``f_s * clips of earlier classes - clips it got``), then
         to the split listed first. So each split gets ``floor`` or ``ceil`` of its share of every class,
         and its total is within ``number of classes`` of ``f_s * total`` (usually within 1).
      3. Which clips of a class go where: the clips are ordered by ``sha256(f"{split_seed}:{source_id}")``
         and the first ones go to the first split of ``split_fractions``, the next ones to the second, and
         so on. This depends only on the seed and the clips' ids: not on NumPy's random streams, the
         machine, or the listing order; adding a clip moves no other clip between splits unless the
         split sizes change.

      A split that gets no clip at all is an error (too few clips for the fractions asked).

    Within a split, clips keep the listing order (manifest rows, or sorted paths).

    Only the listing is checked by :meth:`splits`; a listed file that is missing or bad is reported by
    :meth:`load` for that clip alone (so that a build may skip it when asked to).

    Args:
        root: directory with one subfolder per class.
        manifest: CSV file ``path,label[,split]``.
        class_names: the classes, in label-index order; default: the sorted labels found.
        split_fractions: split name -> fraction of every class's clips; each in (0, 1], summing to 1.
        split_seed: seed of the clip-to-split assignment.
        silence_peak: clips whose absolute peak is below this are rejected as silent when loaded.
    """

    kind = "folder"

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        manifest: str | Path | None = None,
        class_names: Sequence[str] | None = None,
        split_fractions: Mapping[str, float] = _DEFAULT_SPLIT_FRACTIONS,
        split_seed: int = 0,
        silence_peak: float = 1e-4,
    ) -> None:
        root = root if root is not None and str(root) else None
        manifest = manifest if manifest is not None and str(manifest) else None
        if (root is None) == (manifest is None):
            raise SourceError(
                "folder source needs exactly one of root (one subfolder per class) and manifest (CSV), got "
                + ("neither" if root is None else f"both: root={root}, manifest={manifest}")
            )
        if class_names is not None:
            if isinstance(class_names, str):
                raise ValueError(f"class_names must be a sequence of names, got the string {class_names!r}")
            class_names = tuple(class_names)
            if not class_names:
                raise ValueError("class_names is empty; give the class names or leave it unset")
            if any(not isinstance(c, str) or not c.strip() for c in class_names):
                raise ValueError(f"class_names must be non-empty strings, got {list(class_names)}")
            dupes = sorted({c for c in class_names if class_names.count(c) > 1})
            if dupes:
                raise ValueError(f"class_names lists {', '.join(dupes)} more than once")
        self._fractions = _exact_fractions(split_fractions)
        if silence_peak < 0:
            raise ValueError(f"silence_peak must be >= 0, got {silence_peak}")
        self.root = Path(root) if root is not None else None
        self.manifest = Path(manifest) if manifest is not None else None
        self.base_dir: Path = Path(root) if root is not None else Path(str(manifest)).parent
        self._class_names: tuple[str, ...] | None = class_names
        self.split_fractions: dict[str, float] = {str(k): float(v) for k, v in split_fractions.items()}
        self.split_seed = int(split_seed)
        self.silence_peak = float(silence_peak)
        self._entries: list[_Entry] | None = None
        self._resolved_classes: tuple[str, ...] | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names, indexed by ``ClipRef.label`` (reads the listing when they were not given)."""
        if self._resolved_classes is None:
            self._resolve()
        assert self._resolved_classes is not None
        return self._resolved_classes

    def splits(self) -> dict[str, list[ClipRef]]:
        """The clips of every split, each in listing order (see the class docstring for the rules).

        Raises:
            SourceError: missing root or manifest, missing CSV column, empty manifest or no audio found,
                unknown label, class with no clips, ``split`` column given with ``split_fractions``, a row
                without a split value, a split that gets no clips.
        """
        entries = self._resolve()
        label_of = {name: i for i, name in enumerate(self.class_names)}
        has_split_column = entries[0].split is not None
        if has_split_column:
            assignment = [e.split for e in entries]
            split_order = list(dict.fromkeys(assignment))
        else:
            assignment = self._assign(entries, label_of)
            split_order = list(self._fractions)
            for name in split_order:
                if name not in assignment:
                    raise SourceError(
                        f"split {name!r} gets no clips: {len(entries)} clips from {self._origin()} are too few for "
                        f"split_fractions {self.split_fractions}"
                    )
        out: dict[str, list[ClipRef]] = {name: [] for name in split_order}
        for entry, split in zip(entries, assignment, strict=True):
            assert split is not None
            clips = out[split]
            clips.append(ClipRef(split=split, index=len(clips), label=label_of[entry.label], source_id=entry.source_id))
        return out

    def load(self, ref: ClipRef, *, sample_rate: int) -> np.ndarray:
        """The clip as mono float32 samples ``(samples,)`` at ``sample_rate``.

        Raises:
            SourceError: missing, unreadable or corrupt file, multichannel audio, empty or silent clip.
        """
        path = Path(ref.source_id)
        if not path.is_absolute():
            path = self.base_dir / path
        return read_mono(path, sample_rate=sample_rate, source_id=ref.source_id, silence_peak=self.silence_peak)

    # -- listing -----------------------------------------------------------------------------------------------

    def _origin(self) -> str:
        return f"manifest {self.manifest}" if self.manifest is not None else f"root {self.root}"

    def _resolve(self) -> list[_Entry]:
        """List the clips once (cached: the listing travels with the object to worker processes)."""
        if self._entries is not None:
            return self._entries
        entries = self._list_manifest() if self.manifest is not None else self._list_root()
        if self._class_names is not None:
            valid = set(self._class_names)
            for e in entries:
                if e.label not in valid:
                    raise SourceError(
                        f"{e.where}: unknown label {e.label!r}; class_names: {', '.join(self._class_names)}"
                    )
            found = {e.label for e in entries}
            empty = [c for c in self._class_names if c not in found]
            if empty:
                raise SourceError(
                    f"{self._origin()}: no clips for class(es) {', '.join(empty)} listed in class_names; "
                    "remove them from class_names or add clips"
                )
            classes = self._class_names
        else:
            classes = tuple(sorted({e.label for e in entries}))
        self._entries, self._resolved_classes = entries, classes
        return entries

    def _list_manifest(self) -> list[_Entry]:
        manifest = self.manifest
        assert manifest is not None
        if not manifest.is_file():
            raise SourceError(f"folder manifest {manifest} not found (expected a CSV file with columns path,label)")
        base = Path(os.path.abspath(manifest.parent))
        header, rows = read_table(manifest, required=_MANIFEST_COLUMNS, optional=("split",),
                                  expected="path,label and optionally split")
        if "split" in header and dict(self._fractions) != {"train": Fraction(1)}:
            raise SourceError(
                f"{manifest} has a split column and split_fractions is set to {self.split_fractions}; "
                "use one or the other (leave split_fractions at its default {'train': 1.0}, "
                "or drop the split column)"
            )
        entries: list[_Entry] = []
        seen: dict[str, int] = {}
        for line, row in rows:
            where = f"{manifest} line {line}"
            raw_path, label, split = row["path"], row["label"], row.get("split")
            if not raw_path:
                raise SourceError(f"{where}: empty path")
            if not label:
                raise SourceError(f"{where}: empty label for {raw_path}")
            if split == "":
                raise SourceError(f"{where}: empty split for {raw_path}; with a split column every row needs one")
            source_id = _manifest_source_id(raw_path, base)
            if source_id in seen:
                raise SourceError(f"{where}: path {raw_path!r} already listed on line {seen[source_id]}")
            seen[source_id] = line
            entries.append(_Entry(source_id=source_id, label=label, split=split, where=where))
        if not entries:
            raise SourceError(f"folder manifest {manifest} lists no clips (only a header or nothing)")
        return entries

    def _list_root(self) -> list[_Entry]:
        root = self.root
        assert root is not None
        if not root.is_dir():
            raise SourceError(f"folder root {root} is not a directory (expected one subfolder per class)")
        entries: list[_Entry] = []
        ignored: list[str] = []
        for top in sorted(root.iterdir(), key=lambda p: p.name):
            if top.name.startswith("."):
                continue
            if not top.is_dir():
                if top.suffix.lower() in AUDIO_EXTENSIONS:
                    raise SourceError(
                        f"{top}: audio file directly in the folder root {root}; put each clip in the subfolder "
                        "named after its class"
                    )
                ignored.append(top.name)
                continue
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    if name.startswith("."):
                        continue
                    rel = Path(dirpath, name).relative_to(root).as_posix()
                    if Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                        entries.append(_Entry(source_id=rel, label=top.name, split=None, where=str(root / rel)))
                    else:
                        ignored.append(rel)
        if ignored:
            warnings.warn(
                f"folder root {root}: ignored {len(ignored)} file(s) that are not audio "
                f"({', '.join(AUDIO_EXTENSIONS)}), e.g. {sorted(ignored)[0]}",
                stacklevel=3,
            )
        if not entries:
            raise SourceError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found in the class subfolders of {root}")
        entries.sort(key=lambda e: e.source_id)
        return entries

    # -- split assignment --------------------------------------------------------------------------------------

    def _assign(self, entries: Sequence[_Entry], label_of: Mapping[str, int]) -> list[str]:
        """The split of every entry by the stratified largest-remainder rule of the class docstring."""
        names = list(self._fractions)
        fractions = list(self._fractions.values())
        by_class: dict[int, list[int]] = {}
        for i, e in enumerate(entries):
            by_class.setdefault(label_of[e.label], []).append(i)
        assignment: list[str] = [""] * len(entries)
        seen_so_far = 0
        got = [0] * len(names)
        for label in sorted(by_class):
            members = by_class[label]
            shortfall = [seen_so_far * f - g for f, g in zip(fractions, got, strict=True)]
            sizes = apportion(len(members), fractions, tie_break=shortfall)
            ranked = sorted(members, key=lambda i: clip_key(self.split_seed, entries[i].source_id))
            start = 0
            for s, size in enumerate(sizes):
                for i in ranked[start : start + size]:
                    assignment[i] = names[s]
                start += size
                got[s] += size
            seen_so_far += len(members)
        return assignment


def _exact_fractions(split_fractions: Mapping[str, float]) -> dict[str, Fraction]:
    """Validate ``split_fractions`` and return it as exact fractions normalised to sum to 1."""
    if isinstance(split_fractions, str) or not isinstance(split_fractions, Mapping):
        raise ValueError(f"split_fractions must map split names to fractions, got {split_fractions!r}")
    if not split_fractions:
        raise ValueError("split_fractions must name at least one split")
    exact: dict[str, Fraction] = {}
    for name, value in split_fractions.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"split names must be non-empty strings, got {name!r}")
        v = float(value)
        if not 0.0 < v <= 1.0:
            raise ValueError(f"split_fractions[{name!r}] must be in (0, 1], got {value}")
        # repr() gives the shortest decimal that round-trips, so 0.1 becomes exactly 1/10.
        exact[name] = Fraction(repr(v))
    total = sum(exact.values())
    if abs(float(total) - 1.0) > 1e-6:
        raise ValueError(f"split_fractions must sum to 1, got {float(total)} ({dict(split_fractions)})")
    return {name: f / total for name, f in exact.items()}


def _manifest_source_id(raw_path: str, base: Path) -> str:
    """A manifest path as a clip id: relative to the manifest directory ``base`` (absolute) when inside it."""
    path = Path(raw_path)
    if path.is_absolute():
        normal = Path(os.path.normpath(path))
        try:
            return normal.relative_to(base).as_posix()
        except ValueError:
            return normal.as_posix()
    return Path(os.path.normpath(path)).as_posix()
