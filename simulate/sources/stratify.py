"""Seeded, stratified selection of clips: largest-remainder shares per class, clips ranked by a hash of their id."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from fractions import Fraction
from math import floor

__all__ = ["apportion", "clip_key", "stratified_pick"]


def apportion(n: int, fractions: Sequence[Fraction], *, tie_break: Sequence[Fraction] | None = None) -> list[int]:
    """Split ``n`` items into integer sizes ``(len(fractions),)`` by largest-remainder rounding.

    Each size is ``floor(n * f)`` or one more; the leftover items go to the largest remainders
    ``n * f - floor(n * f)``, ties to the largest ``tie_break`` value, then to the earlier position.
    ``fractions`` must be exact and sum to 1.
    """
    if sum(fractions) != 1:
        raise ValueError(f"fractions must sum to exactly 1, got {sum(fractions)}")
    if tie_break is None:
        tie_break = [Fraction(0)] * len(fractions)
    quotas = [n * Fraction(f) for f in fractions]
    sizes = [floor(q) for q in quotas]
    left = n - sum(sizes)
    order = sorted(range(len(fractions)), key=lambda s: (-(quotas[s] - sizes[s]), -tie_break[s], s))
    for s in order[:left]:
        sizes[s] += 1
    return sizes


def clip_key(seed: int, source_id: str) -> bytes:
    """The rank of a clip in a seeded selection: ``sha256(f"{seed}:{source_id}")``, independent of NumPy and order."""
    return hashlib.sha256(f"{seed}:{source_id}".encode()).digest()


def stratified_pick(labels: Sequence[int], source_ids: Sequence[str], *, n: int, seed: int) -> list[int]:
    """The positions (sorted) of ``n`` of the clips ``labels`` ``(clips,)``, stratified by class.

    Class ``c`` with ``n_c`` of the ``N`` clips gives ``floor(n * n_c / N)`` or one more (largest-remainder
    rounding, ties to the smaller class index), so the pick has the classes' proportions to within one clip
    each; within a class, the clips with the smallest :func:`clip_key` are taken. Deterministic: it depends only
    on ``seed`` and the clips' ids and labels, not on their order.

    Raises:
        ValueError: ``n`` not in ``[1, N)``, lengths differ, or a ``source_id`` listed twice.
    """
    if len(labels) != len(source_ids):
        raise ValueError(f"labels ({len(labels)}) and source_ids ({len(source_ids)}) differ in length")
    if len(set(source_ids)) != len(source_ids):
        raise ValueError("source_ids must be unique to rank clips by them")
    if not 1 <= n < len(labels):
        raise ValueError(f"cannot pick {n} of {len(labels)} clips: need 1 <= n < {len(labels)}")
    classes = sorted(set(labels))
    members = {c: [i for i, label in enumerate(labels) if label == c] for c in classes}
    sizes = apportion(n, [Fraction(len(members[c]), len(labels)) for c in classes])
    picked: list[int] = []
    for c, size in zip(classes, sizes, strict=True):
        picked += sorted(members[c], key=lambda i: clip_key(seed, source_ids[i]))[:size]
    return sorted(picked)
