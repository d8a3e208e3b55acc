"""ChannelSwap: the symmetry group derived from mic coordinates, its azimuth transform, and the physics.

The physics test simulates a white-noise source in an anechoic room (pyroomacoustics) with the paper's
``circular4`` array and checks, for all 8 symmetries ``g``: the recording of the source at ``g s`` has the same
features as the recording of the source at ``s`` with its mics permuted by ``g``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mcsimclr.augment import ChannelSwap, array_symmetries, wrap_degrees
from mcsimclr.core.array import ARRAY_PRESETS, direction_of
from mcsimclr.features import SpatialFeatures, gcc_lags, mic_pairs

CIRCULAR4 = ARRAY_PRESETS["circular4"]
FS = 24000
C = 343.0


# ---------------------------------------------------------------- the group, from coordinates


def test_circular4_has_the_eight_symmetries_of_the_square() -> None:
    syms = array_symmetries(CIRCULAR4)
    assert len(syms) == 8
    assert syms[0].perm == (0, 1, 2, 3) and not syms[0].reflection and syms[0].angle_deg == 0
    rotations = {s.angle_deg: s.perm for s in syms if not s.reflection}
    reflections = {s.angle_deg: s.perm for s in syms if s.reflection}
    # Scene rotated by +90 deg: mic 1 (on +y) now hears what mic 0 (on +x) heard.
    assert rotations == {0.0: (0, 1, 2, 3), 90.0: (3, 0, 1, 2), 180.0: (2, 3, 0, 1), 270.0: (1, 2, 3, 0)}
    assert reflections == {0.0: (0, 3, 2, 1), 45.0: (1, 0, 3, 2), 90.0: (2, 1, 0, 3), 135.0: (3, 2, 1, 0)}


def test_symmetries_form_a_group_and_azimuth_maps_compose() -> None:
    syms = array_symmetries(CIRCULAR4)
    by_perm = {s.perm: s for s in syms}
    az = np.linspace(-179.0, 180.0, 37)
    for g, h in itertools.product(syms, syms):
        # Apply g, then h: new[p] = mid[h[p]] = old[g[h[p]]].
        composed = tuple(g.perm[h.perm[p]] for p in range(4))
        assert composed in by_perm
        np.testing.assert_allclose(by_perm[composed].transform_azimuth(az),
                                   h.transform_azimuth(g.transform_azimuth(az)), atol=1e-9)


@pytest.mark.parametrize("name, count", [("circular4", 8), ("circular6", 12), ("circular8", 16), ("tetrahedral", 4)])
def test_each_symmetry_maps_the_mic_positions_onto_themselves(name: str, count: int) -> None:
    pos = ARRAY_PRESETS[name] + np.array([2.0, -1.0, 1.2])  # any origin: the centroid is found
    syms = array_symmetries(pos)
    assert len(syms) == count
    centred = pos - pos.mean(axis=0)
    for s in syms:
        # g r[perm[p]] = r[p] for every mic p.
        np.testing.assert_allclose(centred[list(s.perm)] @ s.matrix().T, centred, atol=1e-12)


def test_irregular_and_collinear_arrays() -> None:
    rng = np.random.default_rng(0)
    assert [s.perm for s in array_symmetries(rng.normal(size=(4, 3)))] == [(0, 1, 2, 3)]
    pair = np.array([[-0.05, 0.0, 0.0], [0.05, 0.0, 0.0]])
    syms = array_symmetries(pair)
    # Rotation by 180 and the mirror across the perpendicular swap the mics; the mirror across the mics' own
    # line keeps them: a 2-mic array cannot tell a from -a.
    assert sorted((s.reflection, s.angle_deg, s.perm) for s in syms) == [
        (False, 0.0, (0, 1)), (False, 180.0, (1, 0)), (True, 0.0, (0, 1)), (True, 90.0, (1, 0))]
    with pytest.raises(ValueError, match="vertical line"):
        array_symmetries(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="mic_positions"):
        array_symmetries(np.zeros(3))


def test_azimuth_transform_is_the_geometric_one() -> None:
    az = np.linspace(-180.0, 180.0, 73)[1:]
    for s in array_symmetries(CIRCULAR4):
        for a in az:
            u = np.array([math.cos(math.radians(a)), math.sin(math.radians(a)), 0.3])
            expected, _, _ = direction_of(s.matrix() @ u, np.zeros(3))
            got = s.transform_azimuth(a)
            assert -180.0 < got <= 180.0
            assert abs(wrap_degrees(got - expected)) < 1e-9, (str(s), a)


def test_wrap_degrees() -> None:
    np.testing.assert_allclose(wrap_degrees(np.array([-180.0, 180.0, 190.0, -190.0, 540.0, 0.0])),
                               [180.0, 180.0, -170.0, 170.0, 180.0, 0.0])
    assert torch.equal(wrap_degrees(torch.tensor([-180.0, 270.0])), torch.tensor([180.0, -90.0]))


# ---------------------------------------------------------------- physics with pyroomacoustics


def _simulate(source: np.ndarray, center: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Anechoic recording ``(4, samples)`` of ``signal`` at ``source`` on ``circular4`` centred at ``center``."""
    pra = pytest.importorskip("pyroomacoustics")
    room = pra.AnechoicRoom(dim=3, fs=FS, air_absorption=False)
    room.add_source(source, signal=signal)
    room.add_microphone_array((center + CIRCULAR4).T)
    room.simulate()
    return room.mic_array.signals[:, 200:200 + FS].astype(np.float32)  # 1 s after the direct sound arrived


@pytest.fixture(scope="module")
def scene() -> dict:
    """A white-noise source 1.5 m from the array at azimuth 20 deg, elevation ~8 deg."""
    rng = np.random.default_rng(1)
    signal = rng.standard_normal(FS + 400)
    center = np.array([4.0, 3.0, 1.5])
    a = math.radians(20.0)
    offset = 1.5 * np.array([math.cos(a) * math.cos(0.14), math.sin(a) * math.cos(0.14), math.sin(0.14)])
    return {"signal": signal, "center": center, "source": center + offset}


def test_channel_swap_reproduces_the_transformed_scene(scene: dict) -> None:
    """Features of (source at g s) == features of (source at s, mics permuted by g), for all 8 symmetries.

    Tolerance: the room is anechoic, so both recordings are the same direct path, delayed by the same
    distances (equal up to float64 rounding of the rotated coordinates), and they differ only by float32
    rounding in the features: 1e-3 dB on log-Mel (levels ~ 30 dB), 1e-4 on GCC-PHAT (peaks ~ 0.5). The wrong
    direction (the inverse permutation) misses by orders of magnitude more, which the test also checks.
    """
    features = SpatialFeatures(n_mics=4)
    swap = ChannelSwap(CIRCULAR4)
    center, s0 = scene["center"], scene["source"]
    a0, _, _ = direction_of(s0, center)
    base = torch.from_numpy(_simulate(s0, center, scene["signal"]))[None]  # (1, 4, samples)
    for k, sym in enumerate(swap.symmetries):
        moved_source = center + sym.matrix() @ (s0 - center)
        expected = features(torch.from_numpy(_simulate(moved_source, center, scene["signal"]))[None])
        index = torch.tensor([k])
        got = features(swap.apply(base, index))
        torch.testing.assert_close(got[:, :4], expected[:, :4], atol=1e-3, rtol=0)
        torch.testing.assert_close(got[:, 4:], expected[:, 4:], atol=1e-4, rtol=0)
        # The feature-space shortcut gives the same without recomputing the STFT (lag -32 of a flipped pair
        # aside: it would need lag +32, which the features do not keep).
        shortcut = swap.permute_features(features(base), index)
        torch.testing.assert_close(shortcut[..., 1:], expected[..., 1:], atol=1e-3, rtol=0)
        # The azimuth label follows.
        a_moved, _, _ = direction_of(moved_source, center)
        az = swap.transform_azimuth(torch.tensor([a0], dtype=torch.float64), index)
        assert abs(float(wrap_degrees(az - a_moved))) < 1e-9
        inverse = tuple(int(i) for i in np.argsort(sym.perm))
        if inverse != sym.perm:  # rotations by +-90: the wrong direction must fail clearly
            wrong = features(base[:, list(inverse)])
            assert (wrong[:, 4:] - expected[:, 4:]).abs().max() > 0.1


def test_gcc_peak_is_the_geometric_tdoa(scene: dict) -> None:
    """For each pair (m, n) the GCC-PHAT peak is at lag (t_n - t_m) fs: positive when n hears the source later."""
    center = scene["center"]
    features = SpatialFeatures(n_mics=4)
    lags = gcc_lags(features.n_lags).numpy()
    for azimuth in (20.0, 100.0, -135.0):
        a = math.radians(azimuth)
        source = center + 1.5 * np.array([math.cos(a), math.sin(a), 0.1])
        gcc = features(torch.from_numpy(_simulate(source, center, scene["signal"]))[None])[0, 4:].mean(dim=1)
        mics = center + CIRCULAR4
        for k, (m, n) in enumerate(mic_pairs(4)):
            tdoa = (np.linalg.norm(source - mics[n]) - np.linalg.norm(source - mics[m])) / C * FS
            peak = lags[int(gcc[k].argmax())]
            assert abs(peak - tdoa) <= 0.5 + 1e-6, (azimuth, (m, n), peak, tdoa)


# ---------------------------------------------------------------- feature-space permutation


@pytest.mark.parametrize("n_mels", [64, 63])
def test_permute_features_equals_recomputing(n_mels: int) -> None:
    """Channel gather + lag flip == features of the permuted waveforms (all lags kept for odd ``n_mels``; for
    even ``n_mels`` all but the most negative lag of flipped pairs, which would need lag +n_mels/2)."""
    torch.manual_seed(0)
    features = SpatialFeatures(n_mics=4, n_mels=n_mels)
    swap = ChannelSwap(CIRCULAR4)
    x = torch.randn(8, 4, 4800)
    index = torch.arange(8)
    expected = features(swap.apply(x, index))
    got = swap.permute_features(features(x), index)
    exact = torch.ones_like(got, dtype=torch.bool)
    if n_mels % 2 == 0:
        exact[:, 4:, :, 0] = ~swap.pair_flipped[index][:, :, None]
    torch.testing.assert_close(got[exact], expected[exact], atol=2e-4, rtol=0)
    assert swap.pair_flipped.any()


# ---------------------------------------------------------------- the module


def test_channel_swap_module_draws_uniformly_and_keeps_views_together() -> None:
    swap = ChannelSwap(CIRCULAR4)
    x = torch.arange(4.0).repeat(4000, 2, 1)[..., None].expand(-1, -1, -1, 3)  # (4000, 2, 4, 3), mic id as value
    out = swap(x, generator=torch.Generator().manual_seed(0))
    perms = out[..., 0].long()  # (batch, views, mics): which old mic sits at each place
    assert torch.equal(perms[:, 0], perms[:, 1])  # the two views of a pair get the same symmetry
    found = torch.stack([(perms[:, 0] == swap.perms[k]).all(dim=1) for k in range(8)], dim=1)
    assert torch.equal(found.sum(dim=1), torch.ones(4000, dtype=torch.long))  # always one of the 8
    counts = found.sum(dim=0).float()
    assert (counts - 500).abs().max() < 5 * math.sqrt(4000 * (1 / 8) * (7 / 8))  # 5 sigma of a binomial


def test_channel_swap_eval_seed_and_labels() -> None:
    swap = ChannelSwap(CIRCULAR4)
    x = torch.randn(16, 4, 100)
    a = swap(x, generator=torch.Generator().manual_seed(3))
    b = swap(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    swap.eval()
    assert swap(x) is x
    az = torch.linspace(-170, 180, 16)
    assert swap.swap_with_azimuth(x, az)[1] is az
    swap.train()
    gen = torch.Generator().manual_seed(5)
    y, az_y = swap.swap_with_azimuth(x, az, generator=gen)
    index = swap.draw(16, device=x.device, generator=torch.Generator().manual_seed(5))
    assert torch.equal(y, swap.apply(x, index))
    expected = [swap.symmetries[int(k)].transform_azimuth(float(v)) for k, v in zip(index, az, strict=True)]
    torch.testing.assert_close(az_y, torch.tensor(expected), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="mics=4"):
        swap(torch.randn(2, 3, 10))
