"""The sound event classes of STARSS23 (DCASE 2023 and 2024 task 3), in label-index order."""

from __future__ import annotations

__all__ = ["STARSS23_CLASSES", "check_class_names"]

STARSS23_CLASSES: tuple[str, ...] = (
    "Female speech, woman speaking",
    "Male speech, man speaking",
    "Clapping",
    "Telephone",
    "Laughter",
    "Domestic sounds",
    "Walk, footsteps",
    "Door, open or close",
    "Music",
    "Musical instrument",
    "Water tap, faucet",
    "Bell",
    "Knock",
)
"""Class index ``i`` of a STARSS23 label CSV is ``STARSS23_CLASSES[i]`` (DCASE 2023/2024 task 3 description)."""


def check_class_names(class_names: object) -> tuple[str, ...]:
    """``class_names`` as a tuple of distinct non-empty strings, or a ``ValueError`` saying what is wrong."""
    if isinstance(class_names, str) or not isinstance(class_names, tuple | list):
        raise ValueError(f"class_names must be a sequence of names, got {class_names!r}")
    names = tuple(class_names)
    if not names:
        raise ValueError("class_names is empty; give the class names in label-index order")
    if any(not isinstance(c, str) or not c.strip() for c in names):
        raise ValueError(f"class_names must be non-empty strings, got {list(names)}")
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise ValueError(f"class_names lists {', '.join(dupes)} more than once")
    return names
