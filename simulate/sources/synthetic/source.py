"""``SyntheticSource``: the built-in procedural source set (a ``SourceSet``)."""

from __future__ import annotations

import numpy as np

from simulate.sources.base import ClipRef, SourceError, SourceSet, check_waveform
from simulate.sources.synthetic.clip import (
    _LIMITED_CLASSES,
    _TAG_CLIP,
    _TAG_LABELS,
    CREST_RANGE_DB,
    MAX_LIMITING_DB,
    MIN_CLIP_DURATION,
    MIN_SAMPLE_RATE,
    PEAK_RANGE,
    SNR_RANGE_DB,
    SYNTHETIC_CLASSES,
    _Clip,
    _split_key,
)
from simulate.sources.synthetic.dsp import _rms
from simulate.sources.synthetic.envelope import _background, _crest_db, _Envelope, _limit_to_crest
from simulate.sources.synthetic.generators import _GENERATORS

# ------------------------------------------------------------------------------------------ the source set


class SyntheticSource(SourceSet):
    """Procedural sound classes (``SYNTHETIC_CLASSES``), deterministic from ``seed``; needs no download.

    Args:
        seed: seed of the listing (labels) and of every clip; >= 0.
        splits: clips per split, ``{name: count}``, in the order ``splits()`` returns them.
        min_duration, max_duration: clip durations are log-uniform in this range (seconds).
        silence_peak: peak below which a clip counts as silent (``check_waveform``); generated clips have
            peaks in ``PEAK_RANGE``, so this only guards against a bug.
    """

    kind = "synthetic"

    def __init__(
        self,
        *,
        seed: int = 0,
        splits: dict[str, int],
        min_duration: float = 0.3,
        max_duration: float = 5.0,
        silence_peak: float = 1e-4,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        if not isinstance(splits, dict) or not splits:
            raise ValueError(f"splits must be a non-empty {{name: count}} mapping, got {splits!r}")
        for name, count in splits.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"split names must be non-empty strings, got {name!r}")
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
                raise ValueError(f"splits[{name!r}] must be an integer >= 1 clip, got {count!r}")
        if not (np.isfinite(min_duration) and np.isfinite(max_duration)):
            raise ValueError(f"durations must be finite, got [{min_duration}, {max_duration}]")
        if min_duration < MIN_CLIP_DURATION:
            raise ValueError(f"min_duration must be >= {MIN_CLIP_DURATION} s, got {min_duration}")
        if max_duration < min_duration:
            raise ValueError(f"need min_duration <= max_duration, got [{min_duration}, {max_duration}]")
        if not 0.0 <= silence_peak < PEAK_RANGE[0]:
            raise ValueError(f"silence_peak must be in [0, {PEAK_RANGE[0]}), got {silence_peak}")
        self.seed = int(seed)
        self.split_sizes = {name: int(count) for name, count in splits.items()}
        self.min_duration = float(min_duration)
        self.max_duration = float(max_duration)
        self.silence_peak = float(silence_peak)
        self._labels = {name: self._draw_labels(name, count) for name, count in self.split_sizes.items()}

    def __repr__(self) -> str:
        return (
            f"SyntheticSource(seed={self.seed}, splits={self.split_sizes}, min_duration={self.min_duration}, "
            f"max_duration={self.max_duration}, silence_peak={self.silence_peak})"
        )

    @property
    def class_names(self) -> tuple[str, ...]:
        return SYNTHETIC_CLASSES

    def _draw_labels(self, split: str, count: int) -> np.ndarray:
        """Balanced labels ``(count,)``: round-robin over the classes, shuffled by ``(seed, split)``."""
        rng = np.random.default_rng(np.random.SeedSequence([_TAG_LABELS, self.seed, _split_key(split)]))
        return rng.permutation(np.arange(count) % len(SYNTHETIC_CLASSES))

    def _source_id(self, split: str, index: int) -> str:
        return f"synthetic:seed={self.seed}:split={split}:index={index}"

    def splits(self) -> dict[str, list[ClipRef]]:
        return {
            split: [
                ClipRef(split=split, index=i, label=int(label), source_id=self._source_id(split, i))
                for i, label in enumerate(labels)
            ]
            for split, labels in self._labels.items()
        }

    def load(self, ref: ClipRef, *, sample_rate: int) -> np.ndarray:
        """Generate the clip ``ref`` as mono float32 ``(samples,)`` at ``sample_rate`` (Hz, >= 8000).

        The same ``ref`` always gives bit-identical samples; its duration in seconds does not depend on the rate.

        Raises:
            ValueError: ``sample_rate`` below ``MIN_SAMPLE_RATE``.
            SourceError: ``ref`` is not a clip of this source set (unknown split, index or label).
        """
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
            raise ValueError(f"sample_rate must be an integer, got {sample_rate!r}")
        if sample_rate < MIN_SAMPLE_RATE:
            raise ValueError(f"sample_rate must be >= {MIN_SAMPLE_RATE} Hz, got {sample_rate}")
        labels = self._labels.get(ref.split)
        if labels is None:
            raise SourceError(f"{ref.source_id}: unknown split {ref.split!r}; this source has {list(self._labels)}")
        if not 0 <= ref.index < labels.size:
            raise SourceError(f"{ref.source_id}: index {ref.index} out of range for split {ref.split!r}")
        if ref.label != labels[ref.index]:
            raise SourceError(f"{ref.source_id}: label {ref.label} does not match the listing ({labels[ref.index]})")
        return self._generate(ref.split, ref.index, int(labels[ref.index]), int(sample_rate))

    def _generate(self, split: str, index: int, label: int, sample_rate: int) -> np.ndarray:
        seq = np.random.SeedSequence([_TAG_CLIP, self.seed, _split_key(split), index])
        param_seq, noise_seq = seq.spawn(2)
        rng = np.random.default_rng(param_seq)
        duration = float(np.exp(rng.uniform(np.log(self.min_duration), np.log(self.max_duration))))
        n = max(1, round(duration * sample_rate))
        clip = _Clip(rng=rng, noise=np.random.default_rng(noise_seq), sample_rate=sample_rate, duration=duration, n=n)
        signal = _GENERATORS[SYNTHETIC_CLASSES[label]](clip)
        # Steer the crest factor (peak / RMS) to a class-independent target, so that after peak normalisation
        # the level says nothing about the class: limit peaky sounds, give steady ones a decaying envelope.
        target = clip.uniform(*CREST_RANGE_DB)
        envelope = _Envelope.draw(clip)
        table = envelope.crest_table(duration)
        crest = _crest_db(signal)
        if crest > target - table[0] and SYNTHETIC_CLASSES[label] in _LIMITED_CLASSES:
            _limit_to_crest(signal, target - table[0], MAX_LIMITING_DB)
            crest = _crest_db(signal)
        extra = target - crest
        shaped = envelope.render(clip, envelope.for_crest(extra, table))
        shaped *= signal
        shortfall = target - _crest_db(shaped)  # a noise's peak over a short decay is lower than over the clip
        if shortfall > 0.5:
            shaped = envelope.render(clip, envelope.for_crest(extra + shortfall, table))
            shaped *= signal
        signal = shaped
        snr_db = clip.uniform(*SNR_RANGE_DB)
        peak = clip.uniform(*PEAK_RANGE)
        noise = _background(clip)
        noise *= _rms(signal) * 10 ** (-snr_db / 20)
        signal += noise
        del noise
        signal *= peak / max(float(np.max(np.abs(signal))), 1e-30)
        return check_waveform(signal, source_id=self._source_id(split, index), silence_peak=self.silence_peak)
