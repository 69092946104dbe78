"""One entry point for every dataset: a TrainConfig's data fields in, splits (or the Cora graph) out."""

from __future__ import annotations

from pathlib import Path

from torch_geometric.data import Data

from train.config import TrainConfig
from train.data.splits import Splits


def data_key(cfg: TrainConfig) -> tuple:
    """The config fields that change what the loader returns: equal keys can share one load."""
    return (cfg.dataset, cfg.val_fraction, cfg.split_seed, cfg.augment, cfg.train_subset, cfg.eval_subset)


def load_data(cfg: TrainConfig, data_dir: Path, download: bool = True) -> Splits | Data:
    """The dataset `cfg` trains on: a `Data` graph with masks for Cora, `Splits` otherwise."""
    data_dir = Path(data_dir).expanduser()
    if cfg.dataset == "cora":
        from train.data.cora import load_cora

        return load_cora(data_dir, download)
    if cfg.dataset == "mnist":
        from train.data.mnist import load_mnist

        return load_mnist(data_dir, cfg.val_fraction, cfg.split_seed, cfg.train_subset, cfg.eval_subset,
                          download)
    if cfg.dataset == "cifar100":
        from train.data.cifar100 import load_cifar100

        return load_cifar100(data_dir, cfg.val_fraction, cfg.split_seed, cfg.augment, cfg.train_subset,
                             cfg.eval_subset, download)
    if cfg.dataset == "esc50":
        from train.data.esc50 import load_esc50

        return load_esc50(data_dir, cfg.augment, cfg.train_subset, cfg.eval_subset, download)
    raise ValueError(f"no loader for dataset {cfg.dataset!r}")
