"""Training data from `simulate build` files: crops, pairs, whole clips; streamed and held on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mcsimclr.core.h5schema import SpatialClipsFile
from mcsimclr.data import (
    ClipsDataset,
    ClipStore,
    choose_data_mode,
    draw_near,
    draw_starts,
    gather_crops,
    pad_collate,
)
from simulate.cli import main

CROP = 8000  # 0.5 s at 16 kHz: tiny.yaml clips are 0.3-1.5 s, so some are shorter than a crop


@pytest.fixture(scope="module")
def split_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    assert main(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(out), "--no-progress",
                 "--splits", "noisy_train"]) == 0
    return out / "noisy_train.h5"


def reference_crop(clip: np.ndarray, start: int, crop: int) -> np.ndarray:
    out = np.zeros((clip.shape[0], crop), dtype=np.float32)
    piece = clip[:, start : start + crop]
    out[:, : piece.shape[1]] = piece
    return out


def test_gather_crops_matches_slicing_and_pads():
    rng = np.random.default_rng(0)
    lengths = np.array([50, 7, 30, 12])
    audio = rng.standard_normal((3, lengths.sum())).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    starts = np.array([40, 0, 5, 11])
    got = gather_crops(torch.from_numpy(audio), torch.from_numpy(offsets), torch.from_numpy(lengths),
                       torch.from_numpy(starts), 16).numpy()
    for i in range(4):
        clip = audio[:, offsets[i] : offsets[i] + lengths[i]]
        np.testing.assert_array_equal(got[i], reference_crop(clip, starts[i], 16))


def test_draw_starts_stay_inside_and_cover_the_range():
    lengths = torch.tensor([100, 10, 16, 40] * 2000)
    g = torch.Generator().manual_seed(0)
    starts = draw_starts(lengths, 16, generator=g)
    assert torch.all(starts <= (lengths - 16).clamp(min=0)) and torch.all(starts >= 0)
    first = starts[::4]
    assert first.min() == 0 and first.max() == 84  # every start of the 100-sample clip is reachable
    assert abs(first.float().mean().item() - 42) < 2
    again = draw_starts(lengths, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(starts, again)


def test_draw_near_stays_inside_within_the_shift_and_covers_it():
    lengths = torch.tensor([100, 10, 16, 40] * 3000)
    g = torch.Generator().manual_seed(0)
    first = draw_starts(lengths, 16, generator=g)
    second = draw_near(first, lengths, 16, 5, generator=g)
    assert torch.all(second >= 0) and torch.all(second <= (lengths - 16).clamp(min=0))
    assert torch.all((second - first).abs() <= 5)
    inner = (lengths == 100) & (first >= 5) & (first <= 79)  # no clamping: every shift in [-5, 5] equally likely
    counts = torch.bincount((second - first)[inner] + 5, minlength=11).float()
    assert counts.numel() == 11 and counts.min() > 0.8 * counts.mean()
    assert torch.equal(draw_near(first, lengths, 16, 0, generator=g), first)  # shift 0: the same span
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        draw_near(first, lengths, 16, -1)


def test_near_pairs_overlap_in_the_store_and_the_dataset(split_file):
    store = ClipStore(split_file, device="cpu", dtype=torch.float32)
    idx = torch.arange(len(store))
    a, b = store.pairs(idx, CROP, max_shift=0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)  # shift 0: two copies of one crop (the augmentations make the views)
    # the default (independent) pair draws exactly what two calls of `crops` draw: earlier runs are unchanged
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    pair = store.pairs(idx, CROP, generator=g1)
    assert torch.equal(pair[0], store.crops(idx, CROP, generator=g2))
    assert torch.equal(pair[1], store.crops(idx, CROP, generator=g2))
    shift = 400
    ds = ClipsDataset(split_file, crop_samples=CROP, views=2, seed=3, max_shift=shift)
    with SpatialClipsFile(split_file) as f:
        for item in (ds[i] for i in range(len(ds))):
            clip = f.audio(item["index"])
            found = []
            for view in item["audio"].numpy():
                found.append(next(s for s in range(max(clip.shape[1] - CROP, 0) + 1)
                                  if np.array_equal(reference_crop(clip, s, CROP), view)))
            assert abs(found[0] - found[1]) <= shift
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        ClipsDataset(split_file, crop_samples=CROP, views=2, max_shift=-1)


def test_dataset_pairs_are_slices_of_the_file(split_file):
    ds = ClipsDataset(split_file, crop_samples=CROP, views=2, seed=3)
    with SpatialClipsFile(split_file) as f:
        for item in (ds[i] for i in range(len(ds))):
            clip = f.audio(item["index"])
            assert item["audio"].shape == (2, 4, CROP)
            for view in item["audio"].numpy():
                starts = [s for s in range(max(clip.shape[1] - CROP, 0) + 1)
                          if np.array_equal(reference_crop(clip, s, CROP)[:, :50], view[:, :50])]
                assert starts, "a view must be a crop of its clip"
                np.testing.assert_array_equal(view, reference_crop(clip, starts[0], CROP))
            assert item["label"] == f.column("label")[item["index"]]


def test_dataset_is_reproducible_per_epoch_and_worker_independent(split_file):
    ds = ClipsDataset(split_file, crop_samples=CROP, views=1, seed=0)
    first = torch.stack([ds[i]["audio"] for i in range(len(ds))])
    again = torch.stack([ds[i]["audio"] for i in range(len(ds))])
    assert torch.equal(first, again)
    ds.set_epoch(1)
    assert not torch.equal(first, torch.stack([ds[i]["audio"] for i in range(len(ds))]))
    ds.set_epoch(0)
    batches = [torch.cat([b["audio"] for b in DataLoader(ds, batch_size=4, num_workers=n)]) for n in (0, 2)]
    assert torch.equal(batches[0], batches[1]) and torch.equal(batches[0], first)


def test_whole_clips_collate_with_padding(split_file):
    ds = ClipsDataset(split_file)
    batch = next(iter(DataLoader(ds, batch_size=5, collate_fn=pad_collate)))
    assert batch["audio"].shape == (5, 4, int(batch["length"].max()))
    with SpatialClipsFile(split_file) as f:
        for b in range(5):
            n = int(batch["length"][b])
            np.testing.assert_array_equal(batch["audio"][b, :, :n].numpy(), f.audio(int(batch["index"][b])))
            assert torch.all(batch["audio"][b, :, n:] == 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_store_holds_the_split_and_draws_crops(split_file, dtype):
    store = ClipStore(split_file, device="cpu", dtype=dtype, block_samples=5000)
    with SpatialClipsFile(split_file) as f:
        assert len(store) == len(f)
        tol = 0 if dtype == torch.float32 else 1e-3
        for i in range(len(f)):
            o, n = int(store.offsets[i]), int(store.lengths[i])
            np.testing.assert_allclose(store.audio[:, o : o + n].float().numpy(), f.audio(i), atol=tol)
        assert torch.equal(store.labels["label"], torch.from_numpy(f.column("label")))
    idx = torch.arange(len(store))
    a, b = store.pairs(idx, CROP, generator=torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (len(store), 4, CROP) and a.dtype == torch.float32
    long = store.lengths > CROP + 100
    assert not torch.equal(a[long], b[long])  # two independent crops of each long clip


def test_data_mode_choice(split_file):
    cpu = torch.device("cpu")
    assert choose_data_mode(split_file, device=cpu, dtype=torch.float16) == "device"  # a few MB fit in RAM
    assert choose_data_mode(split_file, device=cpu, dtype=torch.float16, max_fraction=1e-12) == "stream"
    assert choose_data_mode(split_file, device=cpu, dtype=torch.float16, mode="stream") == "stream"
    with pytest.raises(ValueError, match="auto, device or stream"):
        choose_data_mode(split_file, device=cpu, dtype=torch.float16, mode="gpu")  # type: ignore[arg-type]


def test_bad_arguments(split_file):
    with pytest.raises(ValueError, match="views must be 1 or 2"):
        ClipsDataset(split_file, crop_samples=10, views=3)
    with pytest.raises(ValueError, match="crop must be >= 1"):
        draw_starts(torch.tensor([5]), 0)


def test_store_of_a_shard_holds_those_clips_only(split_file):
    full = ClipStore(split_file, device="cpu", dtype=torch.float32)
    clips = np.array([5, 0, 7])
    shard = ClipStore(split_file, device="cpu", dtype=torch.float32, clips=clips)
    assert len(shard) == 3 and shard.audio.shape[1] == int(full.lengths[clips].sum())
    for i, c in enumerate(clips):
        o, n, fo = int(shard.offsets[i]), int(shard.lengths[i]), int(full.offsets[c])
        assert n == int(full.lengths[c])
        assert torch.equal(shard.audio[:, o : o + n], full.audio[:, fo : fo + n])
        for key, column in full.labels.items():
            assert torch.equal(shard.labels[key][i], column[c])
    with pytest.raises(ValueError, match=r"noisy_train.h5: clips must be indices in \[0, 12\)"):
        ClipStore(split_file, clips=np.array([12]))


def test_process_shards_cover_the_split_once_and_take_equal_steps():
    from mcsimclr.pretrain.datamodule import IndexBatches, shard_clips

    for n, world in [(12, 1), (12, 2), (13, 4), (1000, 3)]:
        shards = [shard_clips(n, rank=r, world_size=world) for r in range(world)]
        assert np.array_equal(np.sort(np.concatenate(shards)), np.arange(n))  # disjoint, complete
        batches = [IndexBatches(n, batch_size=2, seed=0, rank=r, world_size=world) for r in range(world)]
        assert len({len(b) for b in batches}) == 1 and len(batches[0]) == n // (2 * world)
        for r, b in enumerate(batches):
            epoch = torch.cat([b[s] for s in range(len(b))])
            assert len(torch.unique(epoch)) == len(epoch)  # no clip twice in an epoch
            assert int(epoch.max()) < len(shards[r])  # indices into the process's own shard
    # One process: the batches of one seeded permutation of the whole split, as before sharding existed.
    one = IndexBatches(12, batch_size=4, seed=3)
    one.set_epoch(2)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(3 * 100_003 + 2))
    assert all(torch.equal(one[s], perm[4 * s : 4 * s + 4]) for s in range(3))
