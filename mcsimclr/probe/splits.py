"""Which labelled clips train, which validate: the fixed validation subset and the label-fraction subsets."""

from __future__ import annotations

import numpy as np


def validation_split(n_clips: int, *, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random validation subset of ``n_val`` clips (the paper: 200 random clips of clean_train).

    Depends on ``(n_clips, n_val, seed)`` only, never on the probe's mode, fraction or run seed, so every run on
    one data file selects on the same clips.

    Returns:
        ``(train, val)``: sorted clip indices ``(n_clips - n_val,)`` and ``(n_val,)`` int64.
    """
    if not 1 <= n_val < n_clips:
        raise ValueError(f"the validation subset needs 1 <= val_clips < the {n_clips} labelled clips, got {n_val}")
    perm = np.random.default_rng([seed, 0x5EA1]).permutation(n_clips)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def fraction_counts(class_sizes: np.ndarray, fraction: float) -> np.ndarray:
    """Clips kept per class: ``max(1, round(fraction * size))`` (half up), 0 for an empty class.

    Monotone in ``fraction`` for each class, which makes the subsets nested.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    sizes = np.asarray(class_sizes, dtype=np.int64)
    keep = np.floor(fraction * sizes + 0.5).astype(np.int64)
    return np.where(sizes > 0, np.clip(keep, 1, sizes), 0)


def fraction_subset(labels: np.ndarray, *, fraction: float, seed: int) -> np.ndarray:
    """A stratified, seeded subset holding ``fraction`` of the clips of each class.

    Each class's clips are put in a random order that depends on ``(seed, class)`` only; the subset takes the
    first :func:`fraction_counts` of each. So for one seed the subsets are nested (the 1 % subset lies inside
    the 10 % one, which lies inside the 50 % one), deterministic, and every class keeps at least one clip.

    Args:
        labels: class index of each candidate clip ``(n,)`` (non-negative integers).
        fraction: in (0, 1]; 1 returns every clip.
        seed: subset seed.

    Returns:
        sorted positions into ``labels`` ``(m,)`` int64.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.min() < 0):
        raise ValueError("labels must be a 1-d array of non-negative class indices")
    classes = np.unique(labels)
    sizes = np.array([np.count_nonzero(labels == c) for c in classes], dtype=np.int64)
    counts = fraction_counts(sizes, fraction)
    chosen = []
    for c, keep in zip(classes, counts, strict=True):
        members = np.flatnonzero(labels == c)
        order = np.random.default_rng([seed, int(c), 0xF4AC]).permutation(len(members))
        chosen.append(members[order[:keep]])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
