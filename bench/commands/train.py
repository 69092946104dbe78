"""`bench train <dataset>`: train the dataset's reference models with the reports' configs."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import FORMAT
from bench.report.console import err, print_tables
from bench.report.progress import TrainingProgress
from bench.report.render import check_format
from bench.report.synthesis import trained_table
from train.config import as_variants, configs_for, parse_sets
from train.data.paths import DATA_DIR_ENV, default_data_dir
from train.data.registry import dataset_names, get_dataset
from train.runner import RunOptions, TrainingInterrupted, train_models


def train(
    dataset: str = typer.Argument(..., help=f"One of: {', '.join(dataset_names())}."),
    model: list[str] = typer.Option(None, "--model", "-m",
                                    help="Train only this model (repeatable); default: the config's list."),
    epochs: int = typer.Option(None, "--epochs", help="Override the config's epoch count."),
    lr: float = typer.Option(None, "--lr", help="Override the config's learning rate."),
    sets: list[str] = typer.Option(None, "--set",
                                   help="Override any config key, e.g. --set weight_decay=1e-4 "
                                        "--set model_kwargs.hidden=128 (repeatable)."),
    name: str = typer.Option(
        None, "--name",
        help="Train a named variant: <model>@<name> keeps its own checkpoint, record and TensorBoard runs "
             "(bench export/run/accuracy --models <model>@<name>); auto: named from the overrides."),
    seeds: int = typer.Option(1, "--seeds",
                              help="Train N seeds (seed, seed+1, ...) and report mean ± std."),
    data_dir: Path = typer.Option(
        None, "--data-dir", help=f"Dataset directory (default ${DATA_DIR_ENV} or ~/.cache/bench/data)."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", help="Where results are written."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (cuda without a GPU: error)."),
    config: Path = typer.Option(None, "--config", help="A YAML config instead of the packaged one."),
    tensorboard: bool = typer.Option(True, "--tensorboard/--no-tensorboard", help="Write TensorBoard logs."),
    histograms: bool = typer.Option(
        False, "--histograms/--no-histograms",
        help="Log every parameter's weight and gradient histograms to TensorBoard after each epoch."),
    download: bool = typer.Option(True, "--download/--no-download", help="Download missing datasets."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice)."),
    fmt: str = FORMAT,
) -> None:
    """Train, keep the best-validation checkpoint, and print the report's table."""
    overrides = parse_sets(sets or [])
    if epochs is not None:
        overrides["epochs"] = epochs
    if lr is not None:
        overrides["lr"] = lr
    get_dataset(dataset)  # an unknown name is one line listing the valid ones
    check_format(fmt)
    configs = configs_for(dataset, model or None, overrides, config)
    if name is not None:
        configs = as_variants(configs, name, overrides)
    options = RunOptions(
        data_dir=data_dir or default_data_dir(), results_dir=results_dir, device=device, seeds=seeds,
        tensorboard=tensorboard, download=download, threads=threads, histograms=histograms,
    )
    stopped = None
    with TrainingProgress(err) as progress:
        try:
            reports = train_models(configs, options, progress)
        except TrainingInterrupted as exc:  # show what finished (and the partial run, marked), then exit 130
            stopped, reports = exc, exc.reports
    if reports:
        print_tables([trained_table(dataset, reports, results_dir)], fmt)
    if stopped is not None:
        raise stopped
