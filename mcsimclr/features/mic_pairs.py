"""Microphone pairs of the GCC-PHAT channels, and how a microphone permutation moves them.

Pair order is ``itertools.combinations(range(n_mics), 2)``: (0, 1), (0, 2), ..., (n_mics - 2, n_mics - 1).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence


def mic_pairs(n_mics: int) -> list[tuple[int, int]]:
    """The ``n_mics * (n_mics - 1) / 2`` pairs ``(m, n)``, ``m < n``, in feature channel order."""
    return list(itertools.combinations(range(n_mics), 2))


def pair_permutation(perm: Sequence[int]) -> tuple[list[int], list[bool]]:
    """Where each GCC pair of a mic-permuted recording comes from.

    With the permuted recording ``new[:, i] = old[:, perm[i]]``, the new pair ``(i, j)`` is the old pair
    ``(perm[i], perm[j])``. Returns, for each new pair in channel order, the index of the old pair holding the
    same two mics, and whether their order flipped (``perm[i] > perm[j]``), which mirrors the lag axis.
    """
    n_mics = len(perm)
    if sorted(perm) != list(range(n_mics)):
        raise ValueError(f"perm must be a permutation of range({n_mics}), got {list(perm)}")
    index = {pair: k for k, pair in enumerate(mic_pairs(n_mics))}
    source, flipped = [], []
    for i, j in mic_pairs(n_mics):
        a, b = perm[i], perm[j]
        source.append(index[(min(a, b), max(a, b))])
        flipped.append(a > b)
    return source, flipped
