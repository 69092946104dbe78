"""Where datasets live on disk, and the one-line errors for missing, unwritable or corrupt data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def new_folders_removed_on_failure(directory: Path) -> Iterator[None]:
    """Run the body; if it raises, remove the folders it created on the way to and under `directory` that
    are still empty (a failed download leaves `<data-dir>/mnist/MNIST/raw` and the like). Folders that
    existed before, and any folder holding a file, stay."""
    top = _first_missing(Path(directory))
    try:
        yield
    except BaseException:
        if top is not None:
            _remove_empty(top)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` (itself included) that does not exist yet; None when it exists."""
    if path.exists():
        return None
    while not path.parent.exists() and path.parent != path:
        path = path.parent
    return path


def _remove_empty(top: Path) -> None:
    """Remove `top` and the folders under it, deepest first, where empty (rmdir refuses the others)."""
    if not top.is_dir() or top.is_symlink():
        return
    for folder, _, _ in sorted(os.walk(top), key=lambda entry: -len(Path(entry[0]).parts)):
        try:
            os.rmdir(folder)
        except OSError:
            continue  # holds a file, or was not ours to remove
