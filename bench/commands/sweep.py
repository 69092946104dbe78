"""`bench sweep <model> --grid lr=... --grid wd=...`: grid search selected by validation accuracy."""

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
from bench.report.console import err, print_tables
from bench.report.progress import TrainingProgress
from bench.report.render import check_format
from bench.report.tables import sweep_table
from train.sweep import parse_grid, run_sweep


def sweep(
    model: str = typer.Argument(..., help="A registered model, e.g. esc50-cnn."),
    grid: list[str] = typer.Option(..., "--grid", help="key=v1,v2 (wd, channels, kernel_size, blocks, width "
                                                        "are short for their config keys); repeatable."),
    epochs: int = typer.Option(3, "--epochs",
                               help="Epochs per grid point (reports: 3 for ESC-50, 5 for CIFAR-100)."),
    sets: list[str] = SETS,
    data_dir: Path = DATA_DIR,
    results_dir: Path = RESULTS_DIR,
    device: str = DEVICE,
    download: bool = DOWNLOAD,
    tensorboard: bool = typer.Option(True, "--tensorboard/--no-tensorboard", help="Write TensorBoard logs."),
    fmt: str = FORMAT,
) -> None:
    """Train every grid combination briefly (no checkpoints) and rank by validation accuracy."""
    check_format(fmt)
    cfg = model_config(model, sets, epochs=epochs)
    parsed = parse_grid(grid)
    with TrainingProgress(err) as progress:
        run = options(data_dir, results_dir, device, download, tensorboard=tensorboard)
        result = run_sweep(cfg, parsed, run, progress)
    print_tables([sweep_table(result)], fmt)
