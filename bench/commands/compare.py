"""`bench compare A.json B.json`: per-row deltas and the CI gate: exit 1 when it fails, with one line per
reason (and the flag that lets it pass, where there is one)."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import FORMAT
from bench.records.compare import GatePolicy, load_results, parse_percent
from bench.records.compare import compare as compare_results
from bench.report.comparison import comparison_table
from bench.report.console import err, print_tables
from bench.report.render import check_format


def compare(
    before: Path = typer.Argument(..., help="Baseline benchmark JSON (results/benchmarks/*.json)."),
    after: Path = typer.Argument(..., help="Candidate benchmark JSON."),
    fail_above: str = typer.Option("10%", "--fail-above", help="Regression threshold, e.g. 10%."),
    metric: str = typer.Option("p50", "--metric", help="p50, p90, p99, mean or min."),
    strict: bool = typer.Option(False, "--strict", help="A significant slowdown fails even on an unstable "
                                "row or in a contended run."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Pass although rows of BEFORE are not "
                                       "measured in AFTER."),
    allow_no_figure: bool = typer.Option(False, "--allow-no-figure", help="Pass although matched rows have "
                                         "no valid figure (NaN, absent, too few rounds for the metric)."),
    allow_interrupted: bool = typer.Option(False, "--allow-interrupted", help="Pass although AFTER was "
                                           "interrupted (Ctrl-C)."),
    show_unmatched: bool = typer.Option(False, "--show-unmatched", help="List rows found in one file only "
                                        "(default: counted in a note)."),
    fmt: str = FORMAT,
) -> None:
    """Compare two runs row by row; exit 1 when a matched row is significantly slower than --fail-above, a
    row failed, or rows, figures or the whole run are missing from AFTER."""
    check_format(fmt)
    threshold = parse_percent(fail_above)  # before reading the files: a bad threshold is the first error
    policy = GatePolicy(strict=strict, allow_missing=allow_missing, allow_no_figure=allow_no_figure,
                        allow_interrupted=allow_interrupted)
    result = compare_results(load_results(before), load_results(after), metric=metric,
                             threshold_pct=threshold, policy=policy)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    print_tables([comparison_table(result, show_unmatched=show_unmatched)], fmt)
    for failure in result.failures:
        err.print(f"fail: {failure}", markup=False, highlight=False, soft_wrap=True)
    compared = sum(1 for r in result.rows if r.delta_pct is not None)
    verdict = "passed" if result.passed else "FAILED"
    err.print(f"compare: {verdict}: {compared} row(s) compared on {result.metric}, threshold "
              f"+{result.threshold_pct:g} %", markup=False, highlight=False, soft_wrap=True)
    if not result.passed:
        raise typer.Exit(1)
