"""k-nearest-neighbour probe of embeddings: class by vote, azimuth by circular mean of the neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mcsimclr.metrics import accuracy, azimuth_error_deg, circular_mean_deg


@torch.no_grad()
def knn_probe(train_emb: torch.Tensor, train_labels: torch.Tensor, train_azimuth: torch.Tensor,
              query_emb: torch.Tensor, query_labels: torch.Tensor, query_azimuth: torch.Tensor, *, k: int = 10,
              n_classes: int) -> dict[str, float]:
    """Cosine kNN from the bank ``train`` ``(n, dim)`` to the queries ``query`` ``(m, dim)`` (the monitor's dev split).

    Class: majority vote of the ``k`` nearest (ties: the nearer neighbour's class, via similarity weights).
    Azimuth: circular mean of the neighbours' azimuths (degrees). Returns ``knn_acc`` (%) and
    ``knn_az_err`` (mean circular error, degrees).
    """
    k = min(k, train_emb.shape[0])
    sim = F.normalize(query_emb.float(), dim=1) @ F.normalize(train_emb.float(), dim=1).T  # (m, n)
    top, idx = sim.topk(k, dim=1)
    votes = torch.zeros(query_emb.shape[0], n_classes, device=query_emb.device)
    votes.scatter_add_(1, train_labels[idx], 1.0 + 1e-3 * top)
    predicted_az = circular_mean_deg(train_azimuth[idx].float(), dim=1)
    return {
        "knn_acc": 100.0 * accuracy(votes.argmax(1), query_labels),
        "knn_az_err": float(azimuth_error_deg(predicted_az, query_azimuth.float()).mean()),
    }
