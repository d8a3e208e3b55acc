"""Every clip config of ``configs/simulate`` writes a ``dev`` split (choices are made on dev, test is scored once):
the listing its source gives, without building anything."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mcsimclr.core.config import load_config
from simulate.config import SimulateConfig
from simulate.sources import make_source


@pytest.mark.parametrize(("name", "sizes"), [
    ("tiny", {"noisy_train": 12, "clean_train": 8, "dev": 8, "test": 8}),
    ("demo", {"noisy_train": 600, "clean_train": 200, "dev": 200, "test": 200}),
    ("paper", {"noisy_train": 15813, "clean_train": 1572, "dev": 200, "test": 947}),  # FSDnoisy18k's, 200 held out
])
def test_synthetic_configs_list_a_dev_split(name, sizes):
    cfg = load_config(SimulateConfig, f"configs/simulate/{name}.yaml")
    assert cfg.source.kind == "synthetic"
    listing = make_source(cfg.source).splits()
    assert {split: len(refs) for split, refs in listing.items()} == sizes
    ids = [r.source_id for refs in listing.values() for r in refs]
    assert len(set(ids)) == len(ids)  # no clip in two splits


def test_folder_config_splits_every_class_into_train_dev_and_test(tmp_path):
    for label in ("bird", "door"):
        (tmp_path / label).mkdir()
        for i in range(20):
            (tmp_path / label / f"{i:02d}.wav").write_bytes(b"")  # a listing reads no audio
    cfg = load_config(SimulateConfig, "configs/simulate/folder.yaml", [f"source.folder.root={tmp_path}"])
    listing = make_source(cfg.source).splits()
    assert list(listing) == ["train", "dev", "test"]
    for split, share in (("train", 14), ("dev", 3), ("test", 3)):  # 0.7 / 0.15 / 0.15 of 20 per class
        assert Counter(r.label for r in listing[split]) == {0: share, 1: share}, split
    files = [r.source_id for refs in listing.values() for r in refs]
    assert sorted(files) == sorted(p.relative_to(tmp_path).as_posix() for p in Path(tmp_path).rglob("*.wav"))
