"""A tiny scene end to end: synthetic clips, a real pyroomacoustics room, moving and static events, diffuse
noise. Labels match the events, the cap holds, the levels are the drawn event-to-background ratios, and the
same generator seed gives bit-identical audio."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import soundfile as sf

from mcsimclr.core.array import ARRAY_PRESETS
from simulate.backends import make_backend
from simulate.config import RoomConfig
from simulate.scenes.labels import polyphony
from simulate.scenes.scene import cut_clip, render_scene
from simulate.sources.synthetic import SyntheticSource

FS = 16000
ROOM = RoomConfig(width=(4.0, 5.0), length=(4.0, 5.0), height=(2.6, 3.0), rt60=(0.2, 0.3))
OFFSETS = ARRAY_PRESETS["circular4"]


@pytest.fixture(scope="module")
def parts():
    source = SyntheticSource(seed=0, splits={"test": 6}, min_duration=0.4, max_duration=1.2)
    backend = make_backend("pyroomacoustics", sample_rate=FS, max_order=2, speed_of_sound=ROOM.speed_of_sound)
    return source, source.splits()["test"], backend


def _render(parts, seed: int, **kw):
    source, clips, backend = parts
    options = dict(room=ROOM, offsets=OFFSETS, source=source, clips=clips, backend=backend, sample_rate=FS,
                   duration_s=2.0, n_events=(3, 4), max_polyphony=2, rir_step_s=0.1)
    options.update(kw)
    return render_scene(np.random.default_rng(seed), **options)


def test_scene_labels_match_events_and_the_cap_holds(parts):
    kinds = set()
    for seed in range(3):
        scene = _render(parts, seed)
        assert scene.audio.shape == (4, 2 * FS) and np.all(np.isfinite(scene.audio))
        assert np.max(np.abs(scene.audio)) == pytest.approx(0.5)
        assert scene.labels.active.shape == (20, 2)
        assert polyphony(scene.labels).max() <= 2
        assert 3 <= len(scene.events) <= 4
        centres = scene.labels.frame_centres()
        covered = np.zeros_like(scene.labels.active)
        for e in scene.events:
            kinds.add(e.trajectory.kind)
            assert e.class_index == e.clip.label and 6.0 <= e.ebr_db <= 30.0
            frames = np.flatnonzero((centres >= e.onset_s) & (centres < e.offset_s))
            covered[frames, e.track] = True
            assert np.all(scene.labels.class_index[frames, e.track] == e.class_index)
            expected = e.trajectory.directions(centres[frames] - e.onset_s).astype(np.float32)
            np.testing.assert_array_equal(scene.labels.azimuth_deg[frames, e.track], expected[:, 0])
            np.testing.assert_array_equal(scene.labels.distance_m[frames, e.track], expected[:, 2])
            # every point of the path keeps the room's margins
            p = e.trajectory.positions(np.linspace(0.0, e.duration_s, 200))
            assert np.all(p[:, :2] >= ROOM.wall_margin - 1e-9)
            assert np.all(p[:, :2] <= scene.room.room_dims[:2] - ROOM.wall_margin + 1e-9)
            assert np.min(np.linalg.norm(p[:, None] - scene.room.mic_positions[None], axis=2)) >= 0.5 - 1e-9
        np.testing.assert_array_equal(scene.labels.active, covered)
    assert kinds == {"static", "arc", "line"}


def test_same_seed_gives_bit_identical_scenes(parts):
    a, b, c = _render(parts, 5), _render(parts, 5), _render(parts, 6)
    np.testing.assert_array_equal(a.audio, b.audio)
    np.testing.assert_array_equal(a.labels.active, b.labels.active)
    assert [e.onset_s for e in a.events] == [e.onset_s for e in b.events]
    assert not np.array_equal(a.audio, c.audio)


def test_event_to_background_ratio_is_the_drawn_one(parts):
    """One static event at 20 dB over the diffuse noise: measured over the event's span (event + noise) against
    the noise alone before its onset or after its reverberation."""
    for seed in range(4):
        scene = _render(parts, seed, n_events=(1, 1), trajectory_weights={"static": 1.0}, ebr_range_db=(20.0, 20.0),
                        max_polyphony=1)
        (e,) = scene.events
        onset, end = round(e.onset_s * FS), round(e.offset_s * FS)
        quiet = np.concatenate([scene.audio[:, : onset], scene.audio[:, end + FS // 2 :]], axis=1)
        if quiet.shape[1] < FS // 4:
            continue
        p_noise = np.mean(quiet**2)
        p_span = np.mean(scene.audio[:, onset:end] ** 2)
        assert 10 * np.log10((p_span - p_noise) / p_noise) == pytest.approx(20.0, abs=0.3)  # measured 19.96-20.01
        # the noise is at unit power before the output gain
        assert p_noise / scene.gain**2 == pytest.approx(1.0, rel=0.1)


def test_impossible_scenes_are_clear_errors(parts):
    from simulate.scenes.events import ScheduleError

    with pytest.raises(ScheduleError, match=r"cannot fit in a scene of 8000 samples with at most 1 at once"):
        _render(parts, 0, duration_s=0.5, n_events=(4, 4), max_polyphony=1)
    with pytest.raises(ValueError, match=r"trajectory_weights must give non-negative weights"):
        _render(parts, 0, trajectory_weights={"spiral": 1.0})


def test_cut_clips_fade_out_and_short_clips_are_untouched():
    clip = np.ones(1000, dtype=np.float32)
    assert cut_clip(clip, limit=2000, fade=100) is clip
    cut = cut_clip(clip, limit=600, fade=100)
    assert cut.shape == (600,)
    np.testing.assert_array_equal(cut[:500], 1.0)
    assert np.all(np.diff(cut[499:]) < 0) and cut[-1] == 0.0  # monotone to exactly 0: no click
    np.testing.assert_allclose(cut[500:], 0.5 + 0.5 * np.cos(np.pi * np.arange(1, 101) / 100))


def test_max_event_length_cuts_the_events(parts):
    scene = _render(parts, 2, max_event_s=0.25)
    assert all(e.duration_s <= 0.25 + 1e-12 for e in scene.events)


def test_recorded_ambient_noise_is_the_background(parts, tmp_path):
    recording = np.random.default_rng(9).uniform(-0.3, 0.3, size=(2 * FS, 4))
    path = tmp_path / "room_tone.wav"
    sf.write(path, recording, FS, subtype="DOUBLE")
    scene = _render(parts, 1, n_events=(1, 1), noise_files=[path])
    onset = round(scene.events[0].onset_s * FS)
    assert onset > 0
    level = np.sqrt(np.mean(recording**2))
    # Before the first event only the noise sounds: the recording (2 s long: its only excerpt), at unit power.
    np.testing.assert_allclose(scene.audio[:, :onset], scene.gain * recording[:onset].T / level, rtol=1e-12)
    sf.write(tmp_path / "stereo.wav", recording[:, :2], FS)
    with pytest.raises(ValueError, match=r"stereo\.wav: noise recording has 2 channels, the array has 4 mics"):
        _render(parts, 1, n_events=(1, 1), noise_files=[tmp_path / "stereo.wav"])


def _render_in_worker(seed: int) -> bytes:
    source = SyntheticSource(seed=0, splits={"test": 6}, min_duration=0.4, max_duration=1.2)
    backend = make_backend("pyroomacoustics", sample_rate=FS, max_order=2, speed_of_sound=ROOM.speed_of_sound)
    return _render((source, source.splits()["test"], backend), seed).audio.tobytes()


def test_a_worker_process_renders_the_same_bytes(parts):
    # What a pool of workers does with a per-scene seed: a fresh process gives the same bytes as this one.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        remote = pool.map(_render_in_worker, [4, 5])
    assert remote == [_render(parts, 4).audio.tobytes(), _render(parts, 5).audio.tobytes()]
