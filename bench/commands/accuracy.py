"""`bench accuracy`: test accuracy of every exported format, re-measured through each runtime."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import DATA_DIR, DOWNLOAD, FORMAT, MODELS, THREADS, data_dir_env
from bench.measure.devices import default_threads
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tables import accuracy_table
from bench.run.accuracy import measure_accuracy
from train.data.paths import default_data_dir


def accuracy(
    models: str = MODELS,
    data_dir: Path = DATA_DIR,
    results_dir: Path = typer.Option(Path("results"), "--results-dir",
                                     help="Checkpoints and exports are read here; accuracy/ is written."),
    fmt: str = FORMAT,
    download: bool = DOWNLOAD,
    threads: int | None = THREADS,
    runtimes: str = typer.Option(
        "", "--runtimes",
        help="Comma-separated runtimes, or all (default: eager, torchscript, onnxruntime, as `bench run`); "
             "eager is always measured: the others are read against it."),
) -> None:
    """Re-measure each trained model's test accuracy through each runtime; save results/accuracy/."""
    check_format(fmt)
    with data_dir_env(data_dir):  # --data-dir for this command and its children, put back after
        outcome = measure_accuracy(
            models, data_dir or default_data_dir(), results_dir, download=download,
            threads=threads if threads is not None else default_threads(), runtimes=runtimes,
            on_model=lambda name: err.print(f"measuring {name} …", markup=False, highlight=False),
        )
        print_tables([accuracy_table(outcome.rows, outcome.json_path)], fmt)
        err.print(f"wrote {outcome.json_path}", markup=False, highlight=False)
