"""`bench lr-find <model>`: LR range test, loss per log-spaced learning rate."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import (
    DATA_DIR,
    DEVICE,
    DOWNLOAD,
    FORMAT,
    RESULTS_DIR,
    SETS,
    model_config,
    options,
)
from bench.report.console import print_tables
from bench.report.render import check_format
from bench.report.tables import lr_find_table
from train.lr_find import run_lr_find_and_save


def lr_find(
    model: str = typer.Argument(..., help="A registered model, e.g. esc50-cnn."),
    start: float = typer.Option(1e-7, "--start", help="First learning rate."),
    end: float = typer.Option(1.0, "--end", help="Last learning rate."),
    iterations: int = typer.Option(200, "--iterations", help="Steps, one batch each (report 001: 200)."),
    sets: list[str] = SETS,
    data_dir: Path = DATA_DIR,
    results_dir: Path = RESULTS_DIR,
    device: str = DEVICE,
    download: bool = DOWNLOAD,
    fmt: str = FORMAT,
) -> None:
    """Sweep the learning rate over one step per batch; suggest the steepest-descent rate."""
    check_format(fmt)
    cfg = model_config(model, sets)
    result, path = run_lr_find_and_save(cfg, options(data_dir, results_dir, device, download),
                                        start, end, iterations)
    print_tables([lr_find_table(model, result, path)], fmt)
