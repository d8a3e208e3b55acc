"""The cross-validated linear probe (`linear.solver=cv`): folds, the fits against scikit-learn, the choice of the L2
strength, both heads on embeddings with a known answer. The whole probe on tiny real data: tests/test_probe.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mcsimclr.probe.cv_linear import clip_folds, cross_validate, fit_cv_heads, fit_linear, fit_ridge
from mcsimclr.probe.embed import Embedded
from mcsimclr.probe.heads import ProbeHeads
from mcsimclr.probe.linear_probe import FitResult


def test_folds_keep_a_clips_copies_together_and_spread_each_class():
    clips = torch.arange(30).repeat_interleave(8)  # 30 clips x 8 ChannelSwap copies
    label = (torch.arange(30) % 3).repeat_interleave(8)  # 10 clips per class
    folds = clip_folds(clips, label, k=4, seed=1)
    assert torch.equal(folds, clip_folds(clips, label, k=4, seed=1))  # deterministic
    assert not torch.equal(folds, clip_folds(clips, label, k=4, seed=2))
    for c in range(30):
        assert len(torch.unique(folds[clips == c])) == 1
    per_clip = folds[::8]
    for cls in range(3):
        counts = torch.bincount(per_clip[torch.arange(30) % 3 == cls], minlength=4)
        assert counts.max() - counts.min() <= 1  # 10 clips over 4 folds: 3, 3, 2, 2
    with pytest.raises(ValueError, match="2 <= folds <= clips"):
        clip_folds(torch.arange(3), torch.zeros(3, dtype=torch.long), k=4, seed=0)


def _blobs(n: int, d: int, n_classes: int, *, seed: int, noise: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(n_classes, (n,), generator=g)
    centres = torch.randn(n_classes, d, generator=g)
    return centres[label] + noise * torch.randn(n, d, generator=g), label


@pytest.mark.parametrize("c", [0.01, 1.0])
def test_logistic_fit_matches_scikit_learn(c):
    sklearn = pytest.importorskip("sklearn.linear_model")
    x, y = _blobs(200, 6, 4, seed=0, noise=1.5)
    x = x.double()
    # scikit-learn minimises 0.5 ||W||^2 + C * sum CE; ours mean CE + l2 ||W||^2, so l2 = 1 / (2 C n).
    weight, bias = fit_linear(x, lambda out: F.cross_entropy(out, y), out_dim=4, l2=1 / (2 * c * len(x)))
    ref = sklearn.LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x.numpy(), y.numpy())
    ours = torch.softmax(x @ weight.T + bias, dim=1).numpy()
    np.testing.assert_allclose(ours, ref.predict_proba(x.numpy()), atol=1e-4)


@pytest.mark.parametrize("l2", [1e-3, 0.5])
def test_ridge_fit_matches_scikit_learn(l2):
    sklearn = pytest.importorskip("sklearn.linear_model")
    x, _ = _blobs(150, 5, 3, seed=1)
    x = x.double()
    target = torch.stack([x[:, 0] - 0.5 * x[:, 3], torch.sin(x[:, 1])], dim=1) + 0.3
    weight, bias = fit_ridge(x, target, l2=l2)
    # scikit-learn minimises sum ||t - W x - b||^2 + alpha ||W||^2 (bias free): alpha = l2 * n.
    ref = sklearn.Ridge(alpha=l2 * len(x)).fit(x.numpy(), target.numpy())
    np.testing.assert_allclose(weight.numpy(), ref.coef_, atol=1e-10)
    np.testing.assert_allclose(bias.numpy(), ref.intercept_, atol=1e-10)


def test_cross_validation_prefers_strong_l2_for_noise_and_weak_l2_for_signal():
    """Labels independent of the embedding: only strong L2 keeps the held-out log-loss near log(K). A clean
    linear signal: weak L2 fits it better than strong L2."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 40, generator=g, dtype=torch.float64)
    noise_label = torch.randint(3, (120,), generator=g)
    signal_label = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    folds = clip_folds(torch.arange(120), noise_label, k=4, seed=0)
    grid = [10.0, 1e-4]

    def logistic(y):
        return lambda rows, l2, init: fit_linear(x[rows], lambda out: F.cross_entropy(out, y[rows]), out_dim=3,
                                                 l2=l2, init=init)

    strong, weak = cross_validate(x, folds, fit=logistic(noise_label), grid=grid,
                                  score=lambda out, rows: float(F.cross_entropy(out, noise_label[rows])))
    assert strong < np.log(3) + 0.05 < weak
    strong, weak = cross_validate(x, folds, fit=logistic(signal_label), grid=grid,
                                  score=lambda out, rows: float((out.argmax(1) == signal_label[rows]).double().mean()))
    assert weak > strong


@pytest.mark.parametrize(("direction", "max_error"), [("regression", 10.0), ("bins", 30.0)])
def test_fit_cv_heads_recovers_class_and_direction(direction, max_error):
    """Embeddings that carry the class in some dimensions and (cos, sin) of the azimuth in two others, plus noise
    dimensions: both heads learn them (chance: 25 % and 90 deg), choose their own strengths, and report them."""
    g = torch.Generator().manual_seed(3)
    n, n_classes = 160, 4
    label = torch.arange(n) % n_classes
    azimuth = torch.rand(n, generator=g) * 360 - 180
    rad = torch.deg2rad(azimuth)
    emb = torch.cat([F.one_hot(label, n_classes).float() * 3, 5 * torch.cos(rad)[:, None], 5 * torch.sin(rad)[:, None],
                     torch.randn(n, 10, generator=g)], dim=1) + 0.3 * torch.randn(n, n_classes + 12, generator=g)
    train = Embedded(emb[:120], label[:120], azimuth[:120], torch.arange(120))
    grid = (1.0, 1e-2, 1e-4)

    def fitted() -> tuple[ProbeHeads, FitResult]:
        heads = ProbeHeads(embed_dim=emb.shape[1], n_classes=n_classes, direction=direction, n_bins=12)
        return heads, fit_cv_heads(heads, train, k=3, seed=0, grid=grid)

    heads, fit = fitted()
    assert not heads.training and heads.fixed_norm
    assert fit.best_val["folds"] == 3 and fit.best_val["accuracy"] > 95 and fit.best_val["azimuth_error"] < max_error
    assert fit.best_val["l2_class"] in grid and fit.best_val["l2_direction"] in grid
    assert [row["l2"] for row in fit.history] == list(grid)
    pred_class, pred_az = heads.predict(emb[120:])
    assert (pred_class == label[120:]).all()
    err = torch.remainder(pred_az - azimuth[120:] + 180, 360) - 180
    assert err.abs().mean() < max_error
    again, fit_again = fitted()
    assert fit_again.best_val == fit.best_val and torch.equal(again.classifier.weight, heads.classifier.weight)
