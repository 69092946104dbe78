"""Accuracy, macro-F1 and mean ± std against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from train.metrics import accuracy, confusion_matrix, macro_f1, mean_std


def test_accuracy_by_hand():
    preds = torch.tensor([0, 1, 2, 2, 1])
    targets = torch.tensor([0, 1, 1, 2, 0])
    assert accuracy(preds, targets) == pytest.approx(3 / 5)


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(torch.tensor([0, 1, 2, 2, 1]), torch.tensor([0, 1, 1, 2, 0]), 3)
    # rows: true class, columns: predicted class
    assert cm.tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_macro_f1_by_hand():
    # class 0: TP 1, FP 0, FN 1 -> F1 = 2/(2+0+1) = 2/3
    # class 1: TP 1, FP 1, FN 1 -> F1 = 2/4 = 1/2
    # class 2: TP 1, FP 1, FN 0 -> F1 = 2/3
    preds = torch.tensor([0, 1, 2, 2, 1])
    targets = torch.tensor([0, 1, 1, 2, 0])
    assert macro_f1(preds, targets, 3) == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)


def test_macro_f1_ignores_classes_absent_from_targets_and_predictions():
    # 7 possible classes, only 0 and 1 occur: each has F1 1 -> macro 1, not 2/7.
    assert macro_f1(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 1]), 7) == pytest.approx(1.0)


def test_macro_f1_counts_a_predicted_but_absent_class_as_zero():
    # class 0: TP 1, FN 1 -> 2/3; class 2 only predicted: F1 0 -> (2/3 + 0) / 2
    assert macro_f1(torch.tensor([0, 2]), torch.tensor([0, 0]), 3) == pytest.approx(1 / 3)


def test_empty_inputs():
    empty = torch.tensor([], dtype=torch.long)
    assert accuracy(empty, empty) == 0.0 and macro_f1(empty, empty, 3) == 0.0


def test_mean_std_by_hand():
    mean, std = mean_std([0.80, 0.82, 0.78])
    assert mean == pytest.approx(0.80)
    assert std == pytest.approx(math.sqrt((0.0004 + 0.0004) / 2))  # sample std, n - 1
    assert mean_std([0.5]) == (0.5, 0.0)
