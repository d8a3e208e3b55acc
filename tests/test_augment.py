"""The batch augmentations and the SimCLR two-view pipeline: shapes, statistics, eval identity, seeds, silence."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mcsimclr.augment import (
    AugmentConfig,
    ChannelDrop,
    ChannelSwap,
    MelGain,
    MelWarp,
    Mixup,
    ModalityDrop,
    PitchShift,
    RandomResizedCrop,
    SimCLRViews,
    random_partners,
)
from mcsimclr.augment.pitch_shift import frequency_scaling_matrix
from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.config import ConfigError, dump_yaml, from_dict, load_config
from mcsimclr.features import SpatialFeatures

CIRCULAR4 = ARRAY_PRESETS["circular4"]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def five_sigma(n: int, p: float) -> float:
    """Five standard deviations of a binomial proportion of ``n`` draws at ``p``: a flake rate below 1e-6."""
    return 5.0 * math.sqrt(p * (1.0 - p) / n)


# ---------------------------------------------------------------- Mixup


def test_random_partners_are_derangements_per_view() -> None:
    partner = random_partners(257, 2, device=torch.device("cpu"), generator=gen())
    assert partner.shape == (257, 2)
    for v in range(2):
        assert torch.equal(partner[:, v].sort().values, torch.arange(257))  # a permutation
        assert (partner[:, v] != torch.arange(257)).all()  # nobody mixes with itself
    assert (partner[:, 0] != partner[:, 1]).float().mean() > 0.9  # views drawn independently


def test_mixup_weights_levels_and_partners() -> None:
    """Clips with disjoint supports are orthogonal, so the output's part outside a clip's own support reveals
    the weight of its partner: lam / (1 - lam) = (coefficient on the partner) / (coefficient on itself)."""
    batch, mics, width = 512, 2, 4
    x = torch.zeros(batch, 2, mics, batch * width)
    for b in range(batch):  # clip b lives on samples [b * width, (b + 1) * width), its own level
        x[b, :, 0, b * width:(b + 1) * width] = 0.5 + b / batch
        x[b, :, 1, b * width:(b + 1) * width] = -(0.25 + b / batch)  # a different level on mic 1
    mixup = Mixup(alpha=0.01)
    out = mixup(x, generator=gen())
    assert out.shape == x.shape
    rms = lambda t: t.square().mean(dim=(-2, -1)).sqrt()  # noqa: E731
    torch.testing.assert_close(rms(out), rms(x))  # the target's level is kept
    support = torch.zeros(batch, 1, 1, batch * width, dtype=torch.bool)
    for b in range(batch):
        support[b, ..., b * width:(b + 1) * width] = True
    own = (out * support).square().sum(dim=(-2, -1)).sqrt()
    other = (out * ~support).square().sum(dim=(-2, -1)).sqrt()
    lam = other / (own + other)  # both parts have unit norm before mixing
    assert lam.min() >= 0 and lam.max() <= 0.01 + 1e-6
    assert abs(lam.mean().item() - 0.005) < 5 * 0.01 / math.sqrt(12 * lam.numel())  # U[0, 0.01]
    assert (lam[:, 0] != lam[:, 1]).all()  # each view its own weight
    # The partner's part is the partner clip itself (inter-mic level ratio kept: no per-mic gains).
    partner_part = out * ~support
    ratio = partner_part[:, :, 1].abs().sum(-1) / partner_part[:, :, 0].abs().sum(-1)
    assert (ratio < 1).all()
    unit = Mixup(alpha=0.01, output_level="unit")(x, generator=gen())
    torch.testing.assert_close(rms(unit), torch.ones(batch, 2))


def test_mixup_identity_cases_seed_and_silence() -> None:
    x = torch.randn(8, 4, 1000)
    mixup = Mixup(alpha=0.01)
    assert torch.equal(mixup(x, generator=gen(1)), mixup(x, generator=gen(1)))
    assert not torch.equal(mixup(x, generator=gen(1)), mixup(x, generator=gen(2)))
    assert mixup(x, generator=gen()).shape == x.shape
    torch.testing.assert_close(mixup(x[:1], generator=gen()), x[:1])  # a batch of one has no other clip
    torch.testing.assert_close(Mixup(alpha=0.0)(x), x)
    mixup.eval()
    assert mixup(x) is x
    mixup.train()
    x[0] = 0  # a silent target stays silent, a silent partner adds nothing; never NaN
    out = mixup(x, generator=gen())
    assert torch.isfinite(out).all() and (out[0] == 0).all()
    assert torch.isfinite(mixup(torch.zeros(4, 2, 4, 100), generator=gen())).all()
    for bad in ({"alpha": -0.1}, {"alpha": 0.6}, {"output_level": "peak"}):
        with pytest.raises(ValueError):
            Mixup(**bad)


# ---------------------------------------------------------------- RandomResizedCrop


def reference_boxes(n: int, rng: np.random.Generator, scale=(0.8, 1.0), ratio=(0.8, 1.25)) -> np.ndarray:
    """torchvision's sequential rejection sampler on the unit square: (area, ratio) of ``n`` crops."""
    out = []
    for _ in range(n):
        for _ in range(10):
            s = rng.uniform(*scale)
            r = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
            w, h = math.sqrt(s * r), math.sqrt(s / r)
            if w <= 1 and h <= 1:
                out.append((s, r))
                break
        else:
            out.append((1.0, 1.0))
    return np.array(out)


def test_crop_boxes_follow_the_configured_ranges() -> None:
    crop = RandomResizedCrop()
    boxes = crop.draw(20000, device=torch.device("cpu"), generator=gen())
    t0, f0, h, w = boxes.unbind(1)
    area, ratio = h * w, w / h
    assert area.min() >= 0.8 - 1e-6 and area.max() <= 1.0 + 1e-6
    assert ratio.min() >= 0.8 - 1e-6 and ratio.max() <= 1.25 + 1e-6
    assert (t0 >= 0).all() and (t0 + h <= 1 + 1e-6).all() and (f0 >= 0).all() and (f0 + w <= 1 + 1e-6).all()
    ref = reference_boxes(20000, np.random.default_rng(0))
    # Same distribution as the sequential sampler: means within 5 standard errors.
    for ours, theirs in ((area, ref[:, 0]), (torch.log(ratio), np.log(ref[:, 1]))):
        se = theirs.std() * math.sqrt(2 / 20000)
        assert abs(ours.mean().item() - theirs.mean()) < 5 * se
    time_only = RandomResizedCrop(axes="time").draw(20000, device=torch.device("cpu"), generator=gen())
    assert (time_only[:, 1] == 0).all() and (time_only[:, 3] == 1).all()
    assert time_only[:, 2].min() >= 0.8 and abs(time_only[:, 2].mean().item() - 0.9) < 0.005


def test_crop_resamples_the_box_for_all_channels() -> None:
    """A linear ramp is reproduced exactly by bilinear resampling: each output pixel holds the ramp at the
    box position it maps to (clamped to the map's pixel centres, as border padding does)."""
    frames, bins = 51, 64
    t = torch.arange(frames, dtype=torch.float64)[:, None]
    f = torch.arange(bins, dtype=torch.float64)[None, :]
    ramp = (3.0 * t + 0.5 * f).expand(4, 3, frames, bins).float()  # (batch, channels, frames, bins)
    crop = RandomResizedCrop()
    boxes = crop.draw(4, device=torch.device("cpu"), generator=gen(4))
    out = crop.apply(ramp, boxes).double()
    for b in range(4):
        t0, f0, h, w = boxes[b].double()
        u = ((t0 + h * (t + 0.5) / frames) * frames - 0.5).clamp(0, frames - 1)
        v = ((f0 + w * (f + 0.5) / bins) * bins - 0.5).clamp(0, bins - 1)
        for c in range(3):
            torch.testing.assert_close(out[b, c], 3.0 * u + 0.5 * v, atol=1e-3, rtol=0)
    whole = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    x = torch.randn(1, 10, frames, bins)
    torch.testing.assert_close(crop.apply(x, whole), x, atol=1e-4, rtol=0)  # float32 grid rounding


def test_time_crop_keeps_bins_and_lags_in_place() -> None:
    x = torch.randn(64, 10, 1, 64).expand(-1, -1, 51, -1).contiguous()  # constant along time
    out = RandomResizedCrop(axes="time")(x, generator=gen())
    torch.testing.assert_close(out, x, atol=1e-4, rtol=0)
    both = RandomResizedCrop()(x, generator=gen())
    assert (both - x).abs().max() > 0.1  # the paper's crop moves bins and lags too


def test_crop_eval_seed_and_silence() -> None:
    crop = RandomResizedCrop()
    x = torch.randn(6, 10, 51, 64)
    assert torch.equal(crop(x, generator=gen(2)), crop(x, generator=gen(2)))
    assert crop(x, generator=gen()).shape == x.shape
    assert torch.isfinite(crop(torch.zeros(3, 10, 51, 64), generator=gen())).all()
    crop.eval()
    assert crop(x) is x
    for bad in ({"scale": (0.0, 1.0)}, {"scale": (0.9, 0.8)}, {"scale": (0.8, 1.2)}, {"ratio": (0.0, 1.0)},
                {"axes": "freq"}, {"tries": 0}):
        with pytest.raises(ValueError):
            RandomResizedCrop(**bad)


# ---------------------------------------------------------------- ChannelDrop, ModalityDrop, MelGain


def test_channel_drop_zeroes_whole_channels_at_rate_p() -> None:
    x = torch.randn(4000, 10, 5, 6) + 10.0  # never zero by chance
    drop = ChannelDrop(p=0.1)
    out = drop(x, generator=gen())
    zero = (out == 0).all(dim=(-2, -1))  # (batch, channels)
    assert ((out == 0).any(dim=(-2, -1)) == zero).all()  # whole channels only
    assert torch.equal(out[~zero], x[~zero])
    assert abs(zero.float().mean().item() - 0.1) < five_sigma(zero.numel(), 0.1)
    assert (zero.float().mean(dim=0) - 0.1).abs().max() < five_sigma(4000, 0.1)  # each channel, Mel and GCC
    assert torch.equal(drop(x, generator=gen(3)), drop(x, generator=gen(3)))
    assert torch.equal(ChannelDrop(p=0.0)(x), x)
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError):
        ChannelDrop(p=1.5)


def test_modality_drop_is_exclusive_at_the_configured_rates() -> None:
    x = torch.randn(10000, 10, 2, 3) + 10.0
    drop = ModalityDrop(n_mel_channels=4, p_mel=0.2, p_gcc=0.3)
    out = drop(x, generator=gen())
    mel_gone = (out[:, :4] == 0).all(dim=(1, 2, 3))
    gcc_gone = (out[:, 4:] == 0).all(dim=(1, 2, 3))
    assert not (mel_gone & gcc_gone).any()
    assert torch.equal(out[~mel_gone, :4], x[~mel_gone, :4]) and torch.equal(out[~gcc_gone, 4:], x[~gcc_gone, 4:])
    assert abs(mel_gone.float().mean().item() - 0.2) < five_sigma(10000, 0.2)
    assert abs(gcc_gone.float().mean().item() - 0.3) < five_sigma(10000, 0.3)
    assert torch.equal(drop(x, generator=gen(1)), drop(x, generator=gen(1)))
    drop.eval()
    assert drop(x) is x
    for bad in ({"p_mel": 0.6, "p_gcc": 0.6}, {"p_mel": -0.1}, {"n_mel_channels": 0}):
        with pytest.raises(ValueError):
            ModalityDrop(**{"n_mel_channels": 4, **bad})


def test_mel_gain_shifts_only_mel_channels_uniformly() -> None:
    x = torch.randn(20000, 10, 2, 3)
    gain = MelGain(n_mel_channels=4, max_db=6.0)
    out = gain(x, generator=gen())
    shift = out[:, :4] - x[:, :4]
    g = shift[:, 0, 0, 0]
    torch.testing.assert_close(shift, g[:, None, None, None].expand_as(shift), atol=1e-5, rtol=0)  # one per view
    assert torch.equal(out[:, 4:], x[:, 4:])
    assert g.abs().max() <= 6.0 and g.abs().max() > 5.9
    assert abs(g.mean().item()) < 5 * 6.0 / math.sqrt(3 * 20000)
    assert abs(g.var().item() - 12.0) < 0.5  # U[-6, 6]: variance 36 / 3
    gain.eval()
    assert gain(x) is x


def test_mel_warp_integer_shift_is_an_edge_padded_roll_and_tilt_a_ramp() -> None:
    x = torch.randn(3, 10, 5, 16)
    warp = MelWarp(n_mel_channels=4, max_shift_bins=3.0, max_tilt_db=6.0)
    params = torch.tensor([[2.0, 0.0], [-3.0, 0.0], [0.0, 6.0]])
    out = warp.apply(x, params)
    up = torch.cat([x[0, :4, :, :1].expand(4, 5, 2), x[0, :4, :, :-2]], dim=-1)  # out[k] = x[k - 2]
    down = torch.cat([x[1, :4, :, 3:], x[1, :4, :, -1:].expand(4, 5, 3)], dim=-1)  # out[k] = x[k + 3]
    torch.testing.assert_close(out[0, :4], up)
    torch.testing.assert_close(out[1, :4], down)
    ramp = 6.0 * (torch.arange(16.0) / 15 - 0.5)
    torch.testing.assert_close(out[2, :4] - x[2, :4], ramp.expand(4, 5, 16))
    assert torch.equal(out[:, 4:], x[:, 4:])  # GCC untouched


def test_mel_warp_fractional_shift_interpolates_and_draws_in_range() -> None:
    x = torch.arange(16.0).expand(1, 10, 2, 16).clone()  # a linear spectrum: a shift subtracts s inside the band
    out = MelWarp(n_mel_channels=4).apply(x, torch.tensor([[0.25, 0.0]]))
    torch.testing.assert_close(out[0, :4, :, 1:], x[0, :4, :, 1:] - 0.25)
    assert torch.equal(out[0, :4, :, 0], x[0, :4, :, 0])  # the edge bin repeats
    warp = MelWarp(n_mel_channels=4, max_shift_bins=2.0, max_tilt_db=4.0)
    drawn = warp.draw(20000, device=torch.device("cpu"), generator=gen())
    assert drawn[:, 0].abs().max() <= 2.0 and drawn[:, 1].abs().max() <= 4.0
    assert abs(drawn[:, 0].var().item() - 4.0 / 3) < 0.05 and abs(drawn[:, 1].var().item() - 16.0 / 3) < 0.2
    y = torch.randn(8, 10, 3, 16)
    assert torch.equal(warp(y, generator=gen(2)), warp(y, generator=gen(2)))
    warp.eval()
    assert warp(y) is y
    with pytest.raises(ValueError):
        MelWarp(n_mel_channels=4, max_shift_bins=-1.0)


def _harmonic_tone(f0: float, *, sample_rate: int = 16000, seconds: float = 0.5, harmonics: int = 6) -> torch.Tensor:
    """A harmonic tone (1/k amplitudes) on 4 mics, identical channels: ``(1, 4, samples)``."""
    t = torch.arange(int(sample_rate * seconds), dtype=torch.float64) / sample_rate
    x = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, harmonics + 1) if k * f0 < sample_rate / 2)
    return x.float().expand(1, 4, -1).contiguous()


def test_frequency_scaling_matrix_resamples_the_spectrum() -> None:
    p = torch.arange(100, dtype=torch.float64)  # p(f) = f: scaling by r gives p(k / r) / r = k / r^2 in the band
    for ratio in (0.75, 1.0, 1.5):
        scaled = frequency_scaling_matrix(100, ratio) @ p
        inside = torch.arange(100) / ratio <= 99
        torch.testing.assert_close(scaled[inside], (torch.arange(100.0, dtype=torch.float64) / ratio**2)[inside])
        assert torch.all(scaled[~inside] == 0)  # nothing above the top bin comes in
    assert torch.equal(frequency_scaling_matrix(7, 1.0), torch.eye(7, dtype=torch.float64))
    with pytest.raises(ValueError, match="ratio"):
        frequency_scaling_matrix(7, 0.0)


@pytest.mark.parametrize(("f0", "semitones"), [(220.0, 12.0), (300.0, 7.0), (500.0, -5.0)])
def test_pitch_shift_matches_the_tone_played_at_the_shifted_pitch(f0: float, semitones: float) -> None:
    """Physics: the shifted log-Mel of a harmonic tone at f0 is the log-Mel of the same tone played at
    f0 * 2^(s/12) (same Mel peaks, levels within a few dB where there is energy); GCC-PHAT is untouched."""
    feats = SpatialFeatures(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=64)
    shift = PitchShift(feats.mel_fb, max_semitones=abs(semitones), n_steps=3)
    index = torch.tensor([0 if semitones < 0 else 2])
    assert shift.semitones[index].item() == semitones
    tone = _harmonic_tone(f0)
    shifted = feats(tone, mel_fb=shift.filterbanks(index))
    played = feats(_harmonic_tone(f0 * 2 ** (semitones / 12)))
    mel_shifted, mel_played = shifted[0, :4, 5:-5].mean(dim=1), played[0, :4, 5:-5].mean(dim=1)  # (mics, n_mels)
    mel_plain = feats(tone)[0, :4, 5:-5].mean(dim=1)
    loud = mel_played[0] > mel_played[0].max() - 20  # the harmonics and their skirts (dB)
    assert loud.sum() >= 10
    assert torch.equal(mel_shifted[0].argmax(), mel_played[0].argmax())
    assert (mel_shifted[:, loud] - mel_played[:, loud]).abs().median() < 2.0
    assert (mel_shifted[:, loud] - mel_played[:, loud]).abs().max() < 6.5
    assert (mel_plain[:, loud] - mel_played[:, loud]).abs().median() > 4.0  # the unshifted tone is far off
    assert torch.equal(shifted[:, 4:], feats(tone)[:, 4:])  # GCC from the same STFT, not shifted


def test_pitch_shift_zero_is_the_plain_filterbank_and_draws_cover_the_grid() -> None:
    feats = SpatialFeatures(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=64)
    shift = PitchShift(feats.mel_fb, max_semitones=6.0, n_steps=25)
    assert shift.bank.shape == (25, 257, 64)
    torch.testing.assert_close(shift.semitones, torch.linspace(-6, 6, 25))
    torch.testing.assert_close(shift.bank[12], feats.mel_fb)  # 0 semitones: the filterbank itself
    x = torch.randn(10, 4, 3200)
    torch.testing.assert_close(feats(x, mel_fb=shift.filterbanks(torch.full((10,), 12))), feats(x),
                               rtol=1e-5, atol=1e-3)  # per-example matmul vs the banded one: rounding only
    drawn = shift.draw(5000, device=torch.device("cpu"), generator=gen())
    assert drawn.min() == 0 and drawn.max() == 24
    assert torch.equal(drawn, shift.draw(5000, device=torch.device("cpu"), generator=gen()))
    with pytest.raises(ValueError, match="mel_fb must be"):
        feats(x, mel_fb=shift.filterbanks(torch.zeros(3, dtype=torch.long)))
    with pytest.raises(ValueError, match="max_semitones"):
        PitchShift(feats.mel_fb, max_semitones=-1.0)


# ---------------------------------------------------------------- config and pipeline


def test_augment_config_defaults_are_the_paper_and_load_with_overrides(tmp_path: Path) -> None:
    cfg = AugmentConfig()
    assert (cfg.channel_swap.enabled, cfg.mixup.enabled, cfg.crop.enabled, cfg.channel_drop.enabled) == (True,) * 4
    assert (cfg.mixup.alpha, cfg.crop.scale, cfg.crop.ratio, cfg.crop.axes, cfg.channel_drop.p) == (
        0.01, (0.8, 1.0), (0.8, 1.25), "both", 0.1)
    assert not cfg.modality_drop.enabled and not cfg.mel_gain.enabled
    path = tmp_path / "augment.yaml"
    path.write_text(dump_yaml(cfg))
    assert load_config(AugmentConfig, path) == cfg
    changed = load_config(AugmentConfig, path, ["crop.axes=time", "mixup.enabled=false", "modality_drop.enabled=true"])
    assert changed.crop.axes == "time" and not changed.mixup.enabled and changed.modality_drop.enabled
    for bad in ({"crop": {"scale": [0.8, 1.2]}}, {"channel_drop": {"p": 2}}, {"mixup": {"alpha": -1}},
                {"modality_drop": {"p_mel": 0.7, "p_gcc": 0.7}}, {"crop": {"axes": "freq"}}, {"rrc": {}}):
        with pytest.raises(ConfigError):
            from_dict(AugmentConfig, bad)


def test_pipeline_switches_follow_the_config() -> None:
    feats = SpatialFeatures()
    views = SimCLRViews.from_config(AugmentConfig(), feats, CIRCULAR4)
    assert [type(m).__name__ for m in (views.channel_swap, views.mixup, views.crop, views.channel_drop)] == [
        "ChannelSwap", "Mixup", "RandomResizedCrop", "ChannelDrop"]
    assert views.modality_drop is None and views.mel_gain is None
    for name in ("channel_swap", "mixup", "crop", "channel_drop"):
        cfg = from_dict(AugmentConfig, {name: {"enabled": False}})
        assert getattr(SimCLRViews.from_config(cfg, feats, CIRCULAR4), name) is None
    cfg = from_dict(AugmentConfig, {"modality_drop": {"enabled": True}, "mel_gain": {"enabled": True},
                                    "mel_warp": {"enabled": True}, "pitch_shift": {"enabled": True}})
    both = SimCLRViews.from_config(cfg, feats, CIRCULAR4)
    assert isinstance(both.modality_drop, ModalityDrop) and isinstance(both.mel_gain, MelGain)
    assert isinstance(both.mel_warp, MelWarp) and isinstance(both.pitch_shift, PitchShift)
    assert views.pitch_shift is None
    with pytest.raises(ValueError, match="mic_positions"):
        SimCLRViews.from_config(AugmentConfig(), feats)
    with pytest.raises(ValueError, match="mics"):
        SimCLRViews(SpatialFeatures(n_mics=6), channel_swap=ChannelSwap(CIRCULAR4))


def test_pipeline_views_shapes_eval_seed_and_silence() -> None:
    cfg = from_dict(AugmentConfig, {"modality_drop": {"enabled": True}, "mel_gain": {"enabled": True},
                                    "mel_warp": {"enabled": True}})
    feats = SpatialFeatures()
    views = SimCLRViews.from_config(cfg, feats, CIRCULAR4)
    x = 0.1 * torch.randn(6, 2, 4, 24000)
    v1, v2 = views(x, generator=gen())
    assert v1.shape == v2.shape == (6, 10, 51, 64) and v1.is_contiguous()
    a1, a2 = views(x, generator=gen(7))
    b1, b2 = views((x[:, 0], x[:, 1]), generator=gen(7))
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1, v1)
    views.eval()
    e1, e2 = views(x)
    assert torch.equal(e1, feats(x[:, 0])) and torch.equal(e2, feats(x[:, 1]))
    views.train()
    s1, s2 = views(torch.zeros(4, 2, 4, 24000), generator=gen())
    assert torch.isfinite(s1).all() and torch.isfinite(s2).all()
    with pytest.raises(ValueError, match=r"\(batch, 2, mics=4, samples\)"):
        views(torch.zeros(4, 3, 4, 100))


def test_pipeline_gives_both_views_the_same_channel_swap() -> None:
    """With only ChannelSwap on, two identical views stay identical (same symmetry), yet differ from the
    unswapped features for most examples."""
    feats = SpatialFeatures()
    views = SimCLRViews(feats, channel_swap=ChannelSwap(CIRCULAR4))
    x = torch.randn(16, 1, 4, 4800).expand(-1, 2, -1, -1)
    v1, v2 = views(x, generator=gen())
    assert torch.equal(v1, v2)
    changed = (v1 - feats(x[:, 0])).abs().amax(dim=(1, 2, 3)) > 1e-3
    assert changed.sum() >= 8


@pytest.mark.gpu
@needs_cuda
def test_pipeline_on_cuda() -> None:
    cfg = from_dict(AugmentConfig, {"modality_drop": {"enabled": True}, "mel_gain": {"enabled": True}})
    views = SimCLRViews.from_config(cfg, SpatialFeatures(), CIRCULAR4).cuda()
    x = torch.randn(32, 2, 4, 24000, device="cuda")
    g = torch.Generator(device="cuda")
    a = views(x, generator=g.manual_seed(0))
    b = views(x, generator=g.manual_seed(0))
    assert a[0].device.type == "cuda" and a[0].shape == (32, 10, 51, 64)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="generator"):
        views(x, generator=torch.Generator())


def test_pipeline_blocks_do_not_change_the_result() -> None:
    """CPU blocks only bound memory: block of 1 clip, of 3, and the whole batch (the GPU path) agree."""
    cfg = from_dict(AugmentConfig, {"modality_drop": {"enabled": True}, "mel_gain": {"enabled": True},
                                    "pitch_shift": {"enabled": True}})
    feats = SpatialFeatures()
    x = 0.1 * torch.randn(7, 2, 4, 4800)
    results = []
    for block in (1, 3, 7):
        views = SimCLRViews.from_config(cfg, feats, CIRCULAR4)
        views.cpu_block = block
        results.append(views(x, generator=gen(11)))
    for other in results[1:]:
        torch.testing.assert_close(other[0], results[0][0], atol=1e-4, rtol=0)
        torch.testing.assert_close(other[1], results[0][1], atol=1e-4, rtol=0)


def test_pipeline_matches_the_modules_applied_one_by_one() -> None:
    """The pipeline is exactly swap -> mixup -> features -> crop -> drop with its drawn parameters."""
    feats = SpatialFeatures()
    views = SimCLRViews.from_config(AugmentConfig(), feats, CIRCULAR4)
    x = 0.1 * torch.randn(5, 2, 4, 4800)
    v1, v2 = views(x, generator=gen(3))
    params = views.draw(5, device=x.device, generator=gen(3))
    swapped = views.channel_swap.apply(x, params["swap"])
    views_idx = torch.arange(2)
    other = swapped[params["partner"], views_idx]
    mixed = views.mixup.mix(swapped, other, params["weight"])
    f = feats(mixed.flatten(0, 1))
    f = views.crop.apply(f, params["box"].flatten(0, 1))
    f = views.channel_drop.apply(f, params["drop"].flatten(0, 1)).unflatten(0, (5, 2))
    torch.testing.assert_close(v1, f[:, 0], atol=1e-4, rtol=0)
    torch.testing.assert_close(v2, f[:, 1], atol=1e-4, rtol=0)


def test_pipeline_pitch_shift_picks_each_views_filterbank() -> None:
    """With only PitchShift on, each view is the features with its drawn filterbank: Mel shifted, GCC as is."""
    off = {"enabled": False}
    cfg = from_dict(AugmentConfig, {"channel_swap": off, "mixup": off, "crop": off, "channel_drop": off,
                                    "pitch_shift": {"enabled": True, "max_semitones": 4.0, "n_steps": 9}})
    feats = SpatialFeatures(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=64)
    views = SimCLRViews.from_config(cfg, feats, CIRCULAR4)
    x = 0.1 * torch.randn(6, 2, 4, 3200)
    v1, v2 = views(x, generator=gen(5))
    pitch = views.draw(6, device=x.device, generator=gen(5))["pitch"]  # (6, 2)
    assert pitch.unique().numel() > 1
    expected = feats(x.flatten(0, 1), mel_fb=views.pitch_shift.filterbanks(pitch.flatten())).unflatten(0, (6, 2))
    torch.testing.assert_close(v1, expected[:, 0], atol=1e-4, rtol=0)
    torch.testing.assert_close(v2, expected[:, 1], atol=1e-4, rtol=0)
    plain = feats(x.flatten(0, 1)).unflatten(0, (6, 2))
    torch.testing.assert_close(v1[:, 4:], plain[:, 0, 4:], atol=1e-5, rtol=0)


def _gcc_bump(lags: int, lag: float) -> torch.Tensor:
    """A smooth bump at ``lag`` (in lags, 0 at index lags // 2) along the last axis: ``(lags,)``."""
    index = torch.arange(lags, dtype=torch.float32)
    return torch.exp(-0.5 * ((index - (lags // 2 + lag)) / 1.0) ** 2)


def _peak(row: torch.Tensor) -> float:
    """Sub-bin position of the maximum (parabolic fit), in lags from index len // 2."""
    k = int(row.argmax())
    a, b, c = (float(row[k - 1]), float(row[k]), float(row[k + 1]))
    return k + 0.5 * (a - c) / (a - 2 * b + c) - row.shape[0] // 2


@pytest.mark.parametrize("lag", [0.0, 4.0, -6.0])
def test_centred_crop_rescales_the_delays_around_lag_zero(lag):
    lags, width = 64, 0.8
    gcc = _gcc_bump(lags, lag).expand(1, 1, 20, lags).clone()
    mel = torch.randn(1, 2, 20, lags)
    feats = torch.cat([mel, gcc], dim=1)
    box = torch.tensor([[0.0, 0.2, 1.0, width]])  # whole time axis, bins 0.2 .. 1.0 of the map
    centred = RandomResizedCrop(gcc_lag="centred", n_mel_channels=2).apply(feats, box)
    free = RandomResizedCrop().apply(feats, box)
    assert _peak(centred[0, 2, 10]) == pytest.approx(lag / width, abs=0.1)  # delays scaled by 1 / width
    torch.testing.assert_close(centred[:, :2], free[:, :2])  # the Mel channels keep the drawn box
    # the paper's one box moves the lag origin: a direction at lag 0 (broadside) comes out elsewhere
    assert abs(_peak(free[0, 2, 10]) - lag / width) > 5.0


def test_channel_drop_can_fill_dropped_mel_channels_with_the_floor():
    feats = torch.randn(2, 5, 4, 8) - 30.0
    keep = torch.tensor([[True, False, True, False, True], [False, True, True, True, False]])
    out = ChannelDrop(p=0.5, mel_fill_db=-100.0, n_mel_channels=2).apply(feats, keep)
    assert torch.all(out[0, 1] == -100.0) and torch.all(out[1, 0] == -100.0)  # dropped Mel: silence
    assert torch.all(out[0, 3] == 0.0) and torch.all(out[1, 4] == 0.0)  # dropped GCC: no correlation
    torch.testing.assert_close(out[keep], feats[keep])
    plain = ChannelDrop(p=0.5).apply(feats, keep)
    assert torch.all(plain[0, 1] == 0.0)  # the paper's: 0 dB
