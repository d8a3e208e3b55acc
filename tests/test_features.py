"""SpatialFeatures: Mel filterbank vs librosa, STFT/log-Mel and GCC-PHAT vs NumPy references, delays, shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mcsimclr.core.config import ConfigError, from_dict, load_config
from mcsimclr.features import FeatureConfig, SpatialFeatures, gcc_lags, hz_to_mel, mel_filterbank, mel_to_hz
from mcsimclr.features.spatial_features import CPU_CHUNK

librosa = pytest.importorskip("librosa")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def numpy_features(x: np.ndarray, *, sr: int = 24000, n_fft: int = 1024, win: int = 960, hop: int = 480,
                   n_mels: int = 64, fmin: float = 50.0) -> np.ndarray:
    """Straightforward reference, one mic and one pair at a time: librosa STFT (periodic Hann, centred frames,
    zero padding), librosa Mel filterbank, and the DCASE baseline's ``irfft(exp(1j * angle(conj(Xm) Xn)))``.

    ``x`` ``(mics, samples)`` -> ``(mics + pairs, frames, n_mels)``.
    """
    spec = [librosa.stft(ch.astype(np.float64), n_fft=n_fft, hop_length=hop, win_length=win, window="hann",
                         center=True, pad_mode="constant").T for ch in x]  # (frames, freqs) each
    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, dtype=np.float64)  # (n_mels, freqs)
    out = [10.0 * np.log10(np.maximum(np.abs(s) ** 2 @ fb.T, 1e-10)) for s in spec]
    for m in range(len(x)):
        for n in range(m + 1, len(x)):
            cc = np.fft.irfft(np.exp(1j * np.angle(np.conj(spec[m]) * spec[n])), n=n_fft, axis=-1)
            out.append(np.concatenate([cc[:, -(n_mels // 2):], cc[:, : n_mels - n_mels // 2]], axis=-1))
    return np.stack(out)


# ---------------------------------------------------------------- Mel filterbank


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax, htk, norm", [
    (24000, 1024, 64, 50.0, None, False, True),
    (24000, 1024, 64, 50.0, None, True, False),
    (22050, 2048, 96, 0.0, 11025.0, False, True),
    (16000, 512, 40, 20.0, 7600.0, True, True),
])
def test_mel_filterbank_matches_librosa(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None,
                                        htk: bool, norm: bool) -> None:
    ours = mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, f_min=fmin, f_max=fmax, htk=htk, norm=norm,
                          dtype=torch.float64)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                              norm="slaney" if norm else None, dtype=np.float64)
    assert ours.shape == (n_fft // 2 + 1, n_mels)
    np.testing.assert_allclose(ours.numpy(), ref.T, rtol=1e-9, atol=1e-12 * ref.max())


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_matches_librosa_and_inverts(htk: bool) -> None:
    hz = torch.tensor([0.0, 50.0, 440.0, 999.0, 1000.0, 1001.0, 4000.0, 12000.0], dtype=torch.float64)
    np.testing.assert_allclose(hz_to_mel(hz, htk=htk).numpy(), librosa.hz_to_mel(hz.numpy(), htk=htk), rtol=1e-12)
    torch.testing.assert_close(mel_to_hz(hz_to_mel(hz, htk=htk), htk=htk), hz)


# ---------------------------------------------------------------- features against the reference


@pytest.mark.parametrize("n_mics, n_mels", [(4, 64), (3, 63)])
def test_features_match_numpy_reference(n_mics: int, n_mels: int) -> None:
    """Log-Mel and GCC-PHAT of random signals, one STFT for all mics and all pairs at once, vs per-pair NumPy.

    Tolerances: float32 STFT vs float64 reference, 1e-3 dB on log-Mel and 1e-4 on GCC (values in [-1, 1]).
    """
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((2, n_mics, 12000))).astype(np.float32)
    feats = SpatialFeatures(n_mics=n_mics, n_mels=n_mels)
    out = feats(torch.from_numpy(x)).numpy()
    assert out.shape == (2, n_mics + n_mics * (n_mics - 1) // 2, feats.n_frames(12000), n_mels)
    for b in range(2):
        ref = numpy_features(x[b], n_mels=n_mels)
        np.testing.assert_allclose(out[b, :n_mics], ref[:n_mics], atol=1e-3, rtol=0)
        np.testing.assert_allclose(out[b, n_mics:], ref[n_mics:], atol=1e-4, rtol=0)


@pytest.mark.parametrize("delay", [-20, -7, -1, 0, 3, 7, 31])
def test_integer_delay_peaks_at_that_lag_with_its_sign(delay: int) -> None:
    """Mic 1 hears mic 0's signal ``delay`` samples later: pair (0, 1) peaks at lag +delay, pair (1, 2) of a
    third mic that hears mic 0's signal at the same time as mic 0 peaks at -delay."""
    rng = np.random.default_rng(1)
    s = rng.standard_normal(24000 + 100).astype(np.float32)
    x = np.stack([s[50:-50], s[50 - delay:len(s) - 50 - delay], s[50:-50]])  # x1(t) = x0(t - delay)
    feats = SpatialFeatures(n_mics=3)
    gcc = feats(torch.from_numpy(x)[None])[0, 3:, 1:-1]  # (pairs, frames, lags); edge frames half padding
    lags = gcc_lags(feats.n_lags)
    peaks = lags[gcc.argmax(dim=-1)]  # (pairs, frames)
    assert (peaks[0] == delay).all()  # pair (0, 1)
    assert (peaks[1] == 0).all()  # pair (0, 2)
    assert (peaks[2] == -delay).all()  # pair (1, 2)
    assert gcc[0].max(dim=-1).values.min() > 0.8  # a pure delay gives a near-unit peak


def test_shapes_helpers_and_channel_counts() -> None:
    for n_mics in (2, 4, 6):
        feats = SpatialFeatures(n_mics=n_mics, hop_length=240)
        x = torch.randn(3, n_mics, 4000)
        out = feats(x)
        assert feats.out_channels == n_mics + n_mics * (n_mics - 1) // 2 == out.shape[1]
        assert out.shape == (3, feats.out_channels, feats.n_frames(4000), 64) and feats.n_frames(4000) == 17
        assert out.dtype == torch.float32
    with pytest.raises(ValueError, match=r"expects waveforms \(batch, mics=4, samples >= 1\), got shape \(2, 3, 100\)"):
        SpatialFeatures()(torch.zeros(2, 3, 100))
    with pytest.raises(ValueError, match="got shape"):
        SpatialFeatures()(torch.zeros(4, 100))
    for bad in ({"n_mics": 1}, {"win_length": 2048}, {"n_fft": 1023}, {"f_max": 13000.0}, {"f_min": 12000.0},
                {"log_floor": 0.0}, {"n_mels": 0}, {"hop_length": 0}, {"mel_scale": "bark"}):
        with pytest.raises(ValueError):
            SpatialFeatures(**bad)


def test_rebuild_from_kwargs_and_config(tmp_path: Path) -> None:
    feats = SpatialFeatures(n_mics=4, n_mels=40, f_min=20.0, f_max=10000.0, mel_scale="htk")
    clone = SpatialFeatures(**feats.get_config())
    x = torch.randn(2, 4, 2400)
    assert torch.equal(feats(x), clone(x))
    assert feats.state_dict() == {}  # nothing to save: the kwargs are the whole state
    assert "n_mels=40" in repr(feats)
    path = tmp_path / "features.yaml"
    path.write_text("n_mels: 40\nf_min: 20\nf_max: 10000\nmel_scale: htk\n")
    cfg = load_config(FeatureConfig, path)
    assert torch.equal(SpatialFeatures.from_config(cfg, n_mics=4)(x), feats(x))
    assert load_config(FeatureConfig, None, ["hop_length=240"]).hop_length == 240
    assert FeatureConfig() == from_dict(FeatureConfig, {})
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(FeatureConfig, {"n_lags": 64})
    with pytest.raises(ConfigError, match="win_length"):
        from_dict(FeatureConfig, {"win_length": 4096})


def test_silent_input_gives_the_floor_and_no_nan() -> None:
    feats = SpatialFeatures()
    out = feats(torch.zeros(2, 4, 24000))
    assert torch.isfinite(out).all()
    assert torch.all(out[:, :4] == 10 * np.log10(1e-10))
    assert torch.all(out[:, 4:] == 0)  # no spurious lag-0 peak from angle(0) = 0
    tiny = feats(torch.full((1, 4, 24000), 1e-30))
    assert torch.isfinite(tiny).all()


def test_blocks_and_autocast_do_not_change_the_result() -> None:
    feats = SpatialFeatures()
    x = torch.randn(2 * CPU_CHUNK + 1, 4, 4800)
    batched = feats(x)
    singles = torch.cat([feats(x[i:i + 1]) for i in range(len(x))])
    torch.testing.assert_close(batched, singles, atol=1e-4, rtol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = feats(x.bfloat16())
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, feats(x.bfloat16().float()))


@pytest.mark.gpu
@needs_cuda
def test_cuda_matches_cpu() -> None:
    feats = SpatialFeatures()
    x = torch.randn(8, 4, 24000)
    cpu = feats(x)
    with torch.autocast("cuda", dtype=torch.float16):
        gpu = feats.cuda()(x.cuda()).cpu()
    assert gpu.dtype == torch.float32
    torch.testing.assert_close(gpu[:, :4], cpu[:, :4], atol=1e-3, rtol=0)
    torch.testing.assert_close(gpu[:, 4:], cpu[:, 4:], atol=1e-4, rtol=0)
