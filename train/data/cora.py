"""Cora through PyG's Planetoid (public split 140 / 500 / 1000), read from `<data-dir>/cora/raw/`."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from torch_geometric.data import Data

from train.data.paths import corrupt, download_failed, ensure_writable, missing
from train.fileio import write_bytes

RAW_NAMES = tuple(f"ind.cora.{part}"
                  for part in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"))
LAYOUT = "<data-dir>/cora/raw/ind.cora.{x,tx,allx,y,ty,ally,graph,test.index}"
NUM_NODES, NUM_EDGES, NUM_FEATURES, NUM_CLASSES = 2708, 10556, 1433, 7
SPLIT_SIZES = (140, 500, 1000)


def _has_all(directory: Path) -> bool:
    """True when every Planetoid raw file of Cora is in `directory`."""
    return all((directory / name).is_file() for name in RAW_NAMES)


def _stage_raw(src: Path, dst: Path) -> None:
    """Copy the raw files where Planetoid reads them (`<root>/Cora/raw`); the source stays untouched."""
    for name in RAW_NAMES:
        if not (dst / name).is_file():
            write_bytes(dst / name, (src / name).read_bytes())


def load_cora(data_dir: Path, download: bool = True) -> Data:
    """Cora as one `Data` graph with row-normalised features and the public train/val/test masks."""
    from torch_geometric.datasets import Planetoid
    from torch_geometric.transforms import NormalizeFeatures

    src = data_dir / "cora" / "raw"
    work = data_dir / "cora" / "pyg"  # Planetoid's root: it reads work/Cora/raw, writes work/Cora/processed
    raw = work / "Cora" / "raw"
    if _has_all(src):
        ensure_writable(work, "Cora")
        _stage_raw(src, raw)
    had_raw = _has_all(raw)
    if not had_raw and not download:
        raise missing("Cora", LAYOUT, data_dir)
    ensure_writable(work, "Cora")
    try:
        with _pyg_progress_silenced():
            # NormalizeFeatures (rows sum to 1) as in PyG's GCN example; the report does not say.
            dataset = Planetoid(str(work), "Cora", split="public", transform=NormalizeFeatures())
            data = dataset[0]
    except Exception as exc:  # PyG raises URLError, pickle, index and value errors alike
        if not had_raw:
            raise download_failed("Cora", LAYOUT, data_dir, exc) from exc
        raise corrupt("Cora", raw, exc) from exc
    _check(data, raw)
    return data


# What PyG prints while it downloads and processes a dataset the first time: progress, not news.
_PYG_PROGRESS = ("Processing...", "Done!", "Downloading ")


@contextlib.contextmanager
def _pyg_progress_silenced():
    """Keep PyG's progress lines ('Processing...', 'Done!', 'Downloading <url>') out of bench's output,
    which tables and pipes read; anything else it prints (a warning, an error) still reaches stderr."""
    caught = io.StringIO()
    try:
        with contextlib.redirect_stdout(caught), contextlib.redirect_stderr(caught):
            yield
    finally:
        kept = [line for line in caught.getvalue().splitlines() if line.strip()
                and not line.strip().startswith(_PYG_PROGRESS)]
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")


def _check(data: Data, where: Path) -> None:
    """Refuse a graph whose sizes differ from the real Cora (a truncated or foreign raw file)."""
    sizes = (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum()))
    got = (data.num_nodes, data.num_edges, data.num_node_features)
    if got != (NUM_NODES, NUM_EDGES, NUM_FEATURES) or sizes != SPLIT_SIZES:
        raise corrupt("Cora", where, f"got nodes/edges/features {got} and split {sizes}, expected "
                      f"{(NUM_NODES, NUM_EDGES, NUM_FEATURES)} and {SPLIT_SIZES}")
