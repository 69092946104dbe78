"""Grid search (reports 001 and 004): every combination of the grid, short runs, selection by val accuracy."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from train.config import TrainConfig, build_config, merge
from train.data.registry import load_data
from train.device import resolve_device
from train.errors import BenchError
from train.fileio import write_json
from train.runner import Observer, RunOptions, SilentObserver, train_seed

# Short names the reports use, for --grid.
ALIASES = {"wd": "weight_decay", "bs": "batch_size", "channels": "model_kwargs.channels",
           "kernel_size": "model_kwargs.kernel_size", "blocks": "model_kwargs.blocks",
           "width": "model_kwargs.width"}


@dataclass
class SweepRow:
    """One grid point: its values and the validation metrics of its run."""

    name: str
    values: dict[str, Any]
    val_acc: float
    val_f1: float
    val_loss: float
    best_epoch: int
    total_train_time_s: float
    # per epoch: epoch, train_loss, val_loss, val_acc (the grid-search overlay figure)
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class SweepResult:
    """Every grid point, best first by val accuracy, and where the JSON went."""

    model: str
    keys: list[str]
    rows: list[SweepRow]
    path: Path | None

    @property
    def best(self) -> SweepRow:
        """The grid point with the highest val accuracy."""
        return self.rows[0]


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """`key=v1,v2` or `key=[v1, v2]` (YAML, for list values: `channels=[[32,64,128],[48,96,192]]`)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep or not key or not raw.strip():
            raise BenchError(f"--grid expects key=v1,v2,..., got {item!r}")
        raw = raw.strip()
        try:
            values = yaml.safe_load(raw if raw.startswith("[") else f"[{raw}]")
        except yaml.YAMLError:
            raise BenchError(f"--grid {item!r}: values must be comma-separated or a YAML list") from None
        if not isinstance(values, list) or not values:
            raise BenchError(f"--grid {item!r}: no values")
        grid[key] = values
    if not grid:
        raise BenchError("give at least one --grid key=v1,v2")
    return grid


def _label(value: Any) -> str:
    """Compact text for a grid value: 0.01, 1e-05, [32,64,128]."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_label(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _value_of(cfg: TrainConfig, key: str) -> Any:
    """The config's value for a grid key (dotted keys read model_kwargs); tuples as lists for JSON."""
    top, _, sub = key.partition(".")
    value = cfg.model_kwargs.get(sub) if sub else getattr(cfg, top)
    return list(value) if isinstance(value, tuple) else value


def grid_configs(base: TrainConfig,
                 grid: dict[str, list[Any]]) -> list[tuple[str, dict[str, Any], TrainConfig]]:
    """(run name, grid values, config) for every combination, validated before anything trains."""
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        raw = dict(zip(keys, combo, strict=True))
        cfg = build_config(merge(dataclasses.asdict(base), raw, f"--grid {raw}"), "--grid")
        values = {k: _value_of(cfg, k) for k in keys}  # typed: '5e-5' from YAML becomes 5e-05
        name = ",".join(f"{k.removeprefix('model_kwargs.')}={_label(v)}" for k, v in values.items())
        out.append((name, values, cfg))
    return out


def run_sweep(base: TrainConfig, grid: dict[str, list[Any]], options: RunOptions,
              observer: Observer | None = None) -> SweepResult:
    """Train every grid point once (seed `base.seed`), no checkpoints; JSON under results/sweeps/."""
    observer = observer or SilentObserver()
    if any(k in grid for k in ("val_fraction", "split_seed", "augment", "train_subset", "eval_subset")):
        raise BenchError("--grid cannot vary data settings (val_fraction, split_seed, augment, subsets)")
    points = grid_configs(base, grid)
    device = resolve_device(options.device)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    data = load_data(base, options.data_dir, options.download)  # loaded once: the grid never changes it
    rows = []
    results = Path(options.results_dir)
    for name, values, cfg in points:
        run_dir = results / "runs" / cfg.dataset / cfg.model / f"sweep-{stamp}" / name \
            if options.tensorboard else None
        run = train_seed(cfg, data, options, device, run_dir, observer)
        m = run.metrics
        curve = [{k: h[k] for k in ("epoch", "train_loss", "val_loss", "val_acc")} for h in run.history]
        rows.append(SweepRow(name, values, m["val_acc"], m["val_f1"], m["val_loss"], m["best_epoch"],
                             m["total_train_time_s"], curve))
    rows.sort(key=lambda r: -r.val_acc)  # stable: the earlier grid point wins ties
    path = None
    if options.save:
        path = write_json(results / "sweeps" / f"{base.model}-{stamp}.json", {
            "model": base.model, "dataset": base.dataset, "base_config": base.to_dict(),
            "grid": grid, "selected_by": "val_acc", "rows": [dataclasses.asdict(r) for r in rows],
        })
    return SweepResult(base.model, list(grid), rows, path)
