"""Train/val/test containers, the seeded hold-out split and a per-split transform wrapper."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset, Subset, random_split


@dataclass
class Splits:
    """Three map-style datasets of (input, label) and the number of classes."""

    train: Dataset
    val: Dataset
    test: Dataset
    num_classes: int


def seeded_split(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, val indices): `random_split` with its own generator, as the reports did."""
    n_val = max(1, round(n * val_fraction))
    if n_val >= n:
        raise ValueError(f"cannot hold out {n_val} of {n} samples for validation")
    gen = torch.Generator().manual_seed(seed)
    train, val = random_split(range(n), [n - n_val, n_val], generator=gen)
    return list(train.indices), list(val.indices)


def first(dataset: Dataset, limit: int) -> Dataset:
    """The first `limit` samples of `dataset` (all of them when `limit` is 0)."""
    size = len(dataset)  # type: ignore[arg-type]
    if limit <= 0 or limit >= size:
        return dataset
    return Subset(dataset, range(limit))


class TransformSubset(Dataset):
    """`base[indices[i]]` with `transform` applied to the input: train and val share one base."""

    def __init__(self, base: Dataset, indices: Sequence[int], transform: Callable[[Any], Any]) -> None:
        self.base = base
        self.indices = list(indices)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        x, y = self.base[self.indices[i]]
        return self.transform(x), y
