"""CRNN encoder and projection head: shapes, validation, rebuilding from config, branch separation."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mcsimclr.losses import NTXentLoss
from mcsimclr.models import CRNNEncoder, ProjectionHead

# Small sizes keep the tests fast; the default-size encoder is checked once per property that needs it.
TINY = dict(conv_channels=(8, 8), time_pool=(2, 2), freq_pool=(4, 2), gru_hidden=8, gru_layers=1, embed_dim=16)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_default_encoder_output_shape_and_documented_size():
    torch.manual_seed(0)
    encoder = CRNNEncoder()
    out = encoder(torch.randn(2, 10, 51, 64))  # a 1 s patch at a 20 ms hop, 4 mics, 64 bins
    assert out.shape == (2, 128) and out.dtype == torch.float32
    doc = Path("docs/model.md").read_text()
    assert re.search(rf"\b{n_params(encoder):,}\b", doc), "update the parameter count in docs/model.md"
    assert re.search(rf"\b{n_params(CRNNEncoder(branches='split')):,}\b", doc)
    assert re.search(rf"\b{n_params(ProjectionHead()):,}\b", doc)


@pytest.mark.parametrize(
    ("channels", "frames", "bins", "kwargs"),
    [
        (10, 8, 64, {}),  # the shortest input the brief asks for
        (10, 4, 64, {}),  # min_frames = prod(time_pool) = 4
        (10, 251, 64, {}),  # a 5 s clip
        (3, 51, 64, {"in_channels": 3}),  # 2 mics: 2 Mel + 1 GCC
        (28, 20, 96, {"in_channels": 28, "n_bins": 96}),  # 7 mics, 96 Mels
        (10, 37, 40, {"n_bins": 40, "freq_pool": (2, 2, 2), "temporal_pool": "mean"}),  # bins not a multiple
        (10, 9, 64, {"conv_channels": (16, 32, 64, 128), "time_pool": (1, 2, 2, 2),
                     "freq_pool": (2, 2, 2, 2), "temporal_pool": "max", "gru_layers": 1}),
    ],
)
def test_encoder_accepts_other_channels_frames_and_bins(channels, frames, bins, kwargs):
    encoder = CRNNEncoder(**kwargs)
    assert encoder(torch.randn(2, channels, frames, bins)).shape == (2, 128)


def test_one_encoder_takes_any_number_of_frames():
    encoder = CRNNEncoder(**TINY).eval()
    for frames in (4, 8, 9, 51, 101):
        assert encoder(torch.randn(3, 10, frames, 64)).shape == (3, 16)


def test_split_branches_shape_and_separation():
    torch.manual_seed(0)
    encoder = CRNNEncoder(branches="split", n_mel_channels=4).eval()
    assert set(encoder.branch) == {"mel", "gcc"}
    x = torch.randn(3, 10, 51, 64)
    out = encoder(x)
    assert out.shape == (3, 128)
    # The first half of the embedding sees only the Mel channels, the second half only the GCC channels.
    x_gcc_changed = x.clone()
    x_gcc_changed[:, 4:] = torch.randn(3, 6, 51, 64)
    out2 = encoder(x_gcc_changed)
    assert torch.equal(out[:, :64], out2[:, :64])
    assert not torch.allclose(out[:, 64:], out2[:, 64:])
    x_mel_changed = x.clone()
    x_mel_changed[:, :4] = torch.randn(3, 4, 51, 64)
    out3 = encoder(x_mel_changed)
    assert torch.equal(out[:, 64:], out3[:, 64:])
    assert not torch.allclose(out[:, :64], out3[:, :64])


@pytest.mark.parametrize("branches", ["joint", "split"])
def test_rebuild_from_config_gives_the_same_module(branches):
    torch.manual_seed(0)
    encoder = CRNNEncoder(branches=branches, temporal_pool="mean", gru_layers=1)
    encoder.train()
    encoder(torch.randn(4, 10, 20, 64))  # move the BatchNorm running statistics off their initial values
    config = json.loads(json.dumps(encoder.get_config()))  # plain data survives a JSON/YAML round trip
    rebuilt = CRNNEncoder(**config)
    assert rebuilt.get_config() == encoder.get_config()
    original = encoder.state_dict()
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in original.items()}
    rebuilt.load_state_dict(original)
    x = torch.randn(2, 10, 51, 64)
    assert torch.equal(encoder.eval()(x), rebuilt.eval()(x))


def test_config_lists_every_init_argument():
    params = set(inspect.signature(CRNNEncoder.__init__).parameters) - {"self"}
    assert set(CRNNEncoder().get_config()) == params
    assert set(ProjectionHead().get_config()) == set(inspect.signature(ProjectionHead.__init__).parameters) - {"self"}


@pytest.mark.parametrize(
    "shape",
    [(10, 51, 64), (2, 1, 10, 51, 64), (2, 9, 51, 64), (2, 11, 51, 64), (2, 10, 51, 63), (2, 10, 3, 64)],
    ids=["rank3", "rank5", "too_few_channels", "too_many_channels", "wrong_bins", "too_few_frames"],
)
def test_encoder_rejects_wrong_input_shape(shape):
    encoder = CRNNEncoder(**TINY)
    with pytest.raises(ValueError, match=r"CRNNEncoder expects \(batch, channels=10, frames>=4, bins=64\)"):
        encoder(torch.randn(*shape))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"conv_channels": (64, 64), "time_pool": (2, 2, 1), "freq_pool": (4, 4, 2)},
        {"conv_channels": (), "time_pool": (), "freq_pool": ()},
        {"freq_pool": (4, 4, 8)},  # pools 64 bins by 128
        {"time_pool": (0, 1, 1)},
        {"in_channels": 0},
        {"embed_dim": 0},
        {"gru_hidden": 0},
        {"temporal_pool": "median"},
        {"branches": "three"},
        {"dropout": 1.0},
        {"branches": "split", "n_mel_channels": 10},
        {"branches": "split", "n_mel_channels": 0},
        {"branches": "split", "embed_dim": 127},
    ],
)
def test_encoder_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        CRNNEncoder(**kwargs)


def test_encoder_eval_with_batch_one_matches_batched():
    torch.manual_seed(0)
    encoder = CRNNEncoder().eval()
    x = torch.randn(3, 10, 51, 64)
    with torch.no_grad():
        single = encoder(x[1:2])
        batched = encoder(x)
    assert single.shape == (1, 128)
    torch.testing.assert_close(single[0], batched[1], rtol=1e-4, atol=1e-5)



@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")  # from toggling oneDNN off
@pytest.mark.parametrize("branches", ["joint", "split"])
def test_channels_last_cpu_path_matches_plain_convolutions(branches):
    """The CPU forward runs the convolutions on channels-last input (oneDNN, faster); the output and the
    gradients are those of PyTorch's plain (contiguous, non-oneDNN) convolutions up to float rounding."""
    torch.manual_seed(0)
    encoder = CRNNEncoder(branches=branches, conv_channels=(8, 16, 16), gru_hidden=16, gru_layers=1).train()
    x = torch.randn(4, 10, 51, 64)

    def run() -> tuple[torch.Tensor, list[torch.Tensor]]:
        encoder.zero_grad(set_to_none=True)
        out = encoder(x)
        out.square().sum().backward()
        return out.detach(), [p.grad.clone() for p in encoder.parameters()]

    fast, fast_grads = run()
    with torch.backends.mkldnn.flags(enabled=False):
        plain, plain_grads = run()
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-5)
    for a, b in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)

@pytest.mark.parametrize("branches", ["joint", "split"])
@pytest.mark.parametrize("train", [True, False])
def test_encoder_no_nan_on_zero_input(branches, train):
    encoder = CRNNEncoder(branches=branches, gru_layers=1).train(train)
    out = encoder(torch.zeros(2, 10, 51, 64))
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)


def test_projection_head_shapes_and_checks():
    head = ProjectionHead()
    assert head(torch.randn(4, 128)).shape == (4, 128)
    assert ProjectionHead(in_dim=16, hidden_dim=32, out_dim=8)(torch.randn(3, 16)).shape == (3, 8)
    with pytest.raises(ValueError, match=r"expects \(batch, 128\)"):
        head(torch.randn(4, 64))
    with pytest.raises(ValueError, match=r"expects \(batch, 128\)"):
        head(torch.randn(4, 2, 128))
    with pytest.raises(ValueError, match="batch >= 2"):
        head(torch.randn(1, 128))
    assert head.eval()(torch.randn(1, 128)).shape == (1, 128)
    with pytest.raises(ValueError):
        ProjectionHead(hidden_dim=0)


@pytest.mark.parametrize("branches", ["joint", "split"])
def test_pretraining_steps_lower_the_contrastive_loss(branches):
    """Encoder + head + NT-Xent on two noisy views of 8 random "clips": 20 Adam steps must lower the loss."""
    torch.manual_seed(0)
    encoder = CRNNEncoder(branches=branches, **TINY)
    head = ProjectionHead(in_dim=16, hidden_dim=32, out_dim=16)
    loss_fn = NTXentLoss(temperature=0.2)
    params = [*encoder.parameters(), *head.parameters()]
    optimiser = torch.optim.Adam(params, lr=3e-3)
    clips = torch.randn(8, 10, 16, 64)
    noise = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(20):
        view1 = clips + 0.3 * torch.randn(clips.shape, generator=noise)
        view2 = clips + 0.3 * torch.randn(clips.shape, generator=noise)
        loss = loss_fn(head(encoder(view1)), head(encoder(view2)))
        optimiser.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in params)
        optimiser.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("branches", ["joint", "split"])
def test_mixed_precision_step_on_gpu(branches):
    """Encoder + head in fp16 autocast on CUDA; the loss stays float32 and every gradient finite."""
    encoder = CRNNEncoder(branches=branches).cuda()
    head = ProjectionHead().cuda()
    x1, x2 = torch.randn(2, 16, 10, 51, 64, device="cuda")
    with torch.autocast(device_type="cuda", dtype=torch.float16):
        z1, z2 = head(encoder(x1)), head(encoder(x2))
        loss = NTXentLoss()(z1, z2)
    assert z1.dtype == torch.float16 and loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in encoder.parameters())


def test_gru_runs_in_float32_under_bf16_autocast():
    """CUDA autocast would cast cuDNN's GRU to float16 even under bf16 (no gradient scaler in a bf16-mixed run):
    the encoder runs its GRU in float32 with autocast off, while the convolutions follow autocast."""
    torch.manual_seed(0)
    encoder = CRNNEncoder(in_channels=10, n_bins=32, **TINY)
    seen: dict[str, torch.dtype] = {}
    branch = encoder.branch["joint"]
    branch.convs.register_forward_hook(lambda m, i, o: seen.__setitem__("conv_out", o.dtype))
    branch.gru.register_forward_hook(lambda m, i, o: seen.update(gru_in=i[0].dtype, gru_out=o[0].dtype))
    x = torch.randn(4, 10, 16, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = encoder(x)
    assert seen == {"conv_out": torch.bfloat16, "gru_in": torch.float32, "gru_out": torch.float32}
    assert out.dtype == torch.bfloat16  # the output linear layer follows autocast again
    out.float().square().sum().backward()
    grads = [p.grad for p in branch.gru.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    with torch.no_grad():  # the same function as float32, up to the bf16 rounding of the convolutions
        torch.testing.assert_close(out.float(), encoder(x), atol=0.05, rtol=0.05)


@pytest.mark.parametrize("branches", ["joint", "split"])
def test_frame_sequence_is_what_the_pooling_sees(branches):
    torch.manual_seed(0)
    enc = CRNNEncoder(in_channels=10, n_bins=32, embed_dim=16, conv_channels=(8, 8), time_pool=(2, 2),
                      freq_pool=(4, 2), gru_hidden=6, gru_layers=1, temporal_pool="mean+max", branches=branches).eval()
    x = torch.randn(3, 10, 50, 32)
    frames = enc.frames(x)
    assert frames.shape == (3, 50 // 4, enc.frame_dim) and enc.frame_dim == 12 * (2 if branches == "split" else 1)
    parts = frames.split(12, dim=2)
    heads = [enc.branch["joint"]] if branches == "joint" else [enc.branch["mel"], enc.branch["gcc"]]
    pooled = torch.cat([h.fc(torch.cat([p.mean(dim=1), p.amax(dim=1)], dim=1)) for h, p in zip(heads, parts,
                                                                                                 strict=True)], dim=1)
    torch.testing.assert_close(pooled, enc(x), rtol=0, atol=1e-6)


def test_spatial_encoder_frames_have_a_known_hop(tmp_path):
    from mcsimclr.features.spatial_features import SpatialFeatures
    from mcsimclr.models.spatial_encoder import SpatialEncoder

    features = SpatialFeatures(sample_rate=16000, n_fft=512, win_length=512, hop_length=160, n_mels=32, n_mics=4)
    enc = CRNNEncoder(in_channels=features.out_channels, n_bins=32, embed_dim=16, conv_channels=(8, 8),
                      time_pool=(2, 2), freq_pool=(4, 2), gru_hidden=6, gru_layers=1)
    model = SpatialEncoder(features, enc, mic_offsets=np.zeros((4, 3)))
    assert model.frame_hop_s == pytest.approx(0.04)
    out = model.frames(torch.randn(2, 4, 16000))  # 1 s: 101 feature frames -> 25 steps of 40 ms
    assert out.shape == (2, 25, 12)
