"""The dataset registry: one `DatasetSpec` per dataset, read by training, export inputs, accuracy and reports.

Adding a dataset is one spec below, its loader module under train/data/, and its models under train/models/.
Loaders import their heavy dependencies (torchvision, soundfile, PyG datasets) only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from train.data.paths import new_folders_removed_on_failure
from train.errors import BenchError

if TYPE_CHECKING:
    from torch_geometric.data import Data

    from train.config import TrainConfig
    from train.data.splits import Splits

KINDS = ("graph", "samples")  # one graph, nodes classified (full-graph or sampled) | independent samples


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its name on the command line, its title in tables, what it holds, and how to load it."""

    name: str  # `bench train <name>`, results/training/<name>/
    title: str  # as the reports print it: "ESC-50"
    kind: str  # one of KINDS; a graph dataset's models must be graph models (register_model checks it)
    num_classes: int
    load: Callable[[TrainConfig, Path, bool], Splits | Data]  # (config, data dir, download) -> the splits
    report: str  # the course report it comes from ("000" ... "004")
    class_names: tuple[str, ...] = ()  # where the format fixes them; () when only the files carry names
    reported_result: str = ""  # the report's headline result, shown under `bench report`'s training table
    reported_grid: str = ""  # the report's grid search as `bench sweep <model> <args>` ("" when none)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"dataset {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(f"dataset {self.name!r}: {len(self.class_names)} class names, "
                             f"{self.num_classes} classes")


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add `spec`; a duplicate name is a programming error."""
    if spec.name in _DATASETS:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    _DATASETS[spec.name] = spec
    return spec


def dataset_names() -> tuple[str, ...]:
    """Every dataset, in the reports' order."""
    return tuple(_DATASETS)


def get_dataset(name: str) -> DatasetSpec:
    """The spec called `name`; an unknown name is a BenchError listing the valid ones."""
    try:
        return _DATASETS[name]
    except KeyError:
        raise BenchError(f"unknown dataset {name!r}; choose one of: {', '.join(_DATASETS)}") from None


def data_key(cfg: TrainConfig) -> tuple:
    """The config fields that change what the loader returns: equal keys can share one load."""
    return (cfg.dataset, cfg.val_fraction, cfg.split_seed, cfg.augment, cfg.train_subset, cfg.eval_subset)


def load_data(cfg: TrainConfig, data_dir: Path, download: bool = True) -> Splits | Data:
    """The dataset `cfg` trains on: a `Data` graph with masks for graph datasets, `Splits` otherwise. A load
    that fails leaves no empty folder behind (a failed download would leave `<data-dir>/<dataset>/...`)."""
    spec, data_dir = get_dataset(cfg.dataset), Path(data_dir).expanduser()
    with new_folders_removed_on_failure(data_dir / spec.name):
        return spec.load(cfg, data_dir, download)


# --- loaders: each imports its module on call --------------------------------------------------------------


def _cora(cfg: TrainConfig, data_dir: Path, download: bool) -> Data:
    from train.data.cora import load_cora

    return load_cora(data_dir, download)


def _esc50(cfg: TrainConfig, data_dir: Path, download: bool) -> Splits:
    from train.data.esc50 import load_esc50

    return load_esc50(data_dir, cfg.augment, cfg.train_subset, cfg.eval_subset, download)


def _mnist(cfg: TrainConfig, data_dir: Path, download: bool) -> Splits:
    from train.data.mnist import load_mnist

    return load_mnist(data_dir, cfg.val_fraction, cfg.split_seed, cfg.train_subset, cfg.eval_subset, download)


def _cifar100(cfg: TrainConfig, data_dir: Path, download: bool) -> Splits:
    from train.data.cifar100 import load_cifar100

    return load_cifar100(data_dir, cfg.val_fraction, cfg.split_seed, cfg.augment, cfg.train_subset,
                         cfg.eval_subset, download)


# Registration order is the reports' order, which every listing follows.
register_dataset(DatasetSpec("cora", "Cora", "graph", 7, _cora, "000"))
register_dataset(DatasetSpec(
    "esc50", "ESC-50", "samples", 50, _esc50, "001",
    reported_result="the report's final run: best val acc 0.3425 (lr 0.02, wd 1e-5, channels [32,64,128], "
                    "kernel 5, 15 epochs)",
    reported_grid="esc50-cnn --grid lr=0.005,0.01,0.02 --grid wd=1e-5,1e-4 "
                  "--grid 'channels=[[32,64,128],[48,96,192]]' --grid kernel_size=3,5 --epochs 3"))
register_dataset(DatasetSpec("mnist", "MNIST", "samples", 10, _mnist, "002, 003",
                             class_names=tuple(str(digit) for digit in range(10))))
register_dataset(DatasetSpec(
    "cifar100", "CIFAR-100", "samples", 100, _cifar100, "004",
    reported_result="the report: test accuracy 58.4 %, test loss 1.54 (lr 0.01, wd 5e-4, blocks (3,3,3), "
                    "width 16, 20 epochs)",
    reported_grid="cifar100-bottleneck --grid lr=0.002,0.005,0.01 --grid wd=5e-5,5e-4 "
                  "--grid 'blocks=[[2,2,2],[3,3,3]]' --grid width=16,32 --epochs 5"))  # 24 runs of 5 epochs
