"""Metrics: accuracy and the Concordance Correlation Coefficient (CCC) as metric and as loss.

CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2), with *population* moments (divide by n), computed over a
whole evaluation set per output dimension. Annotators of emotion disagree, so CCC rewards matching both the correlation
and the scale and offset of a teacher's outputs.
"""
from __future__ import annotations

import numpy as np
import torch

DIMENSIONS = ("arousal", "dominance", "valence")


def ccc(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, eps: float = 1e-8) -> torch.Tensor:
    """Per-column CCC of ``[n, d]`` (or ``[n]``) predictions against targets; returns ``[d]`` (or a scalar).

    Differentiable in ``pred``. ``eps`` keeps a constant prediction against a constant target finite (CCC 0).
    """
    pred = torch.as_tensor(pred, dtype=torch.float64 if isinstance(pred, np.ndarray) else None)
    target = torch.as_tensor(target, dtype=pred.dtype, device=pred.device)
    if pred.shape != target.shape:
        raise ValueError(f"CCC needs predictions and targets of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    mp, mt = pred.mean(dim=0), target.mean(dim=0)
    dp, dt = pred - mp, target - mt
    cov = (dp * dt).mean(dim=0)
    return 2 * cov / (dp.pow(2).mean(dim=0) + dt.pow(2).mean(dim=0) + (mp - mt).pow(2) + eps)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - mean CCC over the output dimensions (a batch-level estimate when trained on mini-batches)."""
    return 1 - ccc(pred, target).mean()


def ccc_mean_loss(pred: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """1 - mean CCC plus the squared gap between the batch means of outputs and targets (per dimension, averaged).

    While outputs correlate negatively with the targets, 1 - CCC alone falls as their mean moves away (the
    denominator grows), and a student can run off to CCC 0 and stall there; the gap term holds the mean and leaves the
    spread to CCC, where an MSE term would also shrink it (docs/decisions.md, 2026-12-01)."""
    return ccc_loss(pred, target) + weight * torch.mean((pred.mean(dim=0) - target.mean(dim=0)) ** 2)


def ccc_mse_loss(pred: torch.Tensor, target: torch.Tensor, mse_weight: float = 1.0) -> torch.Tensor:
    """1 - mean CCC plus a weighted MSE: the MSE anchors the scale early on, when batch CCC is noisy."""
    return ccc_loss(pred, target) + mse_weight * torch.mean((pred - target) ** 2)


def ccc_report(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray,
               names: tuple[str, ...] = DIMENSIONS) -> dict[str, float]:
    """``{"ccc_arousal": .., "ccc_dominance": .., "ccc_valence": .., "ccc": mean, "1-ccc": 1 - mean}``."""
    values = ccc(torch.as_tensor(np.asarray(pred, dtype=np.float64)), torch.as_tensor(np.asarray(target, dtype=np.float64)))
    report = {f"ccc_{n}": float(v) for n, v in zip(names, values)}
    mean = float(values.mean())
    report.update({"ccc": mean, "1-ccc": 1.0 - mean})
    return report


def accuracy(logits: torch.Tensor, labels: torch.Tensor, topk: int = 1) -> float:
    """Fraction of samples whose label is among the ``topk`` highest logits."""
    top = logits.topk(topk, dim=1).indices
    return float((top == labels.view(-1, 1)).any(dim=1).float().mean())
