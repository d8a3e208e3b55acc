"""Probe building blocks on hand-made cases: metrics, direction coding, splits and fractions, gradient scale,
batch-norm statistics, windows, epoch selection and the report table. No data files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mcsimclr.core.config import ConfigError, load_config
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.models.crnn import CRNNEncoder
from mcsimclr.models.spatial_encoder import SpatialEncoder
from mcsimclr.probe.bn_stats import recompute_bn_stats
from mcsimclr.probe.config import ProbeConfig
from mcsimclr.probe.direction_coding import DirectionCoding
from mcsimclr.probe.grad_scale import GradScale, grad_scale
from mcsimclr.probe.heads import ProbeHeads
from mcsimclr.probe.metrics import binned, circular_error_deg, confusion_matrix, per_class_accuracy, probe_metrics
from mcsimclr.probe.probe_model import ProbeModel
from mcsimclr.probe.report import build_table
from mcsimclr.probe.setting import BASELINE_SETTING, pretraining_setting, slug
from mcsimclr.probe.splits import fraction_counts, fraction_subset, validation_split
from mcsimclr.probe.training import BatchStream, BestEpoch, steps_per_epoch
from mcsimclr.probe.windows import clip_windows, window_starts

# --- metrics ------------------------------------------------------------------------------------------------------


def test_circular_azimuth_error_wraps():
    pred = np.array([350.0, 10.0, -170.0, 0.0, 90.0, 179.0, -180.0])
    true = np.array([10.0, 350.0, 170.0, 180.0, -90.0, -179.0, 180.0])
    np.testing.assert_allclose(circular_error_deg(pred, true), [20, 20, 20, 180, 180, 2, 0], atol=1e-9)


def test_per_class_accuracy_and_confusion_by_hand():
    label = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0, 0])
    per = per_class_accuracy(pred, label, ["a", "b", "c", "d"])
    assert per["a"] == {"accuracy": 50.0, "count": 2}
    assert per["b"]["accuracy"] == pytest.approx(200 / 3) and per["b"]["count"] == 3
    assert per["c"] == {"accuracy": 0.0, "count": 1}
    assert per["d"] == {"accuracy": None, "count": 0}  # no test clip: undefined, not 0
    conf = confusion_matrix(pred, label, 4)
    assert conf.tolist() == [[1, 1, 0, 0], [1, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


def test_binned_errors_by_hand():
    values = np.array([0.05, 0.15, 0.17, 0.31, np.nan])
    error = np.array([10.0, 20.0, 40.0, 5.0, 90.0])
    correct = np.array([True, False, True, True, False])
    rows = binned(values, error, correct, width=0.1)
    assert [(r["lo"], r["hi"], r["count"]) for r in rows] == [
        (0.0, 0.1, 1), (0.1, 0.2, 2), (0.2, 0.3, 0), (0.3, 0.4, 1), (None, None, 1)]
    assert rows[1]["azimuth_error_mean"] == 30.0 and rows[1]["azimuth_error_median"] == 30.0
    assert rows[1]["accuracy"] == 50.0
    assert rows[2]["azimuth_error_mean"] is None and rows[2]["accuracy"] is None
    assert rows[4]["azimuth_error_mean"] == 90.0  # unmeasured RT60 gets its own bin
    # A value on an edge belongs to the bin above; without NaN there is no extra bin.
    rows = binned(np.array([0.5, 1.0]), np.array([1.0, 2.0]), np.array([True, True]), width=0.5)
    assert [(r["lo"], r["count"]) for r in rows] == [(0.0, 0), (0.5, 1), (1.0, 1)]


def test_probe_metrics_summary():
    m = probe_metrics(predicted=np.array([0, 1, 1, 0]), label=np.array([0, 1, 0, 0]),
                      predicted_azimuth=np.array([350.0, 0.0, 90.0, -90.0]), azimuth=np.array([10.0, 0.0, 60.0, 90.0]),
                      rt60=np.array([0.2, 0.3, 0.2, 0.4]), distance=np.array([1.0, 2.0, 1.2, 3.0]),
                      class_names=["a", "b"])
    assert m["accuracy"] == 75.0
    assert m["azimuth_error_mean"] == pytest.approx((20 + 0 + 30 + 180) / 4)
    assert m["azimuth_error_median"] == pytest.approx(25.0)
    assert m["n_clips"] == 4 and m["per_class"]["a"]["accuracy"] == pytest.approx(200 / 3)
    assert sum(r["count"] for r in m["by_rt60"]) == 4 and sum(r["count"] for r in m["by_distance"]) == 4
    with pytest.raises(ValueError, match="equal 1-d arrays"):
        probe_metrics(predicted=np.array([0]), label=np.array([0, 1]), predicted_azimuth=np.zeros(1),
                      azimuth=np.zeros(1), rt60=np.zeros(1), distance=np.zeros(1), class_names=["a", "b"])


# --- direction coding ---------------------------------------------------------------------------------------------


def test_regression_coding_round_trip_and_zero_loss():
    coding = DirectionCoding("regression")
    az = torch.tensor([-179.0, -90.0, 0.0, 45.0, 180.0])
    rad = torch.deg2rad(az)
    out = torch.stack([torch.cos(rad), torch.sin(rad)], dim=1)
    assert float(coding.loss(out, az)) == pytest.approx(0.0, abs=1e-12)
    decoded = coding.decode(3.0 * out)  # any positive scale: atan2
    assert torch.allclose(torch.from_numpy(circular_error_deg(decoded.numpy(), az.numpy())).float(),
                          torch.zeros(5), atol=1e-4)


def test_bins_coding_wraps_and_refines_within_the_bin():
    coding = DirectionCoding("bins", n_bins=36)
    idx = coding.bin_index(torch.tensor([-180.0, 180.0, -175.0, -170.0, 0.0, 179.9]))
    assert idx.tolist() == [0, 0, 0, 1, 18, 35]
    logits = torch.full((2, 36), -20.0)
    logits[0, 18] = 10.0  # all mass on the bin centred on 5 deg
    logits[1, 0] = logits[1, 35] = 10.0  # split between -175 and 175: the local circular mean is 180, not 0
    decoded = coding.decode(logits)
    assert float(decoded[0]) == pytest.approx(5.0, abs=1e-3)
    assert float(circular_error_deg(decoded[1:].numpy(), np.array([180.0]))[0]) < 1e-3
    with pytest.raises(ValueError, match=r"\(batch, 36\) for bins"):
        coding.decode(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="direction kind"):
        DirectionCoding("polar")


def test_heads_validate_their_input():
    heads = ProbeHeads(embed_dim=8, n_classes=3, direction="bins", n_bins=12)
    logits, direction = heads(torch.randn(5, 8))
    assert logits.shape == (5, 3) and direction.shape == (5, 12)
    with pytest.raises(ValueError, match=r"ProbeHeads expects \(batch, 8\)"):
        heads(torch.randn(5, 7))


def test_fixed_standardisation_is_used_in_training_mode_too():
    torch.manual_seed(0)
    heads = ProbeHeads(embed_dim=4, n_classes=2)
    train = torch.randn(50, 4) * torch.tensor([1.0, 10.0, 100.0, 0.5]) + 3.0
    heads.fix_standardisation(train)
    heads.train()
    assert heads.training and not heads.norm.training
    z = heads.norm(train)
    assert torch.allclose(z.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(z.var(0), torch.ones(4), atol=1e-3)
    single = heads(train[:1])  # a batch of one works: no batch statistics
    assert single[0].shape == (1, 2)


# --- splits and fractions -----------------------------------------------------------------------------------------


def test_validation_split_is_fixed_and_disjoint():
    train, val = validation_split(50, n_val=10, seed=3)
    assert len(val) == 10 and len(train) == 40 and not set(train) & set(val)
    assert sorted([*train, *val]) == list(range(50))
    again = validation_split(50, n_val=10, seed=3)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(validation_split(50, n_val=10, seed=4)[1], val)
    with pytest.raises(ValueError, match="1 <= val_clips < the 8 labelled clips"):
        validation_split(8, n_val=8, seed=0)


def test_fraction_subsets_are_stratified_deterministic_and_nested():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(20), rng.integers(40, 120, size=20))  # 20 unequal classes
    rng.shuffle(labels)
    subsets = {f: fraction_subset(labels, fraction=f, seed=7) for f in (0.01, 0.1, 0.5, 1.0)}
    sizes = np.bincount(labels)
    for f, subset in subsets.items():
        kept = np.bincount(labels[subset], minlength=20)
        assert np.array_equal(kept, np.maximum(1, np.floor(f * sizes + 0.5)).astype(int)), f  # stratified
        assert np.array_equal(subset, fraction_subset(labels, fraction=f, seed=7))  # deterministic
    assert len(subsets[1.0]) == len(labels)
    assert set(subsets[0.01]) <= set(subsets[0.1]) <= set(subsets[0.5]) <= set(subsets[1.0])  # nested
    other = fraction_subset(labels, fraction=0.1, seed=8)
    assert len(other) == len(subsets[0.1]) and not np.array_equal(other, subsets[0.1])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=60), st.floats(0.001, 1.0), st.floats(0.001, 1.0),
       st.integers(0, 1000))
def test_fraction_subsets_nest_for_any_labels(labels, f1, f2, seed):
    labels = np.array(labels)
    small, large = sorted((f1, f2))
    a, b = fraction_subset(labels, fraction=small, seed=seed), fraction_subset(labels, fraction=large, seed=seed)
    assert set(a) <= set(b)
    assert set(labels[a]) == set(labels)  # every class keeps at least one clip


def test_fraction_outside_the_unit_interval_is_refused():
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ConfigError, match=r"fraction must be in \(0, 1\]"):
            load_config(ProbeConfig, None, [f"fraction={bad}"])
        with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
            fraction_counts(np.array([3, 4]), bad)
    assert load_config(ProbeConfig, None, ["fraction=1"]).fraction == 1.0


def test_probe_configs_load():
    for path in ("configs/probe/default.yaml", "configs/probe/tiny.yaml"):
        cfg = load_config(ProbeConfig, path)
        assert cfg.optim.batch_size in (128, 8)
    cfg = load_config(ProbeConfig, "configs/probe/default.yaml")
    assert (cfg.optim.batch_size, cfg.optim.lr, cfg.data.val_clips, cfg.finetune.encoder_grad_scale) == \
        (128, 0.01, 200, 0.1)
    with pytest.raises(ConfigError, match="unknown key 'lr' at top level"):
        load_config(ProbeConfig, None, ["lr=0.1"])
    with pytest.raises(ConfigError, match="one of 'regression', 'bins'"):
        load_config(ProbeConfig, None, ["heads.direction=polar"])


# --- gradient scale -----------------------------------------------------------------------------------------------


def test_grad_scale_is_identity_forward_and_scales_backward_exactly():
    x = torch.randn(4, 6, requires_grad=True)
    g = torch.randn(4, 6)
    y = grad_scale(x, 0.1)
    assert torch.equal(y, x)
    y.backward(g)
    assert torch.equal(x.grad, g * 0.1)
    with pytest.raises(ValueError, match=r"gradient scale must be in \[0, 1\]"):
        GradScale(1.5)


def _tiny_model(scale: float, seed: int = 0) -> ProbeModel:
    torch.manual_seed(seed)
    features = SpatialFeatures(n_mics=4, sample_rate=16000, n_fft=256, win_length=256, hop_length=160, n_mels=16)
    crnn = CRNNEncoder(in_channels=10, n_bins=16, embed_dim=8, conv_channels=(4,), time_pool=(2,), freq_pool=(4,),
                       gru_hidden=4, gru_layers=1)
    encoder = SpatialEncoder(features, crnn, mic_offsets=np.zeros((4, 3)))
    heads = ProbeHeads(embed_dim=8, n_classes=3)
    return ProbeModel(encoder, heads, encoder_grad_scale=scale).train()


def test_finetune_encoder_gradient_is_a_tenth_of_the_unscaled_one():
    scaled, plain = _tiny_model(0.1), _tiny_model(1.0)
    for a, b in zip(scaled.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b)
    x = torch.randn(6, 4, 3200, generator=torch.Generator().manual_seed(1))
    label, az = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([10.0, -90.0, 170.0, 45.0, 0.0, -150.0])
    for model in (scaled, plain):
        logits, direction = model(x)
        loss, _ = model.heads.loss(logits, direction, label, az)
        loss.backward()
    enc_scaled = [a.grad for a in scaled.encoder.parameters()]
    enc_plain = [b.grad for b in plain.encoder.parameters()]
    assert len(enc_scaled) == len(list(scaled.encoder.parameters())) and all(g is not None for g in enc_scaled)
    flat_scaled, flat_plain = torch.cat([g.flatten() for g in enc_scaled]), torch.cat([g.flatten() for g in enc_plain])
    assert flat_plain.abs().max() > 1e-3
    # 0.1x up to float32 rounding (the scaled gradient travels through the encoder's backward pass); the
    # tolerance is relative to the largest gradient because some entries are ~0 (e.g. the last bias: the heads'
    # batch norm removes the batch mean of the gradient).
    tol = 1e-5 * float(0.1 * flat_plain.abs().max())
    for (name, a), (_, b) in zip(scaled.encoder.named_parameters(), plain.encoder.named_parameters(), strict=True):
        assert torch.allclose(a.grad, 0.1 * b.grad, rtol=1e-5, atol=tol), name
    assert float((flat_scaled - 0.1 * flat_plain).norm() / (0.1 * flat_plain).norm()) < 1e-5
    for (name, a), (_, b) in zip(scaled.heads.named_parameters(), plain.heads.named_parameters(), strict=True):
        assert torch.equal(a.grad, b.grad), name  # the heads get their full gradient


# --- batch norm, windows, training helpers ------------------------------------------------------------------------


def test_recompute_bn_stats_sets_the_data_statistics_and_nothing_else():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    weights = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    data = [torch.randn(32, 3) * 5 + 2 for _ in range(3)]
    assert recompute_bn_stats(net, data) == 1
    hidden = [net[0](d).detach() for d in data]
    expected_mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    assert torch.allclose(net[1].running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(net[1].running_var, torch.stack([h.var(0) for h in hidden]).mean(0), rtol=1e-4)
    assert not net.training and net[1].momentum == 0.1
    for k, v in weights.items():
        assert torch.equal(net.state_dict()[k], v), k


def test_window_rule():
    assert window_starts(300, window=1000, hop=500).tolist() == [0]  # short clip: one zero-padded window
    assert window_starts(1000, window=1000, hop=500).tolist() == [0]
    assert window_starts(2000, window=1000, hop=500).tolist() == [0, 500, 1000]
    assert window_starts(2300, window=1000, hop=500).tolist() == [0, 500, 1000, 1300]  # last one ends at the end
    owner, starts = clip_windows(np.array([300, 2300]), window=1000, hop=500)
    assert owner.tolist() == [0, 1, 1, 1, 1] and starts.tolist() == [0, 0, 500, 1000, 1300]


def test_batch_stream_and_equal_steps():
    stream = BatchStream(5, batch_size=8, generator=torch.Generator().manual_seed(0))
    batches = [stream.next() for _ in range(4)]
    assert all(len(b) == 5 and sorted(b.tolist()) == [0, 1, 2, 3, 4] for b in batches)
    stream = BatchStream(10, batch_size=4, generator=torch.Generator().manual_seed(0))
    first = torch.cat([stream.next() for _ in range(5)])
    assert sorted(first[:10].tolist()) == list(range(10))
    assert steps_per_epoch(n_examples=16, n_reference=1600, batch_size=128, equal_steps=True) == 13
    assert steps_per_epoch(n_examples=16, n_reference=1600, batch_size=128, equal_steps=False) == 1


def test_best_epoch_selection():
    net = nn.Linear(1, 1)
    best = BestEpoch("loss")
    for epoch, loss in enumerate([3.0, 1.0, 2.0, 1.0], start=1):
        with torch.no_grad():
            net.weight.fill_(epoch)
        best.update(epoch, {"loss": loss, "accuracy": 10.0 * epoch}, net)
    assert best.epoch == 2  # ties keep the earlier epoch
    best.restore(net)
    assert float(net.weight.detach()) == 2.0
    acc = BestEpoch("accuracy")
    for epoch, value in enumerate([10.0, 30.0, 20.0], start=1):
        acc.update(epoch, {"accuracy": value}, net)
    assert acc.epoch == 2


# --- settings and the report table --------------------------------------------------------------------------------


def test_setting_names_from_pretraining_configs():
    paper = ("augment:\n  channel_swap: {enabled: true}\n  mixup: {enabled: true}\n"
             "  crop: {enabled: true, axes: both}\n  channel_drop: {enabled: true}\n"
             "  modality_drop: {enabled: false}\n  mel_gain: {enabled: false}\n")
    assert pretraining_setting(paper) == "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"
    none = paper.replace("true", "false")
    assert pretraining_setting(none) == "MC-SimCLR, no augmentation"
    measures = paper.replace("axes: both", "axes: time").replace("modality_drop: {enabled: false}",
                                                                  "modality_drop: {enabled: true}")
    assert pretraining_setting(measures, {"branches": "split"}) == \
        "MC-SimCLR, ChannelSwap+Mixup+RRC(time)+ChannelDrop+ModalityDrop [split encoder]"
    assert pretraining_setting(measures + "optim: {branch_loss_weight: 1.0}\n", {"branches": "split"}) == \
        "MC-SimCLR, ChannelSwap+Mixup+RRC(time)+ChannelDrop+ModalityDrop + branch loss [split encoder]"
    assert slug("MC-SimCLR, no augmentation") == "mc-simclr-no-augmentation"


def _doc(setting: str, mode: str, fraction: float, seed: int, acc: float, err: float) -> dict:
    return {"accuracy": acc, "azimuth_error_mean": err,
            "run": {"setting": setting, "mode": mode, "fraction": fraction, "seed": seed}}


def test_report_table_mean_and_std_over_seeds():
    ours = "MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"
    docs = [_doc(ours, "linear", 1.0, 0, 50.0, 10.0), _doc(ours, "linear", 1.0, 1, 54.0, 12.0),
            _doc(ours, "finetune", 1.0, 0, 60.0, 8.0), _doc(ours, "finetune", 0.1, 0, 40.0, 15.0),
            _doc(BASELINE_SETTING, "random-linear", 1.0, 0, 20.0, 80.0),
            _doc(BASELINE_SETTING, "scratch", 1.0, 0, 45.0, 12.0)]
    table = build_table(docs)
    assert [table.name(r) for r in table.rows] == [BASELINE_SETTING, ours]
    titles = [c.title for c in table.columns]
    assert titles == ["LP acc (%)", "LP az err (deg)", "FT acc (%)", "FT az err (deg)", "FT 10 % acc (%)",
                      "FT 10 % az err (deg)"]
    lp_acc = table.cell(ours, table.columns[0])
    assert lp_acc.mean == 52.0 and lp_acc.std == pytest.approx(math.sqrt(8.0)) and lp_acc.n == 2
    md = table.to_markdown()
    assert f"| {ours} | 52.0 ± 2.8 | 11.0 ± 1.4 | 60.0 | 8.0 | 40.0 | 15.0 | 4 |" in md
    assert f"| {BASELINE_SETTING} | 20.0 | 80.0 | 45.0 | 12.0 | - | - | 2 |" in md
    csv_lines = table.to_csv().splitlines()
    assert csv_lines[0].startswith("setting,LP acc (%) mean,LP acc (%) std,LP acc (%) n,")
    assert "52.0000,2.8284,2" in csv_lines[2]
    dup = build_table([*docs, _doc(ours, "linear", 1.0, 1, 54.0, 12.0)])
    assert any("seed 1" in n for n in dup.notes)


def test_adam_cancels_a_gradient_scale_sgd_does_not():
    """Why the probe's default optimiser is SGD: with Adam, x0.1 on a gradient barely changes the step."""
    steps = {}
    for name, make in (("sgd", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
                       ("adam", lambda p: torch.optim.Adam(p, lr=0.01))):
        for scale in (1.0, 0.1):
            torch.manual_seed(0)
            w = nn.Parameter(torch.randn(5))
            opt = make([w])
            start = w.detach().clone()
            for _ in range(3):
                loss = grad_scale(w, scale).square().sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            steps[(name, scale)] = (w.detach() - start).norm().item()
    assert steps[("sgd", 0.1)] == pytest.approx(0.1 * steps[("sgd", 1.0)], rel=0.05)
    assert steps[("adam", 0.1)] == pytest.approx(steps[("adam", 1.0)], rel=1e-3)


def test_loss_sum_on_the_device_is_the_host_sum_bit_for_bit():
    """The training loops sum their losses on the device (no host sync per step): the same float64 sum as adding
    ``float(loss)`` on the host step by step."""
    from mcsimclr.probe.training import LossSum, host_to_device

    g = torch.Generator().manual_seed(0)
    losses = [torch.rand((), generator=g) * 10 ** float(torch.randint(-3, 3, (), generator=g)) for _ in range(37)]
    host, device = 0.0, LossSum()
    for loss in losses:
        host += float(loss)
        device.add(loss.requires_grad_())
    assert device.mean(37) == host / 37
    assert LossSum().mean(5) == 0.0
    x = torch.arange(6)
    assert torch.equal(host_to_device(x, torch.device("cpu")), x)
