"""A training run's own folder, whether it completed, and promoting a complete run to the model's files.

Every `bench train` of a model writes `<results>/training/<dataset>/runs/<model>-<UTC time>/` holding its
`checkpoint.pt` and `metrics.json` (status "complete" or "interrupted"). Only a complete run (every
epoch of every seed) is promoted to `<results>/checkpoints/<model>.pt` and
`<results>/training/<dataset>/<model>.json`, the two files `bench run`, `bench export` and `bench report`
read, so those always hold a complete run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from train.errors import BenchError
from train.fileio import temp_beside
from train.processes import TERMINATING_SIGNALS

RUN_CHECKPOINT = "checkpoint.pt"
RUN_RECORD = "metrics.json"
COMPLETE, INTERRUPTED = "complete", "interrupted"


def record_path(results_dir: Path, dataset: str, model: str) -> Path:
    """`<results>/training/<dataset>/<model>.json`: the record `bench report` reads (complete runs only)."""
    return Path(results_dir) / "training" / dataset / f"{model}.json"


def runs_dir(results_dir: Path, dataset: str) -> Path:
    """`<results>/training/<dataset>/runs`: one folder per `bench train` of a model."""
    return Path(results_dir) / "training" / dataset / "runs"


def new_run_dir(results_dir: Path, dataset: str, model: str, now: datetime | None = None) -> Path:
    """Create and return `runs/<model>-<UTC time>`; a run started in the same second gets `-2`, `-3`, ..."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    parent = runs_dir(results_dir, dataset)
    for n in range(1, 1000):
        path = parent / (f"{model}-{stamp}" if n == 1 else f"{model}-{stamp}-{n}")
        try:
            path.mkdir(parents=True)  # never exist_ok: two runs never share a folder
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise BenchError(f"cannot write to {parent}: {exc.strerror or exc}; choose a writable "
                             "--results-dir") from None
    raise BenchError(f"{parent} already has 999 runs of {model} started at {stamp}; remove some")


def interruption_text(data: dict[str, Any]) -> str | None:
    """'interrupted at epoch 5/50' (plus the seed for several) for a record of a run Ctrl-C ended, else None.

    Also recognises records written before runs had a status: a seed's metrics with
    `interrupted_after_epoch` (the loop stopped early) mark the whole record interrupted."""
    info = data.get("interrupted")
    if isinstance(info, dict):
        text = f"interrupted at epoch {info.get('epochs_done')}/{info.get('epochs_planned')}"
        if (info.get("seeds_planned") or 1) > 1:
            text += (f" of seed {info.get('seed')}, {info.get('seeds_done')}/{info.get('seeds_planned')} "
                     "seeds complete")
        return text
    for run in data.get("runs") or []:
        done = (run.get("metrics") or {}).get("interrupted_after_epoch")
        if done is not None:
            return f"interrupted at epoch {done}/{(run.get('config') or {}).get('epochs', '?')}"
    return INTERRUPTED if data.get("status") == INTERRUPTED else None


def promote(run_checkpoint: Path, checkpoint: Path, record: Path, record_text: str) -> None:
    """Replace `checkpoint` with a copy of `run_checkpoint` and `record` with `record_text`, atomically.

    Both are written to temporaries beside their targets and flushed first; only then are both renamed
    (os.replace), with SIGINT/SIGTERM/SIGHUP held back between the renames. A failure of either write or
    rename leaves both old files as they were (a failed second rename puts the old checkpoint back); only a
    SIGKILL or power loss in the microseconds between the renames could leave a new checkpoint beside the
    old record."""
    with _temporary(checkpoint) as tmp_ckpt, _temporary(record) as tmp_record:
        try:
            shutil.copyfile(run_checkpoint, tmp_ckpt)
            tmp_record.write_text(record_text, encoding="utf-8")
            for tmp in (tmp_ckpt, tmp_record):
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            with _sigint_held(), _backup(checkpoint) as previous:
                os.replace(tmp_ckpt, checkpoint)
                try:
                    os.replace(tmp_record, record)
                except OSError:  # e.g. a folder where the record goes: put the old checkpoint back
                    if previous is not None:
                        os.replace(previous, checkpoint)
                    else:
                        checkpoint.unlink(missing_ok=True)
                    raise
        except OSError as exc:
            raise BenchError(f"cannot promote {run_checkpoint.parent} to {checkpoint} and {record}: "
                             f"{exc.strerror or exc} (earlier files left intact)") from exc


@contextlib.contextmanager
def _temporary(target: Path) -> Iterator[Path]:
    """A temporary file beside `target` (same file system, so os.replace is atomic; named as train.fileio
    names its temporaries, so a killed run's are swept), removed on exit if it was not renamed."""
    tmp = temp_beside(Path(target))
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _backup(target: Path) -> Iterator[Path | None]:
    """A hard link to `target`'s current file (None when there is none), so a failed second rename can
    restore it; removed on exit."""
    if not Path(target).is_file():
        yield None
        return
    link = temp_beside(Path(target))
    link.unlink()
    os.link(target, link)
    try:
        yield link
    finally:
        link.unlink(missing_ok=True)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Delay SIGINT, SIGTERM and SIGHUP (delivered when the block ends) where the platform can block them."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        yield
        return
    previous = block(signal.SIG_BLOCK, {signal.SIGINT, *TERMINATING_SIGNALS})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, previous)
