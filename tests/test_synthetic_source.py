"""The built-in synthetic source set: listing, determinism across instances and processes, the waveform contract,
class balance, and that the classes differ in spectrum but not in length or level."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from simulate.sources.base import ClipRef, SourceError
from simulate.sources.synthetic import MIN_SAMPLE_RATE, PEAK_RANGE, SYNTHETIC_CLASSES, SyntheticSource

N_CLASSES = len(SYNTHETIC_CLASSES)
ROOT = Path(__file__).resolve().parents[1]


def one_per_class(source: SyntheticSource, split: str) -> list[ClipRef]:
    """The first clip of every class in ``split``, in class order."""
    first: dict[int, ClipRef] = {}
    for ref in source.splits()[split]:
        first.setdefault(ref.label, ref)
    return [first[k] for k in sorted(first)]


# ------------------------------------------------------------------------------------------------ listing


def test_listing_follows_the_config_order_and_names_every_clip() -> None:
    source = SyntheticSource(seed=3, splits={"noisy_train": 30, "clean_train": 7, "test": 12})
    listing = source.splits()
    assert list(listing) == ["noisy_train", "clean_train", "test"]
    assert source.kind == "synthetic"
    assert source.class_names == SYNTHETIC_CLASSES
    for split, count in (("noisy_train", 30), ("clean_train", 7), ("test", 12)):
        refs = listing[split]
        assert [r.index for r in refs] == list(range(count))
        assert all(r.split == split and 0 <= r.label < N_CLASSES for r in refs)
        assert refs[5].source_id == f"synthetic:seed=3:split={split}:index=5"
    assert len({r.source_id for refs in listing.values() for r in refs}) == 49


def test_class_names_are_distinct_snake_case() -> None:
    assert 10 <= N_CLASSES <= 12
    assert len(set(SYNTHETIC_CLASSES)) == N_CLASSES
    assert all(name.replace("_", "").isalpha() and name == name.lower() for name in SYNTHETIC_CLASSES)


@pytest.mark.parametrize("count", [12, 20, 25, 100, 15_813])
def test_labels_are_round_robin_balanced(count: int) -> None:
    labels = np.array([r.label for r in SyntheticSource(splits={"s": count}).splits()["s"]])
    per_class = np.bincount(labels, minlength=N_CLASSES)
    assert per_class.max() - per_class.min() <= 1  # every class as often as possible, so a 12+-clip split has all
    assert per_class.sum() == count


def test_labels_are_shuffled_per_split() -> None:
    listing = SyntheticSource(seed=0, splits={"a": 48, "b": 48}).splits()
    a, b = ([r.label for r in listing[s]] for s in ("a", "b"))
    assert a != b  # seeded by the split name too
    assert a != [i % N_CLASSES for i in range(48)]  # not the bare round robin


# ------------------------------------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_listing_and_bit_identical_samples() -> None:
    first = SyntheticSource(seed=11, splits={"train": 24, "test": 12})
    second = SyntheticSource(seed=11, splits={"train": 24, "test": 12})
    assert first.splits() == second.splits()
    refs = one_per_class(first, "train")
    clips = [first.load(r, sample_rate=16000) for r in refs]
    again = [second.load(r, sample_rate=16000) for r in reversed(refs)][::-1]  # order of loading is irrelevant
    for a, b in zip(clips, again, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.load(refs[0], sample_rate=16000), clips[0])  # and so is a repeat call


def test_a_different_seed_or_split_changes_the_clips() -> None:
    base = SyntheticSource(seed=0, splits={"train": 24, "test": 24})
    other = SyntheticSource(seed=1, splits={"train": 24, "test": 24})
    assert [r.label for r in base.splits()["train"]] != [r.label for r in other.splits()["train"]]
    for index in range(4):
        a = base.load(base.splits()["train"][index], sample_rate=8000)
        b = other.load(other.splits()["train"][index], sample_rate=8000)
        c = base.load(base.splits()["test"][index], sample_rate=8000)
        assert a.shape != b.shape or not np.array_equal(a, b)
        assert a.shape != c.shape or not np.array_equal(a, c)


def test_a_fresh_process_gives_bit_identical_clips(tmp_path: Path) -> None:
    """Builds run in worker processes: the pickled source, in a new interpreter with another hash seed."""
    source = SyntheticSource(seed=5, splits={"noisy_train": 40, "test": 12})
    refs = one_per_class(source, "noisy_train")
    (tmp_path / "source.pkl").write_bytes(pickle.dumps((source, refs)))
    script = textwrap.dedent(
        """
        import pickle, sys
        import numpy as np
        source, refs = pickle.loads(open(sys.argv[1], "rb").read())
        np.savez(sys.argv[2], *[source.load(r, sample_rate=22050) for r in refs])
        """
    )
    out = tmp_path / "clips.npz"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "source.pkl"), str(out)], check=True, cwd=ROOT, env=env
    )
    with np.load(out) as theirs:
        for i, ref in enumerate(refs):
            np.testing.assert_array_equal(theirs[f"arr_{i}"], source.load(ref, sample_rate=22050))


# ------------------------------------------------------------------------------------- waveform contract


@pytest.mark.parametrize("sample_rate", [MIN_SAMPLE_RATE, 16000, 24000, 44100])
def test_every_class_is_a_valid_mono_clip_at_any_rate(sample_rate: int) -> None:
    source = SyntheticSource(seed=2, splits={"test": 24}, min_duration=0.3, max_duration=5.0)
    refs = one_per_class(source, "test")
    assert [r.label for r in refs] == list(range(N_CLASSES))
    for ref in refs:
        y = source.load(ref, sample_rate=sample_rate)
        assert y.dtype == np.float32 and y.ndim == 1
        assert np.all(np.isfinite(y))
        assert 0.3 * sample_rate - 1 <= y.size <= 5.0 * sample_rate + 1
        peak = float(np.max(np.abs(y)))
        assert PEAK_RANGE[0] - 1e-6 <= peak <= PEAK_RANGE[1] + 1e-6, (SYNTHETIC_CLASSES[ref.label], peak)
        assert float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) > 1e-3 * peak  # sound, not a lone spike


def test_duration_is_the_same_at_every_rate_and_within_the_range() -> None:
    source = SyntheticSource(seed=4, splits={"s": 36}, min_duration=0.5, max_duration=0.8)
    for ref in source.splits()["s"]:
        seconds = [source.load(ref, sample_rate=rate).size / rate for rate in (8000, 32000, 48000)]
        assert all(0.5 - 1 / 8000 <= s <= 0.8 + 1 / 8000 for s in seconds)
        assert max(seconds) - min(seconds) <= 1 / 8000
    fixed = SyntheticSource(seed=4, splits={"s": 3}, min_duration=1.0, max_duration=1.0)
    assert {fixed.load(r, sample_rate=16000).size for r in fixed.splits()["s"]} == {16000}


def test_tonal_classes_sound_the_same_at_8_and_48_khz() -> None:
    """Below 2 kHz a tonal clip's spectrum does not depend on the rate: nothing folds down from above Nyquist."""
    tonal = {"harmonic_tone", "inharmonic_bell", "am_tone", "engine_hum", "vowel_voice"}
    source = SyntheticSource(seed=0, splits={"s": 60})
    refs = [r for r in source.splits()["s"] if SYNTHETIC_CLASSES[r.label] in tonal]
    assert len(refs) == 25
    for ref in refs:
        f_lo, p_lo = signal.welch(source.load(ref, sample_rate=8000), fs=8000, nperseg=256)
        f_hi, p_hi = signal.welch(source.load(ref, sample_rate=48000), fs=48000, nperseg=1536)
        np.testing.assert_allclose(f_hi[: f_lo.size], f_lo)
        band = (f_lo >= 100) & (f_lo <= 2000)
        corr = np.corrcoef(np.log10(p_lo[band]), np.log10(p_hi[: f_lo.size][band]))[0, 1]
        assert corr > 0.9, (SYNTHETIC_CLASSES[ref.label], corr)


def test_no_partial_above_the_aliasing_guard_at_8_khz() -> None:
    """Partials stop at 0.45 x the rate: at 8 kHz, 3650-3950 Hz holds only (smooth) background noise.

    A partial above Nyquist would fold back as a peak somewhere in the band, often in this one.
    """
    wavetable_classes = {"harmonic_tone", "chirp_up", "chirp_down", "am_tone", "fm_tone", "engine_hum", "vowel_voice"}
    source = SyntheticSource(seed=0, splits={"s": 120})
    refs = [r for r in source.splits()["s"] if SYNTHETIC_CLASSES[r.label] in wavetable_classes]
    for ref in refs:
        f, p = signal.welch(source.load(ref, sample_rate=8000), fs=8000, nperseg=512)
        top = p[(f >= 3650) & (f <= 3950)]
        peak_over_median_db = 10 * np.log10(top.max() / np.median(top))
        assert peak_over_median_db < 6.0, (SYNTHETIC_CLASSES[ref.label], peak_over_median_db)


# ------------------------------------------------------------------------------------ class distinctness


@pytest.fixture(scope="module")
def features() -> dict[str, np.ndarray]:
    """Reference features of 30 clips per class in each of two splits (train / test) at 16 kHz.

    ``spectrum``: mean over STFT frames of the log energies in 32 log-spaced bands (100 Hz-7.5 kHz), minus their
    mean (so the level plays no part); ``trivial``: log duration (s) and RMS level (dB).
    """
    sample_rate, per_class = 16000, 30
    source = SyntheticSource(seed=0, splits={"train": per_class * N_CLASSES, "test": per_class * N_CLASSES})
    edges = np.searchsorted(np.fft.rfftfreq(1024, 1 / sample_rate), np.geomspace(100.0, 7500.0, 33))
    assert np.all(np.diff(edges) > 0)  # no empty band
    out: dict[str, list] = {}
    for split, refs in source.splits().items():
        for ref in refs:
            y = source.load(ref, sample_rate=sample_rate).astype(np.float64)
            _, _, stft = signal.stft(y, fs=sample_rate, nperseg=1024, noverlap=512)
            power = np.abs(stft[edges[0] : edges[-1]]) ** 2
            bands = np.add.reduceat(power, edges[:-1] - edges[0], axis=0) / np.diff(edges)[:, None]
            log_bands = np.log10(bands + 1e-12).mean(axis=1)
            out.setdefault(f"{split}_spectrum", []).append(log_bands - log_bands.mean())
            out.setdefault(f"{split}_trivial", []).append([np.log(y.size / sample_rate), 10 * np.log10(np.mean(y**2))])
            out.setdefault(f"{split}_label", []).append(ref.label)
    return {key: np.asarray(value) for key, value in out.items()}


def nearest_centroid_accuracy(features: dict[str, np.ndarray], kind: str) -> float:
    """Fit class centroids on the train split (standardised features), score on the test split."""
    x_train, x_test = features[f"train_{kind}"], features[f"test_{kind}"]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-12
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    centroids = np.stack([x_train[features["train_label"] == k].mean(axis=0) for k in range(N_CLASSES)])
    distances = ((x_test[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    return float(np.mean(distances.argmin(axis=1) == features["test_label"]))


def test_classes_differ_in_their_spectra(features: dict[str, np.ndarray]) -> None:
    """A nearest-centroid classifier on average log spectra does far better than chance (measured: 0.31)."""
    chance = 1 / N_CLASSES
    assert nearest_centroid_accuracy(features, "spectrum") > 2.4 * chance


def test_classes_are_not_told_apart_by_duration_or_level(features: dict[str, np.ndarray]) -> None:
    """The same classifier on duration and RMS level stays near chance (measured: 0.09, chance 0.083)."""
    chance = 1 / N_CLASSES
    assert nearest_centroid_accuracy(features, "trivial") < 1.6 * chance
    for split in ("train", "test"):  # and no class is on average louder (RMS, dB) or longer (log s) than another
        trivial, labels = features[f"{split}_trivial"], features[f"{split}_label"]
        means = np.stack([trivial[labels == k].mean(axis=0) for k in range(N_CLASSES)])
        spread = np.ptp(means, axis=0) / trivial.std(axis=0)
        assert np.all(spread < 1.2), spread


def test_durations_are_log_uniform(features: dict[str, np.ndarray]) -> None:
    log_seconds = np.concatenate([features["train_trivial"][:, 0], features["test_trivial"][:, 0]])
    assert np.log(0.3) - 1e-3 <= log_seconds.min() and log_seconds.max() <= np.log(5.0) + 1e-3
    # uniform in log: mean at the middle, quartiles a quarter of the way in (720 clips: standard error ~0.03)
    lo, hi = np.log(0.3), np.log(5.0)
    assert abs(log_seconds.mean() - (lo + hi) / 2) < 0.12
    np.testing.assert_allclose(np.percentile(log_seconds, [25, 75]), [lo + (hi - lo) / 4, hi - (hi - lo) / 4], atol=0.2)


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "-1"),
        ({"seed": 1.5}, "1.5"),
        ({"splits": {}}, "splits"),
        ({"splits": {"train": 0}}, "got 0"),
        ({"splits": {"train": -3}}, "-3"),
        ({"splits": {"train": 2.5}}, "2.5"),
        ({"splits": {"": 4}}, "''"),
        ({"min_duration": 0.0}, "0.0"),
        ({"min_duration": 0.01}, "0.01"),
        ({"min_duration": 2.0, "max_duration": 1.0}, "[2.0, 1.0]"),
        ({"max_duration": float("inf")}, "inf"),
        ({"silence_peak": -0.1}, "-0.1"),
        ({"silence_peak": 0.6}, "0.6"),
    ],
)
def test_invalid_arguments_raise_a_value_error_naming_the_value(kwargs: dict, message: str) -> None:
    arguments = {"splits": {"train": 4}, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        SyntheticSource(**arguments)


def test_load_rejects_a_low_rate_and_foreign_clips() -> None:
    source = SyntheticSource(seed=0, splits={"test": 12})
    ref = source.splits()["test"][3]
    with pytest.raises(ValueError, match="7999"):
        source.load(ref, sample_rate=7999)
    with pytest.raises(SourceError, match="'train'"):
        source.load(ClipRef("train", 3, ref.label, ref.source_id), sample_rate=16000)
    with pytest.raises(SourceError, match="index 12"):
        source.load(ClipRef("test", 12, 0, "synthetic:seed=0:split=test:index=12"), sample_rate=16000)
    with pytest.raises(SourceError, match="label"):
        source.load(ClipRef("test", 3, (ref.label + 1) % N_CLASSES, ref.source_id), sample_rate=16000)
