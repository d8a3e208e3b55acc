"""Simulated rooms obey physics: direct-path delays match distances, directions match inter-mic delays."""

from __future__ import annotations

import numpy as np
import pytest

from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.config import load_config
from simulate.backends import BACKENDS, BackendSpec, BackendUnavailable, make_backend
from simulate.config import RoomConfig, SimulateConfig
from simulate.geometry import sample_scene
from simulate.spatialize import spatialize_block

FS = 16000
C = 343.0


def tdoa(x: np.ndarray, y: np.ndarray, *, upsample: int = 32) -> float:
    """Delay of ``y`` relative to ``x`` in samples by GCC-PHAT, with sub-sample resolution (zero-padded IFFT)."""
    n = 2 * len(x)
    cross = np.conj(np.fft.rfft(x, n)) * np.fft.rfft(y, n)
    cc = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), n * upsample)
    max_lag = 16 * upsample
    lags = np.concatenate([cc[-max_lag:], cc[: max_lag + 1]])
    return (int(np.argmax(lags)) - max_lag) / upsample


def test_direct_path_arrives_at_distance_over_c():
    backend = make_backend("pyroomacoustics", sample_rate=FS, max_order=8, speed_of_sound=C)
    rng = np.random.default_rng(0)
    scenes = [sample_scene(rng, RoomConfig(), ARRAY_PRESETS["circular4"]) for _ in range(6)]
    for scene, (rir, order) in zip(scenes, backend.rirs(scenes), strict=True):
        assert order <= 8
        assert rir.shape[0] == 4
        for m in range(4):
            d = np.linalg.norm(scene.mic_positions[m] - scene.source_pos) / C * FS
            early = np.abs(rir[m, : int(d) - 8])
            window = np.abs(rir[m, int(d) - 2 : int(d) + 4])
            # Nothing arrives before d / c: the energy there is only the band-limited (sinc) tails of the
            # direct sound's fractional-delay filter, about 1 % of the direct sound's energy.
            assert np.sum(early**2) < 0.02 * np.sum(window**2)
            peak = int(d) - 2 + int(np.argmax(window))
            assert abs(peak - d) <= 1.0
            # The direct path arrives first: nothing earlier is stronger (1/r law, no closer image).
            assert np.abs(rir[m, : peak + 1]).max() == pytest.approx(np.abs(rir[m, peak]))


def test_azimuth_label_agrees_with_inter_mic_delays(noise_source):
    cfg = load_config(SimulateConfig, None, ["sample_rate=16000", "room.rt60=[0.1,0.2]", "backend.max_order=6"])
    offsets = ARRAY_PRESETS["circular4"]
    backend = make_backend("pyroomacoustics", sample_rate=FS, max_order=6, speed_of_sound=C)
    refs = noise_source.splits()["test"]
    block = spatialize_block(refs, config=cfg, source=noise_source, backend=backend, offsets=offsets)
    starts = np.concatenate([[0], np.cumsum(block.columns["lengths"])[:-1]])
    errors = []
    for i, start in enumerate(starts):
        clip = block.audio[:, start : start + block.columns["lengths"][i]].astype(np.float64)
        # circular4: mics 0/2 lie on the x axis, 1/3 on y; the delay of mic 2 after mic 0 is 2r*u_x/c.
        tx, ty = tdoa(clip[0], clip[2]), tdoa(clip[1], clip[3])
        estimate = np.degrees(np.arctan2(ty, tx))
        errors.append(abs((estimate - block.columns["azimuth_deg"][i] + 180) % 360 - 180))
    errors = np.array(errors)
    assert np.median(errors) < 5.0, errors
    assert errors.max() < 15.0, errors


def test_unknown_and_missing_backends_are_clear_errors(monkeypatch):
    with pytest.raises(BackendUnavailable, match=r"unknown backend 'gpu'; known backends: pyroomacoustics"):
        make_backend("gpu", sample_rate=FS, max_order=1, speed_of_sound=C)
    spec = BackendSpec(module="simulate.backends.pyroom", cls="PyroomacousticsBackend",
                       requires=("a_package_that_is_not_installed",), needs_cuda=False,
                       install_hint="pip install a_package_that_is_not_installed")
    monkeypatch.setitem(BACKENDS, "needs_package", spec)
    with pytest.raises(BackendUnavailable, match="needs the Python package 'a_package_that_is_not_installed'"):
        make_backend("needs_package", sample_rate=FS, max_order=1, speed_of_sound=C)


def test_order_follows_rt60_and_cap():
    rng = np.random.default_rng(1)
    scene = sample_scene(rng, RoomConfig(rt60=(0.9, 0.9)), ARRAY_PRESETS["circular4"])
    full = make_backend("pyroomacoustics", sample_rate=FS, max_order=None, speed_of_sound=C)
    capped = make_backend("pyroomacoustics", sample_rate=FS, max_order=5, speed_of_sound=C)
    assert full.order_for(scene) > 20
    assert capped.order_for(scene) == 5
