"""Atomic file writes: write to a temporary sibling, fsync, rename. A failed write leaves the old file.

Temporary siblings are named `.<name>.<pid>.<random>.tmp`, so a later run can sweep those a killed process
left (`sweep_stale_temps`) without touching a live writer's.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from train.errors import BenchError
from train.processes import pid_alive

_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")  # what atomic_path names its temporary files


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target`, on error it is removed."""
    target = Path(target)
    tmp = temp_beside(target)
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


def create_new(target: Path, data: bytes) -> bool:
    """Atomically create `target` holding `data`; False, writing nothing, when it already exists.

    The bytes go to a temporary sibling first and are hard-linked into place: the link fails if the name
    is taken, so two processes can never both claim it, and readers never see a half-written file."""
    target = Path(target)
    tmp = temp_beside(target)
    try:
        tmp.write_bytes(data)
        _fsync(tmp)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: exclusive create, then write
            try:
                with open(target, "xb") as fh:
                    fh.write(data)
            except FileExistsError:
                return False
    except OSError as exc:
        raise BenchError(f"cannot write {target}: {exc.strerror or exc}; choose a writable directory") \
            from None
    finally:
        tmp.unlink(missing_ok=True)
    return True


def write_unique(target: Path, data: bytes, siblings: tuple[str, ...] = ()) -> Path:
    """Create `target`, or `<stem>_2<suffix>`, `_3`, … (the first name free, also of files with the same
    stem and a suffix in `siblings`); exclusive, never overwrites; the path written."""
    target = Path(target)
    for n in itertools.count(1):
        candidate = target if n == 1 else target.with_name(f"{target.stem}_{n}{target.suffix}")
        if any(candidate.with_suffix(s).exists() for s in siblings):
            continue
        if create_new(candidate, data):
            return candidate
    raise AssertionError("unreachable")


def sweep_stale_temps(folder: Path) -> list[Path]:
    """Delete the temporary files (recursively) that atomic writes of now-dead processes left under
    `folder` (a kill between create and rename); the paths removed."""
    removed = []
    for path in Path(folder).rglob(".*.tmp") if Path(folder).is_dir() else []:
        match = _TEMP_NAME.match(path.name)
        if match and path.is_file() and not pid_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def temp_beside(target: Path) -> Path:
    """A new empty `.<name>.<pid>.<random>.tmp` beside `target` (its folder created), umask honoured."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                        dir=target.parent)
    except OSError as exc:
        reason = exc.strerror or exc
        raise BenchError(f"cannot write {target}: {reason}; choose a writable directory") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; results are shared files, so honour the umask like open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


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
    return write_text(target, json_text(obj))


def json_text(obj: Any) -> str:
    """`obj` as the indented JSON every results file uses (NaN and inf refused: they are not JSON)."""
    return json.dumps(obj, indent=2, allow_nan=False, default=str) + "\n"


def torch_save(target: Path, obj: Any) -> Path:
    """Atomically `torch.save` `obj` to `target`."""
    import torch

    return write_with(target, lambda fh: torch.save(obj, fh))
