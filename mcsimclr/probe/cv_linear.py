"""Linear heads fit to convergence with an L2 penalty chosen by k-fold cross-validation over the labelled clips.

The protocol SimCLR (Chen et al. 2020, appendix B.5) uses for linear evaluation on small data sets: a regularised
linear model fit full-batch with L-BFGS, its regularisation strength chosen on held-out labelled data, then refit
on all of it. Here each head gets its own strength (class: cross-validated accuracy; direction: cross-validated
mean azimuth error), the folds split clips (all ChannelSwap copies of a clip fall in one fold) and are stratified
by class, and nothing about the test clips is used. Unlike early stopping on a small validation subset, every
labelled clip trains the final heads, and the two heads do not share one stopping epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mcsimclr.metrics import azimuth_error_deg
from mcsimclr.probe.embed import Embedded
from mcsimclr.probe.heads import ProbeHeads
from mcsimclr.probe.linear_probe import FitResult

#: L2 strengths tried for each head, strongest first (objective: mean loss + ``l2 * ||W||^2`` on standardised
#: embeddings, bias not penalised): half-decade steps from 10 to 1e-6.
L2_GRID: tuple[float, ...] = tuple(float(10.0 ** e) for e in np.arange(1.0, -6.01, -0.5))

#: A fitted linear head: ``W (out_dim, d)`` and ``b (out_dim,)``.
Solution = tuple[torch.Tensor, torch.Tensor]


def clip_folds(clip: torch.Tensor, label: torch.Tensor, *, k: int, seed: int) -> torch.Tensor:
    """Fold of each row ``(n,)`` long in ``[0, k)``: rows of one clip share a fold, classes are spread evenly.

    Clips are shuffled with ``seed``, ordered by class (stable), and dealt to the folds in turn, so each fold
    holds ``floor`` or ``ceil`` of ``1/k`` of every class's clips.

    Args:
        clip: ``(n,)`` clip index of each row (ChannelSwap copies repeat it).
        label: ``(n,)`` class of each row (the same for all rows of a clip).
        k: folds, ``2 <= k <=`` number of clips.
        seed: shuffling seed.
    """
    clips, first = np.unique(clip.cpu().numpy(), return_index=True)
    if not 2 <= k <= len(clips):
        raise ValueError(f"cross-validation needs 2 <= folds <= clips, got {k} folds for {len(clips)} clips")
    clip_label = label.cpu().numpy()[first]
    order = np.random.default_rng([seed, 0xC5F0]).permutation(len(clips))
    order = order[np.argsort(clip_label[order], kind="stable")]
    fold_of_clip = np.empty(len(clips), dtype=np.int64)
    fold_of_clip[order] = np.arange(len(clips)) % k
    return torch.as_tensor(fold_of_clip[np.searchsorted(clips, clip.cpu().numpy())], device=clip.device)


def fit_linear(x: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor], *, out_dim: int, l2: float,
               init: Solution | None = None, max_iter: int = 200) -> Solution:
    """Minimise ``loss(x @ W.T + b) + l2 * ||W||^2`` over ``W (out_dim, d)`` and ``b (out_dim,)`` with L-BFGS.

    The objective is convex for the losses used here (cross-entropy), so the result does not depend on the start
    ``init`` (used to warm-start along the L2 path), only on when L-BFGS stops (gradient below 1e-5 or ``max_iter``
    iterations). Runs in ``x``'s dtype (float64 here).

    Args:
        x: ``(n, d)`` standardised embeddings.
        loss: outputs ``(n, out_dim)`` -> scalar mean loss.
    """
    if init is None:
        weight = torch.zeros(out_dim, x.shape[1], dtype=x.dtype, device=x.device)
        bias = torch.zeros(out_dim, dtype=x.dtype, device=x.device)
    else:
        weight, bias = (t.detach().clone() for t in init)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-5,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(x @ weight.T + bias) + l2 * weight.square().sum()
        value.backward()
        return value

    opt.step(closure)
    return weight.detach(), bias.detach()


def fit_ridge(x: torch.Tensor, target: torch.Tensor, *, l2: float) -> Solution:
    """The exact minimiser of ``mean_i ||W x_i + b - t_i||^2 + l2 * ||W||^2`` (bias not penalised).

    Args:
        x: ``(n, d)`` embeddings; target: ``(n, out_dim)``.

    Returns:
        ``W (out_dim, d)`` and ``b (out_dim,)``.
    """
    mean_x, mean_t = x.mean(dim=0), target.mean(dim=0)
    xc, tc = x - mean_x, target - mean_t
    n = x.shape[0]
    gram = xc.T @ xc / n + l2 * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    weight = torch.linalg.solve(gram, xc.T @ tc / n).T
    return weight, mean_t - weight @ mean_x


#: ``(rows, l2, init) -> (W, b)``: a head fit on some rows of the embeddings (see :func:`cross_validate`).
Fit = Callable[[torch.Tensor, float, Solution | None], Solution]
Score = Callable[[torch.Tensor, torch.Tensor], float]


def cross_validate(x: torch.Tensor, folds: torch.Tensor, *, fit: Fit, score: Score,
                   grid: Sequence[float]) -> list[float]:
    """Mean held-out ``score`` over the folds for each L2 strength of ``grid`` (in its order).

    Args:
        x: ``(n, d)`` standardised embeddings.
        folds: ``(n,)`` fold of each row (:func:`clip_folds`).
        fit: ``(rows, l2, init)`` -> ``(W, b)`` fit on those rows of ``x`` (``init``: the previous strength's
            solution on the same rows, for a warm start, or ``None``).
        score: ``(outputs, rows)`` -> score of the held-out rows' outputs.
    """
    k = int(folds.max()) + 1
    scores = np.zeros((len(grid), k))
    for f in range(k):
        train_rows = torch.nonzero(folds != f).squeeze(1)
        held_rows = torch.nonzero(folds == f).squeeze(1)
        solution = None
        for i, l2 in enumerate(grid):  # warm start along the path
            solution = fit(train_rows, l2, solution)
            scores[i, f] = score(x[held_rows] @ solution[0].T + solution[1], held_rows)
    return scores.mean(axis=1).tolist()


def _choose(values: list[float], *, maximise: bool) -> int:
    """Index of the best value; ties go to the earliest (the strongest regularisation)."""
    arr = np.asarray(values) * (-1.0 if maximise else 1.0)
    return int(np.flatnonzero(arr == arr.min())[0])


def fit_cv_heads(heads: ProbeHeads, train: Embedded, *, k: int, seed: int,
                 grid: Sequence[float] = L2_GRID) -> FitResult:
    """Fit both heads of ``heads`` on ``train`` with L2 strengths chosen by ``k``-fold cross-validation.

    The embeddings are standardised with the exact statistics of ``train`` (:meth:`ProbeHeads.fix_standardisation`).
    The class head is a multinomial logistic regression (L-BFGS); the direction head a ridge regression on
    ``(cos, sin)`` of the azimuth (``regression``, solved exactly) or a logistic regression over the azimuth bins
    (``bins``): the losses of :class:`ProbeHeads`, plus the penalty. Folds: ``min(k, clips)``. The fitted
    weights are written into ``heads.classifier`` and ``heads.direction``; ``heads`` is left in eval mode.

    The fits run in float64 on the CPU whatever the embeddings' device: the standardised embeddings are copied
    there once. L-BFGS's line search reads its values on the host at every evaluation, which on a GPU would be
    one device sync per evaluation for problems of a few thousand rows; GPUs are also slow at float64.

    Returns:
        :class:`FitResult` with ``best_epoch`` 0 (no epochs), ``best_val`` the cross-validated accuracy (%) and
        azimuth error (deg) at the chosen strengths plus the strengths (``l2_class``, ``l2_direction``) and
        ``folds``, and one history row per strength.
    """
    problem = _HeadProblem(heads, train)
    n_clips = len(torch.unique(problem.train.clip))
    folds = clip_folds(problem.train.clip, problem.train.label, k=min(k, n_clips), seed=seed)
    cv_acc = cross_validate(problem.x, folds, fit=problem.fit_class, score=problem.class_score, grid=grid)
    cv_az = cross_validate(problem.x, folds, fit=problem.fit_direction, score=problem.direction_score, grid=grid)
    best_c, best_d = _choose(cv_acc, maximise=True), _choose(cv_az, maximise=False)
    every = torch.arange(len(problem.x))
    _assign(heads.classifier, *problem.fit_class(every, grid[best_c], None))
    _assign(heads.direction, *problem.fit_direction(every, grid[best_d], None))
    heads.eval()
    history = [{"l2": l2, "cv_accuracy": a, "cv_azimuth_error": d}
               for l2, a, d in zip(grid, cv_acc, cv_az, strict=True)]
    best_val = {"accuracy": cv_acc[best_c], "azimuth_error": cv_az[best_d], "l2_class": grid[best_c],
                "l2_direction": grid[best_d], "folds": int(folds.max()) + 1}
    return FitResult(best_epoch=0, best_val=best_val, history=history)


def fit_dev_heads(heads: ProbeHeads, train: Embedded, dev: Embedded, *,
                  grid: Sequence[float] = L2_GRID) -> FitResult:
    """Fit both heads of ``heads`` on all of ``train`` for every L2 strength of ``grid`` and keep, per head, the
    strength that scores best on ``dev`` (class: accuracy; direction: mean azimuth error; ties: the stronger).

    The same models, standardisation and float64 CPU fits as :func:`fit_cv_heads`; the dev embeddings are
    standardised with ``train``'s statistics. ``dev`` is only scored, never fit: every protocol of the probe
    selects on the same dev clips (fine-tuning and scratch choose their epoch there).

    Returns:
        :class:`FitResult` with ``best_epoch`` 0, ``best_val`` the dev accuracy (%) and azimuth error (deg) at
        the chosen strengths plus ``l2_class``, ``l2_direction``, and one history row per strength.
    """
    problem = _HeadProblem(heads, train)
    with torch.no_grad():
        x_dev = heads.norm(dev.embedding.float()).double().cpu()
    dev = dev.to("cpu")
    dev_label, dev_azimuth = dev.label.long(), dev.azimuth_deg.float()
    every = torch.arange(len(problem.x))
    scores: dict[str, list[float]] = {"accuracy": [], "azimuth_error": []}
    solutions: dict[str, list[Solution]] = {"accuracy": [], "azimuth_error": []}
    klass: Solution | None = None
    direction: Solution | None = None
    for l2 in grid:  # warm start along the path (the direction fit is exact)
        klass = problem.fit_class(every, l2, klass)
        direction = problem.fit_direction(every, l2, direction)
        solutions["accuracy"].append(klass)
        solutions["azimuth_error"].append(direction)
        out_c = x_dev @ klass[0].T + klass[1]
        out_d = x_dev @ direction[0].T + direction[1]
        scores["accuracy"].append(100.0 * float((out_c.argmax(dim=1) == dev_label).double().mean()))
        scores["azimuth_error"].append(float(azimuth_error_deg(problem.coding.decode(out_d.float()),
                                                               dev_azimuth).mean()))
    best_c = _choose(scores["accuracy"], maximise=True)
    best_d = _choose(scores["azimuth_error"], maximise=False)
    _assign(heads.classifier, *solutions["accuracy"][best_c])
    _assign(heads.direction, *solutions["azimuth_error"][best_d])
    heads.eval()
    history = [{"l2": l2, "dev_accuracy": a, "dev_azimuth_error": d}
               for l2, a, d in zip(grid, scores["accuracy"], scores["azimuth_error"], strict=True)]
    best_val = {"accuracy": scores["accuracy"][best_c], "azimuth_error": scores["azimuth_error"][best_d],
                "l2_class": grid[best_c], "l2_direction": grid[best_d]}
    return FitResult(best_epoch=0, best_val=best_val, history=history)


class _HeadProblem:
    """The two heads' fits on standardised float64 CPU copies of the training embeddings (rows: ChannelSwap copies
    included), and their scores on held-out rows of them."""

    def __init__(self, heads: ProbeHeads, train: Embedded) -> None:
        heads.fix_standardisation(train.embedding)
        with torch.no_grad():
            self.x = heads.norm(train.embedding.float()).double().cpu()
        self.train = train.to("cpu")
        self.label, self.azimuth = self.train.label.long(), self.train.azimuth_deg.float()
        self.coding = heads.coding
        rad = torch.deg2rad(self.azimuth.double())
        self.cos_sin = torch.stack([torch.cos(rad), torch.sin(rad)], dim=1)
        self.fit_class = self._logistic(self.label, heads.n_classes)
        self.fit_direction = (self._ridge if self.coding.kind == "regression"
                              else self._logistic(self.coding.bin_index(self.azimuth), self.coding.out_dim))

    def _logistic(self, target: torch.Tensor, out_dim: int) -> Fit:
        def fit(rows: torch.Tensor, l2: float, init: Solution | None) -> Solution:
            rows_target = target[rows]  # once per fit, not once per L-BFGS evaluation
            return fit_linear(self.x[rows], lambda out: F.cross_entropy(out, rows_target), out_dim=out_dim, l2=l2,
                              init=init)
        return fit

    def _ridge(self, rows: torch.Tensor, l2: float, init: Solution | None) -> Solution:  # exact: no warm start
        return fit_ridge(self.x[rows], self.cos_sin[rows], l2=l2)

    def class_score(self, out: torch.Tensor, rows: torch.Tensor) -> float:
        return 100.0 * float((out.argmax(dim=1) == self.label[rows]).float().mean())

    def direction_score(self, out: torch.Tensor, rows: torch.Tensor) -> float:
        return float(azimuth_error_deg(self.coding.decode(out.float()), self.azimuth[rows]).mean())


@torch.no_grad()
def _assign(layer: nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    layer.weight.copy_(weight)
    layer.bias.copy_(bias)
