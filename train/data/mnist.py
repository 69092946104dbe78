"""MNIST through torchvision, from the IDX files in `<data-dir>/mnist/raw/` (gzipped or not)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import torch
from torch.utils.data import Dataset, TensorDataset

from train.data.paths import corrupt, download_failed, ensure_writable, missing
from train.data.splits import Splits, first, seeded_split
from train.fileio import write_with

# md5 of the uncompressed IDX files, as torchvision and /work/shared/data/README.md give them.
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
LAYOUT = "<data-dir>/mnist/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"
MEAN, STD = 0.1307, 0.3081
NUM_CLASSES = 10


def _stage_raw(src: Path, dst: Path) -> None:
    """Put uncompressed IDX files where torchvision reads them (`<root>/MNIST/raw`)."""
    for name in MD5:
        if (dst / name).is_file():
            continue
        if (src / name).is_file():
            write_with(dst / name, lambda fh, path=src / name: fh.write(path.read_bytes()))
        elif (src / f"{name}.gz").is_file():
            def unzip(fh, path=src / f"{name}.gz"):
                with gzip.open(path, "rb") as zipped:
                    shutil.copyfileobj(zipped, fh)
            try:
                write_with(dst / name, unzip)
            except (OSError, EOFError) as exc:  # gzip raises BadGzipFile (an OSError) or EOFError
                raise corrupt("MNIST", src, exc) from exc


def _verify(raw: Path) -> None:
    """Compare each IDX file with its published md5: a truncated copy must not train silently."""
    for name, expected in MD5.items():
        digest = hashlib.md5((raw / name).read_bytes()).hexdigest()
        if digest != expected:
            raise corrupt("MNIST", raw, f"{name} has md5 {digest}, expected {expected}")


def load_mnist_tensors(data_dir: Path, download: bool = True) -> tuple[torch.Tensor, ...]:
    """(train images uint8 (60000,28,28), train labels, test images, test labels)."""
    from torchvision.datasets import MNIST

    root = data_dir / "mnist"
    raw = root / "MNIST" / "raw"
    src = root / "raw"
    if any((src / n).is_file() or (src / f"{n}.gz").is_file() for n in MD5):
        ensure_writable(raw, "MNIST")
        _stage_raw(src, raw)
    if not all((raw / n).is_file() for n in MD5):
        if not download:
            raise missing("MNIST", LAYOUT, data_dir)
        ensure_writable(root, "MNIST")
        try:
            MNIST(str(root), train=True, download=True)
        except Exception as exc:  # torchvision raises RuntimeError, URLError or OSError when offline
            raise download_failed("MNIST", LAYOUT, data_dir, exc) from exc
    _verify(raw)
    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    return train.data, train.targets, test.data, test.targets


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N,28,28) -> float (N,1,28,28) standardised with the reports' mean and std."""
    return ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)


def load_mnist(data_dir: Path, val_fraction: float, split_seed: int, train_subset: int = 0,
               eval_subset: int = 0, download: bool = True) -> Splits:
    """Seeded train/val split of the official 60 000, the official 10 000 test; no augmentation."""
    train_x, train_y, test_x, test_y = load_mnist_tensors(data_dir, download)
    # Normalise once up front: per-sample PIL transforms would cost more than the MLP itself.
    full: Dataset = TensorDataset(normalise(train_x), train_y)
    train_idx, val_idx = seeded_split(len(full), val_fraction, split_seed)
    test: Dataset = TensorDataset(normalise(test_x), test_y)
    return Splits(
        train=first(torch.utils.data.Subset(full, train_idx), train_subset),
        val=first(torch.utils.data.Subset(full, val_idx), eval_subset),
        test=first(test, eval_subset),
        num_classes=NUM_CLASSES,
    )
