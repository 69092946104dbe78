"""Where datasets live on disk, and the one-line errors for missing, unwritable or corrupt data."""

from __future__ import annotations

import os
from pathlib import Path

from train.errors import BenchError

DATA_DIR_ENV = "BENCH_DATA_DIR"


def default_data_dir() -> Path:
    """`$BENCH_DATA_DIR`, else `~/.cache/bench/data`: raw datasets plus what the loaders derive from them."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "bench" / "data"


def download_failed(dataset: str, layout: str, data_dir: Path, exc: BaseException) -> BenchError:
    """The one line shown when a dataset is absent and cannot be downloaded (typically: offline)."""
    reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    return BenchError(
        f"{dataset} not found under {data_dir} and its download failed ({reason}); "
        f"place it as {layout} or pass --data-dir DIR (or set {DATA_DIR_ENV}) to a directory with that layout"
    )


def missing(dataset: str, layout: str, data_dir: Path) -> BenchError:
    """The one line shown when a dataset is absent and downloading is off."""
    return BenchError(
        f"{dataset} not found under {data_dir} (downloads off); place it as {layout} "
        f"or pass --data-dir DIR (or set {DATA_DIR_ENV}) to a directory with that layout"
    )


def corrupt(dataset: str, where: Path, exc: BaseException | str) -> BenchError:
    """The one line shown when dataset files exist but cannot be read."""
    reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    reason = reason.splitlines()[0][:200] if reason else "unreadable"
    return BenchError(f"{dataset} files under {where} are corrupt or incomplete ({reason}); "
                      "delete them and copy or download the dataset again")


def ensure_writable(directory: Path, dataset: str) -> Path:
    """Create `directory` or fail with one line: loaders write derived files next to the raw ones."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"cannot create {directory} for {dataset}: {exc.strerror or exc}; "
                         "pass --data-dir DIR to a writable copy of the data") from None
    if not os.access(directory, os.W_OK):
        raise BenchError(f"{directory} is read-only, but {dataset} needs to write derived files there; "
                         "copy the data to a writable place and pass --data-dir DIR") from None
    return directory
