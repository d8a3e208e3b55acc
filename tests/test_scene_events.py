"""Event schedules: never more than max_polyphony events at once, every event on a track that is free for
its whole span, inside the scene; impossible requests are errors that name the numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate.scenes.events import ScheduleError, polyphony_at_samples, sample_schedule


def _check(events, *, lengths, total, cap, min_events=None):
    clips = sorted(e.clip for e in events)
    assert len(set(clips)) == len(clips) and set(clips) <= set(range(len(lengths)))
    assert len(clips) >= (len(lengths) if min_events is None else min_events)
    for e in events:
        assert e.length == lengths[e.clip]
        assert 0 <= e.onset and e.end <= total
        assert 0 <= e.track < cap
    for t in range(cap):  # spans on one track are disjoint
        spans = sorted((e.onset, e.end) for e in events if e.track == t)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    assert polyphony_at_samples(events, total_samples=total).max(initial=0) <= cap


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cap=st.integers(1, 3), total=st.integers(1, 400),
       fractions=st.lists(st.floats(0.01, 1.0), min_size=0, max_size=12), drop=st.integers(0, 12) | st.none())
def test_schedule_respects_the_cap_or_says_why(seed, cap, total, fractions, drop):
    lengths = [max(1, int(f * total)) for f in fractions]
    min_events = None if drop is None else max(len(lengths) - drop, 0)
    try:
        events = sample_schedule(np.random.default_rng(seed), total_samples=total, clip_samples=lengths,
                                 max_polyphony=cap, min_events=min_events, tries=20)
    except ScheduleError as err:
        assert str(total) in str(err) and f"at most {cap} at once" in str(err)
        return
    _check(events, lengths=lengths, total=total, cap=cap, min_events=min_events)


def test_dense_scenes_reach_the_cap_and_never_pass_it():
    total = 5000
    reached = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        lengths = rng.integers(300, 2000, size=7).tolist()
        events = sample_schedule(rng, total_samples=total, clip_samples=lengths, max_polyphony=3)
        _check(events, lengths=lengths, total=total, cap=3)
        reached += polyphony_at_samples(events, total_samples=total).max() == 3
    assert reached > 100  # the cap is a real constraint here, not an idle one


def test_onsets_spread_over_the_scene():
    onsets = [sample_schedule(np.random.default_rng(s), total_samples=1000, clip_samples=[100],
                              max_polyphony=1)[0].onset for s in range(2000)]
    # One event of 100 samples: onset uniform on 0 .. 900 (mean 450, sd 260).
    assert min(onsets) < 20 and max(onsets) > 880
    assert abs(np.mean(onsets) - 450) < 20


def test_impossible_requests_name_the_numbers():
    with pytest.raises(ScheduleError, match=r"4 events \(4000 samples in all\) cannot fit in a scene of 1000 samples "
                                            r"with at most 3 at once \(room for 3000 samples\)"):
        sample_schedule(np.random.default_rng(0), total_samples=1000, clip_samples=[1000] * 4, max_polyphony=3)
    with pytest.raises(ScheduleError, match=r"event 1 lasts 1200 samples; it must be 1 .. 1000"):
        sample_schedule(np.random.default_rng(0), total_samples=1000, clip_samples=[10, 1200])
    # Fits by total length (1800 <= 2000) but not by packing: three 600-sample events need a track each.
    with pytest.raises(ScheduleError, match=r"no schedule for 3 of 3 events .* at most 2 at once, in 30 tries"):
        sample_schedule(np.random.default_rng(0), total_samples=1000, clip_samples=[600] * 3, max_polyphony=2,
                        tries=30)
    with pytest.raises(ScheduleError, match=r"the 3 shortest of 5 events \(2000 samples in all\) cannot fit .* "
                                            r"at most 1 at once \(room for 1000 samples\)"):
        sample_schedule(np.random.default_rng(0), total_samples=1000, clip_samples=[900, 700, 500, 800, 990],
                        max_polyphony=1, min_events=3)
    with pytest.raises(ValueError, match=r"max_polyphony must be 1 \.\. 3, got 4"):
        sample_schedule(np.random.default_rng(0), total_samples=1000, clip_samples=[10], max_polyphony=4)


def test_events_without_room_are_left_out_down_to_min_events():
    # Five 400-sample events under a cap of 1 in 1000 samples: at most two fit.
    events = sample_schedule(np.random.default_rng(1), total_samples=1000, clip_samples=[400] * 5, max_polyphony=1,
                             min_events=2)
    assert len(events) == 2
    _check(events, lengths=[400] * 5, total=1000, cap=1, min_events=2)
    # Any 600-sample span of 1000 samples holds samples 400-599, so no three of them fit under a cap of 2.
    with pytest.raises(ScheduleError, match=r"no schedule for 3 of 4 events .* in 5 tries \(best: 2\)"):
        sample_schedule(np.random.default_rng(1), total_samples=1000, clip_samples=[600] * 4, max_polyphony=2,
                        min_events=3, tries=5)


def test_same_seed_same_schedule():
    a = sample_schedule(np.random.default_rng(7), total_samples=10_000, clip_samples=[900, 3000, 50, 2000])
    b = sample_schedule(np.random.default_rng(7), total_samples=10_000, clip_samples=[900, 3000, 50, 2000])
    assert a == b
