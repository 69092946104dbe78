"""`bench accuracy`: test accuracy of every exported format, re-measured through each runtime."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.measure.devices import default_threads
from bench.report.console import err, out
from bench.report.render import check_format, render_text, to_rich
from bench.run.accuracy import accuracy_table, measure_accuracy
from train.data.paths import DATA_DIR_ENV, default_data_dir


def accuracy(
    models: str = typer.Option("", "--models", help="Comma-separated models (default: all)."),
    data_dir: Path = typer.Option(
        None, "--data-dir", help=f"Dataset directory (default ${DATA_DIR_ENV} or ~/.cache/bench/data)."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir",
                                     help="Checkpoints and exports are read here; accuracy/ is written."),
    fmt: str = typer.Option("rich", "--format", help="rich, markdown, csv or json (the table on stdout)."),
    download: bool = typer.Option(True, "--download/--no-download", help="Download missing datasets."),
    threads: int | None = typer.Option(None, "--threads",
                                       help="CPU threads for every runtime (default: usable cores)."),
) -> None:
    """Re-measure each trained model's test accuracy through every runtime; save results/accuracy/."""
    check_format(fmt)
    outcome = measure_accuracy(
        models, data_dir or default_data_dir(), results_dir, download=download,
        threads=threads if threads is not None else default_threads(),
        on_model=lambda name: err.print(f"measuring {name} …", markup=False, highlight=False),
    )
    table = accuracy_table(outcome.rows, outcome.json_path)
    if fmt == "rich":
        out.print(to_rich(table))
    else:
        typer.echo(render_text([table], fmt), nl=False)
    err.print(f"wrote {outcome.json_path}", markup=False, highlight=False)
