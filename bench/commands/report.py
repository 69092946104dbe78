"""`bench report`: the reports' synthesis tables (and figures) from results/, without re-running anything."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.errors import BenchError
from bench.report.console import err, out
from bench.report.render import FORMATS, check_format, render_text, to_rich
from bench.report.synthesis import DATASETS

CHOICES = (*DATASETS, "all")


def report(
    dataset: str = typer.Option("all", "--dataset", help=f"One of: {', '.join(CHOICES)}."),
    fmt: str = typer.Option("rich", "--format", help=f"One of: {', '.join(FORMATS)}."),
    plots: bool = typer.Option(False, "--plots", help="Also write PNG+SVG figures to <results>/reports/."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", help="Where earlier commands wrote."),
) -> None:
    """Print the synthesis tables from the latest training metrics and benchmark JSON; gaps name a command."""
    from bench.report.synthesis import report_tables

    if dataset not in CHOICES:
        raise BenchError(f"unknown dataset {dataset!r}; choose one of: {', '.join(CHOICES)}")
    check_format(fmt)
    if not results_dir.is_dir():
        raise BenchError(f"no results directory at {results_dir}; run `bench train` or `bench run` first, "
                         "or pass --results-dir")
    tables = report_tables(results_dir, dataset)
    if fmt == "rich":
        for table in tables:
            out.print(to_rich(table))
    else:
        typer.echo(render_text(tables, fmt), nl=False)
    if plots:
        from bench.report.plots import write_report_plots

        outcome = write_report_plots(results_dir, dataset)
        for path in outcome.written:
            err.print(f"wrote {path}", markup=False, highlight=False)
        for reason in outcome.skipped:
            err.print(f"skipped {reason}", markup=False, highlight=False)
