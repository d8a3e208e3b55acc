"""Schroeder RT60 against analytic exponential decays and against pyroomacoustics' own measurement."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra
import pytest

from simulate.rt60 import measure_rt60, measure_rt60_mics


def decaying_noise(rt60: float, fs: int, seconds: float, seed: int = 0) -> np.ndarray:
    """White noise with an exponential envelope falling 60 dB (in energy) in ``rt60`` seconds."""
    t = np.arange(int(seconds * fs)) / fs
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return noise * 10.0 ** (-3.0 * t / rt60)


@pytest.mark.parametrize("rt60", [0.15, 0.4, 1.0])
def test_analytic_decay(rt60):
    fs = 16000
    rir = np.concatenate([np.zeros(100), decaying_noise(rt60, fs, 1.5 * rt60)])
    assert measure_rt60(rir, sample_rate=fs) == pytest.approx(rt60, rel=0.03)
    assert measure_rt60(rir, sample_rate=fs, decay_db=20) == pytest.approx(rt60, rel=0.03)


def test_short_decay_falls_back_then_gives_nan():
    fs = 16000
    # A decay cut short (as an order-capped image-source RIR is) measures short: the energy is truly missing.
    rir = decaying_noise(1.0, fs, 0.33)
    assert 0.3 < measure_rt60(rir, sample_rate=fs) < 1.0
    # Less than 15 dB of decay in all: nothing to fit.
    assert np.isnan(measure_rt60(np.array([1.0, 0.9, 0.8, 0.7]), sample_rate=fs))
    assert np.isnan(measure_rt60(np.zeros(100), sample_rate=fs))
    assert np.isnan(measure_rt60(np.ones(3), sample_rate=fs))


def test_agrees_with_pyroomacoustics_measurement():
    fs = 16000
    room = pra.ShoeBox([6.0, 5.0, 3.0], fs=fs, materials=pra.Material(0.25), max_order=40)
    room.add_source([1.5, 1.5, 1.5])
    room.add_microphone_array(np.array([[4.0, 3.5, 1.2], [4.1, 3.5, 1.2]]).T)
    room.compute_rir()
    ours = measure_rt60_mics(np.array([room.rir[0][0], room.rir[1][0][: len(room.rir[0][0])]]), sample_rate=fs)
    reference = pra.experimental.measure_rt60(room.rir[0][0], fs=fs, decay_db=30)
    assert ours[0] == pytest.approx(reference, rel=0.05)
    assert ours[1] == pytest.approx(reference, rel=0.1)
    with pytest.raises(ValueError, match="one impulse response"):
        measure_rt60(np.zeros((2, 10)), sample_rate=fs)


@pytest.mark.parametrize("drr_db", [0.0, 10.0, 20.0])
def test_direct_sound_does_not_bias_the_decay(drr_db):
    # The short-RT60 end: a strong direct sound is a cliff at the start of the Schroeder curve; the fit from
    # -5 dB down still follows the reverberant decay as long as that decay reaches -35 dB.
    fs, rt60 = 16000, 0.15
    rir = np.concatenate([np.zeros(50), decaying_noise(rt60, fs, 1.2 * rt60, seed=3)])
    reverb = np.sum(rir**2)
    rir[50] = np.sqrt(reverb * 10.0 ** (drr_db / 10.0))
    assert measure_rt60(rir, sample_rate=fs) == pytest.approx(rt60, rel=0.05)
