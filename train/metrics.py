"""Classification metrics (accuracy, macro-F1) and mean ± std, implemented here and tested by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts C[t, p] of samples with true class t predicted as p; shape (num_classes, num_classes)."""
    preds, targets = preds.reshape(-1).long().cpu(), targets.reshape(-1).long().cpu()
    if preds.shape != targets.shape:
        raise ValueError(f"{preds.numel()} predictions for {targets.numel()} targets")
    flat = targets * num_classes + preds
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def accuracy(preds: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of predictions equal to the target (0.0 for no samples)."""
    if targets.numel() == 0:
        return 0.0
    return float((preds.reshape(-1).cpu() == targets.reshape(-1).cpu()).float().mean())


def macro_f1(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> float:
    """Unweighted mean of per-class F1 = 2TP / (2TP + FP + FN) over the classes that occur in the
    targets or the predictions (scikit-learn's `f1_score(average="macro")`); 0.0 for no samples."""
    cm = confusion_matrix(preds, targets, num_classes).double()
    tp = cm.diag()
    support = cm.sum(dim=1)  # true count per class
    predicted = cm.sum(dim=0)
    present = (support + predicted) > 0
    if not bool(present.any()):
        return 0.0
    f1 = 2 * tp[present] / (support[present] + predicted[present])
    return float(f1.mean())


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n-1; 0.0 for a single value)."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_std of no values")
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
