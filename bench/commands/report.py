"""`bench report`: the reports' synthesis tables (and figures) from results/, without re-running anything."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import COMPACT_HINT, FORMAT, RESULTS_DIR, WIDE, WIDE_HINT
from bench.errors import BenchError
from bench.report.console import err, print_tables
from bench.report.render import check_format
from train.data.registry import dataset_names


def report(
    dataset: str = typer.Option("all", "--dataset", help=f"One of: {', '.join((*dataset_names(), 'all'))}."),
    fmt: str = FORMAT,
    wide: bool = WIDE,
    plots: bool = typer.Option(False, "--plots", help="Also write PNG+SVG figures to <results>/reports/."),
    results_dir: Path = RESULTS_DIR,
    data_dir: Path = typer.Option(None, "--data-dir", help="Where --plots finds ESC-50 for its class "
                                  "distribution and log-mel figures (default $BENCH_DATA_DIR or "
                                  "~/.cache/bench/data)."),
    runs: list[Path] | None = typer.Option(
        None, "--run", help="A benchmark JSON to report (repeat for several): exactly these runs, "
        "interrupted ones too; a case in several comes from the newest. Default: each case's newest complete "
        "run, never an interrupted one."),
) -> None:
    """Print the synthesis tables from the latest training metrics and benchmark JSON; gaps name a command."""
    from bench.report.synthesis import report_tables

    choices = (*dataset_names(), "all")
    if dataset not in choices:
        raise BenchError(f"unknown dataset {dataset!r}; choose one of: {', '.join(choices)}")
    check_format(fmt)
    if not results_dir.is_dir():
        raise BenchError(f"no results directory at {results_dir}; run `bench train` or `bench run` first, "
                         "or pass --results-dir")
    tables = report_tables(results_dir, dataset, wide=wide, runs=runs or None)
    print_tables(tables, fmt, hint=WIDE_HINT if wide else COMPACT_HINT)
    if plots:
        from bench.report.plots import write_report_plots
        from train.data.paths import default_data_dir

        outcome = write_report_plots(results_dir, dataset, runs=runs or None,
                                     data_dir=data_dir or default_data_dir())
        for path in outcome.written:
            err.print(f"wrote {path}", markup=False, highlight=False)
        for reason in outcome.skipped:
            err.print(f"skipped {reason}", markup=False, highlight=False)
