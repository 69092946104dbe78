"""`bench compare A.json B.json`: per-row deltas; exit 1 on a regression past the threshold."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import FORMAT
from bench.records.compare import compare as compare_results
from bench.records.compare import load_results, parse_percent
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tables import comparison_table


def compare(
    before: Path = typer.Argument(..., help="Baseline benchmark JSON (results/benchmarks/*.json)."),
    after: Path = typer.Argument(..., help="Candidate benchmark JSON."),
    fail_above: str = typer.Option("10%", "--fail-above", help="Regression threshold, e.g. 10%."),
    metric: str = typer.Option("p50", "--metric", help="p50, p90, p99, mean or min."),
    fmt: str = FORMAT,
) -> None:
    """Compare two runs row by row; exit code 1 when a matched row is slower than --fail-above."""
    check_format(fmt)
    result = compare_results(load_results(before), load_results(after), metric=metric,
                             threshold_pct=parse_percent(fail_above))
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    print_tables([comparison_table(result)], fmt)
    failed = [r for r in result.rows if r.failed]
    slower = [r for r in result.regressions if not r.failed]
    if slower:
        err.print(f"{len(slower)} row(s) slower than {result.threshold_pct:g} % on {result.metric}",
                  markup=False)
    if failed:
        err.print(f"{len(failed)} row(s) failed in {after} (e.g. parity)", markup=False, highlight=False)
    if result.regressions:
        raise typer.Exit(1)
