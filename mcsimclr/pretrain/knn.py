"""k-nearest-neighbour probe of embeddings: class by vote, azimuth by circular mean of the neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mcsimclr.metrics import accuracy, azimuth_error_deg, circular_mean_deg


@torch.no_grad()
def knn_probe(train_emb: torch.Tensor, train_labels: torch.Tensor, train_azimuth: torch.Tensor,
              test_emb: torch.Tensor, test_labels: torch.Tensor, test_azimuth: torch.Tensor, *, k: int = 10,
              n_classes: int) -> dict[str, float]:
    """Cosine kNN from ``train`` ``(n, dim)`` to ``test`` ``(m, dim)``.

    Class: majority vote of the ``k`` nearest (ties: the nearer neighbour's class, via similarity weights).
    Azimuth: circular mean of the neighbours' azimuths (degrees). Returns ``knn_acc`` (%) and
    ``knn_az_err`` (mean circular error, degrees).
    """
    k = min(k, train_emb.shape[0])
    sim = F.normalize(test_emb.float(), dim=1) @ F.normalize(train_emb.float(), dim=1).T  # (m, n)
    top, idx = sim.topk(k, dim=1)
    votes = torch.zeros(test_emb.shape[0], n_classes, device=test_emb.device)
    votes.scatter_add_(1, train_labels[idx], 1.0 + 1e-3 * top)
    predicted_az = circular_mean_deg(train_azimuth[idx].float(), dim=1)
    return {
        "knn_acc": 100.0 * accuracy(votes.argmax(1), test_labels),
        "knn_az_err": float(azimuth_error_deg(predicted_az, test_azimuth.float()).mean()),
    }
