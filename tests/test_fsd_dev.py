"""FSDnoisy18k's held-out dev split (``dev_clips``): a stratified, seeded, deterministic subset of clean_train,
disjoint from it; noisy_train and test unchanged; clear errors. Listings only need the CSVs and folders."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction
from math import floor
from pathlib import Path

import pytest
from test_loaders import TEST_HEADER, TRAIN_HEADER, write_csv

from mcsimclr.core.config import ConfigError, load_config
from simulate.config import SimulateConfig
from simulate.sources.base import SourceError
from simulate.sources.fsdnoisy18k import FSDNOISY18K_CLASSES, FSDnoisy18kSource

# clean_train: 10 Acoustic_guitar, 6 Bass_guitar, 3 Clapping, 1 Engine; noisy_train: 4; test: 3
CLEAN = [("Acoustic_guitar", 10), ("Bass_guitar", 6), ("Clapping", 3), ("Engine", 1)]


def make_listing(root: Path, *, shuffle: int | None = None) -> Path:
    """An FSDnoisy18k layout (folders and CSVs; no audio: a listing reads none) of 20 clean and 4 noisy clips."""
    rows = [[f"{label}-{i}.wav", label, "/m/0", "1", "0"] for label, n in CLEAN for i in range(n)]
    rows += [[f"noisy-{i}.wav", "Wind", "/m/0", "0", "0"] for i in range(4)]
    if shuffle is not None:
        random.Random(shuffle).shuffle(rows)
    (root / "FSDnoisy18k.audio_train").mkdir(parents=True)
    (root / "FSDnoisy18k.audio_test").mkdir()
    write_csv(root / "FSDnoisy18k.meta" / "train.csv", TRAIN_HEADER, rows)
    write_csv(root / "FSDnoisy18k.meta" / "test.csv", TEST_HEADER, [[f"t{i}.wav", "Piano", "/m/0"] for i in range(3)])
    return root


def listing(root: Path, **kwargs) -> dict[str, list[tuple[str, int]]]:
    splits = FSDnoisy18kSource(root=root, **kwargs).splits()
    return {name: [(r.source_id, r.label) for r in refs] for name, refs in splits.items()}


ALL = ("noisy_train", "clean_train", "dev", "test")


def test_dev_is_held_out_of_clean_train_and_the_rest_is_unchanged(tmp_path):
    root = make_listing(tmp_path / "fsd")
    plain = listing(root)
    held = listing(root, splits=ALL, dev_clips=8)
    assert list(held) == list(ALL)
    assert held["noisy_train"] == plain["noisy_train"] and held["test"] == plain["test"]
    dev, clean = set(held["dev"]), set(held["clean_train"])
    assert len(dev) == 8 and len(clean) == 12 and not dev & clean
    assert dev | clean == set(plain["clean_train"])
    # both keep the CSV's row order, and ClipRef.index is the position in the split
    order = {row: i for i, row in enumerate(plain["clean_train"])}
    for name in ("dev", "clean_train"):
        assert [order[r] for r in held[name]] == sorted(order[r] for r in held[name])
        refs = FSDnoisy18kSource(root=root, splits=ALL, dev_clips=8).splits()[name]
        assert [r.index for r in refs] == list(range(len(refs))) and {r.split for r in refs} == {name}


@pytest.mark.parametrize("n", [1, 4, 7, 8, 13, 19])
def test_dev_is_stratified_by_class(tmp_path, n):
    """Each class gives floor or ceil of its share n * n_c / N (largest remainder), and the total is n."""
    root = make_listing(tmp_path / "fsd")
    total = sum(c for _, c in CLEAN)
    got = Counter(label for _, label in listing(root, splits=ALL, dev_clips=n)["dev"])
    assert sum(got.values()) == n
    for label, count in CLEAN:
        share = Fraction(n * count, total)
        index = FSDNOISY18K_CLASSES.index(label)
        assert got[index] in (floor(share), -floor(-share)), (label, share, got[index])
    if n == 8:  # shares 4, 2.4, 1.2, 0.4: floors 4, 2, 1, 0; the one left over to the largest remainder, 0.4,
        # which Bass_guitar and Engine tie on: the earlier class takes it
        assert [got[FSDNOISY18K_CLASSES.index(label)] for label, _ in CLEAN] == [4, 3, 1, 0]


def test_dev_is_deterministic_seeded_and_independent_of_row_order(tmp_path):
    root = make_listing(tmp_path / "fsd")
    first = listing(root, splits=ALL, dev_clips=8)
    assert listing(root, splits=ALL, dev_clips=8) == first
    shuffled = make_listing(tmp_path / "shuffled", shuffle=3)
    assert set(listing(shuffled, splits=ALL, dev_clips=8)["dev"]) == set(first["dev"])
    other = {seed: set(listing(root, splits=ALL, dev_clips=8, dev_seed=seed)["dev"]) for seed in range(1, 6)}
    assert any(dev != set(first["dev"]) for dev in other.values())
    counts = {s: Counter(label for _, label in dev) for s, dev in other.items()}
    assert all(c == Counter(label for _, label in first["dev"]) for c in counts.values())  # same strata sizes


def test_max_clips_per_split_applies_after_the_dev_split_is_taken(tmp_path):
    root = make_listing(tmp_path / "fsd")
    full = listing(root, splits=ALL, dev_clips=8)
    short = listing(root, splits=ALL, dev_clips=8, max_clips_per_split=3)
    assert short["dev"] == full["dev"][:3] and short["clean_train"] == full["clean_train"][:3]
    only_dev = listing(root, splits=["dev"], dev_clips=8)
    assert only_dev == {"dev": full["dev"]}


def test_bad_dev_settings_are_named(tmp_path):
    root = make_listing(tmp_path / "fsd")
    with pytest.raises(SourceError, match=r"dev_clips=20 must be below the 20 clean_train clips of .*train.csv"):
        FSDnoisy18kSource(root=root, splits=ALL, dev_clips=20).splits()
    with pytest.raises(ValueError, match=r"dev_clips=5 holds clean_train clips out as the 'dev' split, but splits "
                                         r"\['noisy_train', 'clean_train', 'test'\] does not list 'dev'"):
        FSDnoisy18kSource(root=root, dev_clips=5)
    with pytest.raises(ValueError, match=r"lists 'dev' but dev_clips is 0"):
        FSDnoisy18kSource(root=root, splits=ALL)
    with pytest.raises(ValueError, match=r"dev_clips must be an integer >= 0, got -1"):
        FSDnoisy18kSource(root=root, splits=ALL, dev_clips=-1)


def test_the_config_checks_dev_too():
    cfg = load_config(SimulateConfig, "configs/simulate/fsdnoisy18k.yaml", ["source.fsdnoisy18k.root=/data"])
    assert cfg.source.fsdnoisy18k.dev_clips == 200 and "dev" in cfg.source.fsdnoisy18k.splits
    with pytest.raises(ConfigError, match=r"source.fsdnoisy18k: dev_clips=200 .* does not list 'dev'"):
        load_config(SimulateConfig, "configs/simulate/fsdnoisy18k.yaml",
                    ["source.fsdnoisy18k.root=/data", "source.fsdnoisy18k.splits=[noisy_train,clean_train,test]"])
    with pytest.raises(ConfigError, match=r"lists 'dev' but dev_clips is 0"):
        load_config(SimulateConfig, "configs/simulate/fsdnoisy18k.yaml",
                    ["source.fsdnoisy18k.root=/data", "source.fsdnoisy18k.dev_clips=0"])
