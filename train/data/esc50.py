"""ESC-50 from its official layout (`meta/esc50.csv`, `audio/*.wav`): folds 1-3 / 4 / 5, cached log-mels."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from train.data.audio import N_FFT, N_FRAMES, N_MELS, SAMPLE_RATE, LogMel, SpecAugment
from train.data.paths import corrupt, download_failed, ensure_writable, missing
from train.data.registry import get_dataset
from train.data.splits import Splits, first
from train.fileio import torch_save

URL = "https://github.com/karolpiczak/ESC-50/archive/master.zip"
LAYOUT = "<data-dir>/esc50/meta/esc50.csv and <data-dir>/esc50/audio/<filename>.wav"
COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
TRAIN_FOLDS, VAL_FOLDS, TEST_FOLDS = (1, 2, 3), (4,), (5,)
NUM_CLASSES = get_dataset("esc50").num_classes
FEATURES_VERSION = 1  # bump when LogMel changes so stale caches are not reused


@dataclass(frozen=True)
class Clip:
    """One row of esc50.csv."""

    filename: str
    fold: int
    target: int
    category: str = ""  # the class name ("dog", "rain"), where the CSV has the column


def read_meta(csv_path: Path) -> list[Clip]:
    """Rows of `meta/esc50.csv`, checked for the official columns and value ranges."""
    try:
        with open(csv_path, newline="") as fh:
            reader = csv.DictReader(fh)
            absent = [c for c in ("filename", "fold", "target") if c not in (reader.fieldnames or [])]
            if absent:
                raise corrupt("ESC-50", csv_path, f"esc50.csv lacks column(s) {', '.join(absent)}")
            clips = [Clip(r["filename"], int(r["fold"]), int(r["target"]), r.get("category") or "")
                     for r in reader]
    except (ValueError, csv.Error, UnicodeDecodeError) as exc:
        raise corrupt("ESC-50", csv_path, exc) from exc
    bad = [c.filename for c in clips if not (1 <= c.fold <= 5 and 0 <= c.target < NUM_CLASSES)]
    if bad or not clips:
        raise corrupt("ESC-50", csv_path, f"fold/target out of range for {bad[0]}" if bad else "no rows")
    return clips


def _missing_audio(root: Path, clips: list[Clip]) -> list[str]:
    """File names listed in the CSV but absent from `audio/`."""
    return [c.filename for c in clips if not (root / "audio" / c.filename).is_file()]


def _download(root: Path, data_dir: Path, what: str = "ESC-50") -> None:
    """Fetch the official archive and move its `meta/` and `audio/` into `root`."""
    from torchvision.datasets.utils import download_and_extract_archive

    ensure_writable(root, "ESC-50")
    staging = root / "_download"
    try:
        download_and_extract_archive(URL, str(staging), filename="ESC-50-master.zip")
    except Exception as exc:  # URLError / OSError when offline, zipfile errors on a bad archive
        shutil.rmtree(staging, ignore_errors=True)  # no half-downloaded archive left behind
        raise download_failed(what, LAYOUT, data_dir, exc) from exc
    extracted = staging / "ESC-50-master"
    for part in ("meta", "audio"):
        if (root / part).exists():
            shutil.rmtree(root / part)
        shutil.move(str(extracted / part), str(root / part))
    shutil.rmtree(staging)


def _ensure_files(root: Path, data_dir: Path, download: bool) -> list[Clip]:
    """The CSV rows, once the CSV and every WAV it lists are on disk."""
    csv_path = root / "meta" / "esc50.csv"
    absent = [] if not csv_path.is_file() else _missing_audio(root, read_meta(csv_path))
    if csv_path.is_file() and not absent:
        return read_meta(csv_path)
    what = f"ESC-50 audio ({len(absent)} WAV files listed in esc50.csv, first {absent[0]})" if absent \
        else "ESC-50"
    if not download:
        raise missing(what, LAYOUT, data_dir)
    _download(root, data_dir, what)
    clips = read_meta(csv_path)
    absent = _missing_audio(root, clips)
    if absent:
        raise corrupt("ESC-50", root / "audio", f"{len(absent)} WAV files missing, first {absent[0]}")
    return clips


def _cache_key(root: Path, clips: list[Clip]) -> str:
    """Hash of the CSV, the feature parameters and each WAV's size: any change recomputes."""
    digest = hashlib.sha256((root / "meta" / "esc50.csv").read_bytes())
    digest.update(f"v{FEATURES_VERSION}:{SAMPLE_RATE}:{N_FFT}:{N_MELS}:{N_FRAMES}".encode())
    for clip in clips:
        digest.update(f"{clip.filename}:{(root / 'audio' / clip.filename).stat().st_size}".encode())
    return digest.hexdigest()[:16]


def compute_features(root: Path, clips: list[Clip]) -> torch.Tensor:
    """Log-mel features of every clip in CSV order, shape (N, 1, 64, 501)."""
    import soundfile  # on use: only reading WAV files needs libsndfile

    logmel = LogMel()
    out = torch.empty(len(clips), 1, N_MELS, N_FRAMES)
    for i, clip in enumerate(clips):
        path = root / "audio" / clip.filename
        try:
            out[i] = logmel(path)
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
            raise corrupt("ESC-50", path, exc) from exc
    return out


def load_features(root: Path, clips: list[Clip]) -> torch.Tensor:
    """Cached features (computed once, then read back from `esc50/cache/`)."""
    cache = root / "cache" / f"logmel-{_cache_key(root, clips)}.pt"
    if cache.is_file():
        try:
            features = torch.load(cache, weights_only=True)
            if features.shape == (len(clips), 1, N_MELS, N_FRAMES):
                return features
        except (RuntimeError, OSError, EOFError):
            pass  # an unreadable cache is recomputed below, never trusted
    features = compute_features(root, clips)
    ensure_writable(cache.parent, "ESC-50")
    torch_save(cache, features)
    return features


class LogMelDataset(Dataset):
    """(features (1,64,501), class) pairs; `transform` runs per access (train augmentation)."""

    def __init__(self, features: torch.Tensor, targets: torch.Tensor,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.features, self.targets, self.transform = features, targets, transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features[i]
        return (self.transform(x) if self.transform else x), self.targets[i]


def load_esc50(data_dir: Path, augment: bool = True, train_subset: int = 0, eval_subset: int = 0,
               download: bool = True) -> Splits:
    """Official folds: train 1-3, val 4, test 5; log-mel features; train-only SpecAugment."""
    root = data_dir / "esc50"
    clips = _ensure_files(root, data_dir, download)
    features = load_features(root, clips)
    targets = torch.tensor([c.target for c in clips])
    folds = torch.tensor([c.fold for c in clips])

    def split(fold_set: tuple[int, ...], transform: SpecAugment | None) -> LogMelDataset:
        mask = torch.isin(folds, torch.tensor(fold_set))
        return LogMelDataset(features[mask], targets[mask], transform)

    train = split(TRAIN_FOLDS, SpecAugment() if augment else None)
    val, test = split(VAL_FOLDS, None), split(TEST_FOLDS, None)
    for name, part in (("train", train), ("val", val), ("test", test)):
        if len(part) == 0:
            raise corrupt("ESC-50", root / "meta", f"no clips in the {name} fold(s)")
    return Splits(first(train, train_subset), first(val, eval_subset), first(test, eval_subset), NUM_CLASSES)
