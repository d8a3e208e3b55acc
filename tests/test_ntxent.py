"""NT-Xent: analytic values, a loop reference, symmetry, gradients, precision, and the 2-process gather."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from mcsimclr.losses import NTXentLoss


def reference_ntxent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """SimCLR Eq. 1 written out: a Python loop over the 2N anchors, float64."""
    u = torch.cat([z1, z2]).double()
    u = u / u.norm(dim=1, keepdim=True)
    n = z1.shape[0]
    total = 0.0
    for k in range(2 * n):
        positive = (k + n) % (2 * n)
        numerator = math.exp(float(u[k] @ u[positive]) / temperature)
        denominator = sum(math.exp(float(u[k] @ u[j]) / temperature) for j in range(2 * n) if j != k)
        total += -math.log(numerator / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
@pytest.mark.parametrize("batch", [2, 4, 7])
def test_identical_orthogonal_views_give_the_analytic_value(batch, temperature):
    # B orthogonal directions (scaled: the loss normalises): the positive logit is 1/T, the 2B-2 negatives 0.
    z = torch.eye(16)[:batch] * torch.arange(1, batch + 1)[:, None]
    expected = -math.log(math.exp(1 / temperature) / (math.exp(1 / temperature) + 2 * batch - 2))
    loss_fn = NTXentLoss(temperature=temperature)
    # float32: the log-sum-exp of logits near 1/T = 10 carries an absolute rounding error of about 1e-6.
    assert loss_fn(z, z.clone()).item() == pytest.approx(expected, abs=2e-6)
    assert loss_fn(z.double(), z.double()).item() == pytest.approx(expected, rel=1e-12)


def test_all_views_identical_give_log_2n_minus_1():
    z = torch.ones(5, 3)
    assert NTXentLoss()(z, z).item() == pytest.approx(math.log(2 * 5 - 1), rel=1e-6)


@pytest.mark.parametrize(("batch", "dim", "temperature"), [(2, 3, 0.1), (6, 16, 0.1), (9, 32, 0.5), (16, 8, 0.07)])
def test_matches_loop_reference_on_random_inputs(batch, dim, temperature):
    generator = torch.Generator().manual_seed(batch * dim)
    z1 = torch.randn(batch, dim, generator=generator)
    z2 = z1 + 0.5 * torch.randn(batch, dim, generator=generator)
    loss = NTXentLoss(temperature=temperature)(z1, z2)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference_ntxent(z1, z2, temperature), abs=1e-5, rel=1e-5)


def test_symmetric_in_the_two_views():
    generator = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 16, generator=generator), torch.randn(8, 16, generator=generator)
    loss_fn = NTXentLoss(temperature=0.2)
    torch.testing.assert_close(loss_fn(z1, z2), loss_fn(z2, z1))
    # Relabelling the pairs (same permutation of both views) does not change the loss either.
    perm = torch.randperm(8, generator=generator)
    torch.testing.assert_close(loss_fn(z1, z2), loss_fn(z1[perm], z2[perm]))


def test_invariant_to_scale_and_aligned_pairs_beat_shuffled_pairs():
    generator = torch.Generator().manual_seed(1)
    z1 = torch.randn(8, 16, generator=generator)
    z2 = z1 + 0.1 * torch.randn(8, 16, generator=generator)
    loss_fn = NTXentLoss()
    torch.testing.assert_close(loss_fn(3 * z1, 0.5 * z2), loss_fn(z1, z2))
    assert loss_fn(z1, z2) < loss_fn(z1, z2.roll(1, dims=0))


def test_free_embeddings_learn_to_match_their_pairs():
    generator = torch.Generator().manual_seed(0)
    z1 = nn.Parameter(torch.randn(8, 4, generator=generator))
    z2 = nn.Parameter(torch.randn(8, 4, generator=generator))
    optimiser = torch.optim.SGD([z1, z2], lr=0.5)
    loss_fn = NTXentLoss(temperature=0.5)
    losses = []
    for _ in range(20):
        loss = loss_fn(z1, z2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.6 * losses[0], losses


def test_gradients_are_finite_and_match_finite_differences():
    generator = torch.Generator().manual_seed(0)
    z1 = torch.randn(5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    loss_fn = NTXentLoss(temperature=0.3)
    assert loss_fn(z1, z2).dtype == torch.float64  # float64 is kept (not cast down)
    assert torch.autograd.gradcheck(loss_fn, (z1, z2))
    # Float32, with an all-zero row (normalisation at zero) and a near-duplicate: still finite.
    z1 = torch.randn(6, 8, generator=generator)
    z1[0] = 0.0
    z1 = z1.requires_grad_()
    z2 = (z1.detach() + 1e-7).requires_grad_()
    loss = NTXentLoss(temperature=0.05)(z1, z2)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


def test_logits_in_float32_under_autocast():
    generator = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 16, generator=generator), torch.randn(8, 16, generator=generator)
    low1, low2 = z1.bfloat16(), z2.bfloat16()
    loss_fn = NTXentLoss(temperature=0.05)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss = loss_fn(low1, low2)
    assert loss.dtype == torch.float32
    # Same as float32 arithmetic on the bf16-rounded inputs (a bf16 matmul would be off by ~1e-2 here).
    torch.testing.assert_close(loss, loss_fn(low1.float(), low2.float()))


def test_rejects_bad_shapes_batch_and_temperature():
    loss_fn = NTXentLoss()
    with pytest.raises(ValueError, match=r"expects z1, z2 of one shape \(batch, dim\)"):
        loss_fn(torch.randn(4, 8), torch.randn(4, 7))
    with pytest.raises(ValueError, match=r"expects z1, z2 of one shape \(batch, dim\)"):
        loss_fn(torch.randn(4, 8, 1), torch.randn(4, 8, 1))
    with pytest.raises(ValueError, match=r"expects z1, z2 of one shape \(batch, dim\)"):
        loss_fn(torch.randn(8), torch.randn(8))
    with pytest.raises(ValueError, match="at least 2 pairs"):
        loss_fn(torch.randn(1, 8), torch.randn(1, 8))
    for temperature in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            NTXentLoss(temperature=temperature)


# ---- two processes (gloo, CPU) --------------------------------------------------------------------------------

WORLD, BATCH, DIM, IN_DIM, TEMPERATURE = 2, 6, 5, 4, 0.2


def _full_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Projections z1, z2 (BATCH, DIM) and model inputs x1, x2 (BATCH, IN_DIM), float64, the same everywhere."""
    generator = torch.Generator().manual_seed(123)
    z1 = torch.randn(BATCH, DIM, generator=generator, dtype=torch.float64)
    z2 = z1 + 0.7 * torch.randn(BATCH, DIM, generator=generator, dtype=torch.float64)
    x1 = torch.randn(BATCH, IN_DIM, generator=generator, dtype=torch.float64)
    x2 = x1 + 0.3 * torch.randn(BATCH, IN_DIM, generator=generator, dtype=torch.float64)
    return z1, z2, x1, x2


def _model() -> nn.Module:
    torch.manual_seed(7)
    return nn.Linear(IN_DIM, DIM).double()


def _ddp_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        z1, z2, x1, x2 = _full_batch()
        rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
        local1 = z1[rows].clone().requires_grad_()
        local2 = z2[rows].clone().requires_grad_()
        loss = NTXentLoss(temperature=TEMPERATURE)(local1, local2)
        loss.backward()
        local_only = NTXentLoss(temperature=TEMPERATURE, gather_distributed=False)(z1[rows], z2[rows])
        # A model under DistributedDataParallel: its averaged gradient must be the full-batch gradient.
        model = nn.parallel.DistributedDataParallel(_model())
        model_loss = NTXentLoss(temperature=TEMPERATURE)(model(x1[rows]), model(x2[rows]))
        model_loss.backward()
        torch.save({"loss": loss.detach(), "grad1": local1.grad, "grad2": local2.grad, "local_only": local_only,
                    "model_loss": model_loss.detach(),
                    "model_grads": [p.grad for p in model.module.parameters()]}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_process_gather_matches_the_full_batch(tmp_path):
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD)]

    z1, z2, x1, x2 = _full_batch()
    z1.requires_grad_()
    z2.requires_grad_()
    loss_fn = NTXentLoss(temperature=TEMPERATURE)
    full = loss_fn(z1, z2)
    full.backward()
    # Each process returns the mean over its own anchors: the mean over processes is the full-batch loss.
    torch.testing.assert_close(sum(r["loss"] for r in results) / WORLD, full.detach(), rtol=1e-12, atol=1e-12)
    # The local loss is not the full-batch loss (negatives from the other process count).
    assert abs(results[0]["loss"].item() - full.item()) > 1e-3
    # Gradients reaching each process's rows are WORLD x the full-batch gradient of those rows (DDP then / WORLD).
    n = BATCH // WORLD
    for rank, r in enumerate(results):
        rows = slice(rank * n, (rank + 1) * n)
        torch.testing.assert_close(r["grad1"], WORLD * z1.grad[rows], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(r["grad2"], WORLD * z2.grad[rows], rtol=1e-10, atol=1e-12)
        # gather_distributed=False ignores the other process: the plain loss of the local half.
        torch.testing.assert_close(r["local_only"], loss_fn(z1[rows].detach(), z2[rows].detach()))

    model = _model()
    model_full = loss_fn(model(x1), model(x2))
    model_full.backward()
    torch.testing.assert_close(sum(r["model_loss"] for r in results) / WORLD, model_full.detach())
    for r in results:
        for got, want in zip(r["model_grads"], [p.grad for p in model.parameters()], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
