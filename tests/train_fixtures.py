"""Tiny datasets in their real on-disk formats, and writable copies of ../shared/data, for the train tests."""

from __future__ import annotations

import csv
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

# The repo is cloned beside shared/; a user's clone has none, and those tests skip.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")


def shared_dataset(name: str) -> Path:
    """`../shared/data/<name>`, or skip the test when the repo has no shared/ beside it."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (the repo is not cloned next to shared/)")
    return path


def copy_shared(name: str, data_dir: Path) -> Path:
    """A writable copy of `../shared/data/<name>` under `data_dir` (shared/ itself stays read-only)."""
    target = data_dir / name
    shutil.copytree(shared_dataset(name), target, copy_function=shutil.copyfile)
    for root, dirs, _files in os.walk(target):
        for d in dirs:
            os.chmod(Path(root) / d, 0o755)
    os.chmod(target, 0o755)
    return data_dir


def make_esc50(data_dir: Path, per_fold: int = 2, classes: int = 4) -> Path:
    """ESC-50 layout with `per_fold` clips in each of the 5 folds: a tone per class, some clips stereo at
    44.1 kHz for 5 s, others mono at 22.05 kHz and shorter (padded by the loader)."""
    import soundfile  # on use: collecting the tests that import this module needs no libsndfile

    root = data_dir / "esc50"
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for fold in range(1, 6):
        for i in range(per_fold):
            target = (fold + i) % classes
            src = f"{100000 + fold * 10 + i}"
            name = f"{fold}-{src}-A-{target}.wav"
            stereo = i % 2 == 0
            rate, seconds = (44_100, 5.0) if stereo else (22_050, 2.5)
            t = np.arange(int(rate * seconds)) / rate
            tone = 0.3 * np.sin(2 * np.pi * (300 + 400 * target) * t) + 0.05 * rng.standard_normal(len(t))
            audio = np.stack([tone, 0.5 * tone], axis=1) if stereo else tone
            soundfile.write(root / "audio" / name, audio.astype(np.float32), rate, subtype="PCM_16")
            rows.append({"filename": name, "fold": fold, "target": target, "category": f"class{target}",
                         "esc10": "False", "src_file": src, "take": "A"})
    with open(root / "meta" / "esc50.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ESC50_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return data_dir


def make_cifar100(data_dir: Path, train: int = 40, test: int = 20) -> Path:
    """`cifar100/cifar-100-python/{train,test,meta}` pickles with the official keys, random images."""
    folder = data_dir / "cifar100" / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("test", test)):
        fine = [int(v) for v in rng.integers(0, 100, n)]
        entry = {
            "filenames": [f"img_{i}.png" for i in range(n)],
            "batch_label": f"{split} batch",
            "fine_labels": fine,
            "coarse_labels": [f // 5 for f in fine],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        }
        with open(folder / split, "wb") as fh:
            pickle.dump(entry, fh)
    meta = {"fine_label_names": [f"fine{i}" for i in range(100)],
            "coarse_label_names": [f"coarse{i}" for i in range(20)]}
    with open(folder / "meta", "wb") as fh:
        pickle.dump(meta, fh)
    return data_dir
