"""Atomic file writes: write to a temporary sibling, fsync, rename. A failed write leaves the old file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from train.errors import BenchError


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target`, on error it is removed."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        reason = exc.strerror or exc
        raise BenchError(f"cannot write {target}: {reason}; choose a writable directory") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; results are shared files, so honour the umask like open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BenchError(f"cannot write {target}: {exc.strerror or exc} (earlier file left intact)") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_output_dir(directory: Path) -> Path:
    """Create `directory` (parents too) or fail with one line before any work whose output would be lost."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"cannot write to {directory}: {exc.strerror or exc}; choose a writable directory") \
            from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BenchError(f"cannot write to {directory}: permission denied; choose a writable directory")
    return directory


def _fsync(path: Path) -> None:
    """Flush `path` to disk so the rename never exposes a half-written file after a crash."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def write_with(target: Path, writer: Callable[[IO[bytes]], Any]) -> Path:
    """Atomically write `target` by calling `writer` on a binary file handle."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        writer(fh)
    return Path(target)


def write_bytes(target: Path, data: bytes) -> Path:
    """Atomically write `data` to `target`."""
    return write_with(target, lambda fh: fh.write(data))


def write_text(target: Path, text: str) -> Path:
    """Atomically write UTF-8 `text` to `target`."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: Path, obj: Any) -> Path:
    """Atomically write `obj` as indented JSON (NaN refused: it is not valid JSON)."""
    return write_text(target, json.dumps(obj, indent=2, allow_nan=False, default=str) + "\n")


def torch_save(target: Path, obj: Any) -> Path:
    """Atomically `torch.save` `obj` to `target`."""
    import torch

    return write_with(target, lambda fh: torch.save(obj, fh))
