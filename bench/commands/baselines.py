"""`bench baselines <dataset>`: majority-class and uniform-random accuracy on the test split."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import DATA_DIR, DOWNLOAD, FORMAT, RESULTS_DIR, SETS, options, save_result
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tables import baselines_table
from train.config import configs_for, parse_sets
from train.data.registry import dataset_names
from train.registry import get_model
from train.sanity import dataset_baselines


def baselines(
    dataset: str = typer.Argument(..., help=f"One of: {', '.join(dataset_names())}."),
    sets: list[str] = SETS,
    data_dir: Path = DATA_DIR,
    results_dir: Path = RESULTS_DIR,
    download: bool = DOWNLOAD,
    fmt: str = FORMAT,
) -> None:
    """What a model must beat: always the majority train class, or a uniform random guess."""
    check_format(fmt)
    cfg = configs_for(dataset, sets=parse_sets(sets or []))[0]
    result = dataset_baselines(cfg, options(data_dir, results_dir, "cpu", download),
                               get_model(cfg.model).num_classes)
    print_tables([baselines_table(dataset, result)], fmt)
    saved = save_result(results_dir / "baselines" / f"{dataset}.json", result, cfg)
    err.print(f"wrote {saved}", markup=False, highlight=False)
