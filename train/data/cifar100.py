"""CIFAR-100 through torchvision, from `<data-dir>/cifar100/cifar-100-python/{train,test,meta}`."""

from __future__ import annotations

from pathlib import Path

from torchvision import transforms as T
from torchvision.datasets import CIFAR100

from train.data.paths import corrupt, download_failed, ensure_writable, missing
from train.data.splits import Splits, TransformSubset, first, seeded_split

LAYOUT = "<data-dir>/cifar100/cifar-100-python/{train,test,meta} (the python pickles of the official tarball)"
MEAN = (0.5071, 0.4867, 0.4408)
STD = (0.2675, 0.2565, 0.2761)
NUM_CLASSES = 100


class _CIFAR100Files(CIFAR100):
    """torchvision's CIFAR-100 reader without its md5 gate, so subsets in the same format load too.

    Integrity is checked instead by unpickling and by the shape and label checks in `_check`.
    """

    train_list = [["train", None]]
    test_list = [["test", None]]
    meta = {**CIFAR100.meta, "md5": None}


def _open(root: Path, train: bool) -> CIFAR100:
    """One official split as PIL images and fine labels; unreadable files are a BenchError."""
    try:
        dataset = _CIFAR100Files(str(root), train=train, download=False)
    except Exception as exc:  # unpickling garbage raises UnpicklingError, KeyError, ValueError, EOFError
        raise corrupt("CIFAR-100", root / "cifar-100-python", exc) from exc
    _check(dataset, root)
    return dataset


def _check(dataset: CIFAR100, root: Path) -> None:
    """Images must be 32x32 RGB and labels within the 100 classes."""
    labels = dataset.targets
    if dataset.data.shape[1:] != (32, 32, 3) or len(labels) != len(dataset.data):
        raise corrupt("CIFAR-100", root, f"images of shape {dataset.data.shape} for {len(labels)} labels")
    if labels and not (min(labels) >= 0 and max(labels) < NUM_CLASSES):
        raise corrupt("CIFAR-100", root, f"fine labels outside 0..{NUM_CLASSES - 1}")


def _ensure_files(root: Path, data_dir: Path, download: bool) -> None:
    """Download and extract the official tarball when the pickles are absent."""
    folder = root / "cifar-100-python"
    if all((folder / name).is_file() for name in ("train", "test", "meta")):
        return
    if not download:
        raise missing("CIFAR-100", LAYOUT, data_dir)
    ensure_writable(root, "CIFAR-100")
    try:
        _CIFAR100Files(str(root), train=True, download=True)
    except Exception as exc:  # URLError / OSError offline, RuntimeError on a bad checksum
        raise download_failed("CIFAR-100", LAYOUT, data_dir, exc) from exc


def train_transform() -> T.Compose:
    """Report 004's train-only augmentation, then tensor and normalisation."""
    return T.Compose([
        T.RandomCrop(32, padding=4),
        T.RandomHorizontalFlip(),
        T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ])


def eval_transform() -> T.Compose:
    """Tensor and normalisation only (validation and test)."""
    return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])


def load_cifar100(data_dir: Path, val_fraction: float, split_seed: int, augment: bool = True,
                  train_subset: int = 0, eval_subset: int = 0, download: bool = True) -> Splits:
    """Seeded 45 000 / 5 000 split of the official train set (for `val_fraction` 0.1), official test."""
    root = data_dir / "cifar100"
    _ensure_files(root, data_dir, download)
    full, test = _open(root, train=True), _open(root, train=False)
    train_idx, val_idx = seeded_split(len(full), val_fraction, split_seed)
    plain = eval_transform()
    train_tf = train_transform() if augment else plain
    return Splits(
        train=first(TransformSubset(full, train_idx, train_tf), train_subset),
        val=first(TransformSubset(full, val_idx, plain), eval_subset),
        test=first(TransformSubset(test, range(len(test)), plain), eval_subset),
        num_classes=NUM_CLASSES,
    )
