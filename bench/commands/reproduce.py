"""`bench reproduce <report>`: run a report's experiment list (resumable), then print its tables."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import DATA_DIR, DEVICE, FORMAT, RESULTS_DIR
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tabular import Column, Row, TableData
from bench.run.reproduce import REPORTS, Report, adjusted, get_report, only, run_report


def reproduce(
    report: str = typer.Argument(..., help=f"One of: {', '.join(REPORTS)} (or its number, 000-004)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="List the commands, which are done and an estimate; run nothing."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the report's figures (PNG+SVG)."),
    epochs: int = typer.Option(None, "--epochs",
                               help="A quicker pass: every training and grid point at this many epochs (the "
                                    "report's own runs stay to do)."),
    sets: list[str] = typer.Option(None, "--set", help="key=value added to every command, e.g. "
                                                       "--set train_subset=1024 (repeatable)."),
    numbers: str = typer.Option(None, "--only", help="Just these experiments, by number (--dry-run lists "
                                                     "them), e.g. --only 1,3."),
    tensorboard: bool = typer.Option(True, "--tensorboard/--no-tensorboard",
                                     help="TensorBoard logs of every training and grid point."),
    data_dir: Path = DATA_DIR,
    results_dir: Path = RESULTS_DIR,
    device: str = DEVICE,
    fmt: str = FORMAT,
) -> None:
    """Run every experiment of a report not yet on file, in order (each a named variant, none overwriting
    another), then print the report's tables; interrupted or failed, a rerun resumes."""
    check_format(fmt)
    plan = adjusted(only(get_report(report), numbers), epochs, tuple(sets or ()), tensorboard)
    if dry_run:
        print_tables([plan_table(plan, results_dir)], fmt)
        return

    def started(index: int, experiment) -> None:
        err.print(f"[{index}/{len(plan.experiments)}] {experiment.title}: {experiment.command()}",
                  markup=False, highlight=False)

    outcomes, log = run_report(plan, data_dir=data_dir, results_dir=results_dir, device=device,
                               on_start=started)
    ran = [o for o in outcomes if o.status == "ran"]
    err.print(f"{len(ran)} experiment(s) run in {sum(o.seconds for o in ran):.0f} s, "
              f"{len(outcomes) - len(ran)} already on file; log: {log}", markup=False, highlight=False)
    from bench.report.synthesis import report_tables

    print_tables(report_tables(results_dir, plan.dataset), fmt)
    if plots:
        from bench.report.plots import write_report_plots
        from train.data.paths import default_data_dir

        drawn = write_report_plots(results_dir, plan.dataset, data_dir=data_dir or default_data_dir())
        for path in drawn.written:
            err.print(f"wrote {path}", markup=False, highlight=False)
        for reason in drawn.skipped:
            err.print(f"skipped {reason}", markup=False, highlight=False)


def plan_table(plan: Report, results_dir: Path) -> TableData:
    """The report's experiments: done (on file) or to run, an estimate from earlier runs, the command."""
    columns = (Column("#"), Column("experiment", align="left"), Column("status", align="left"),
               Column("estimate s", ",.0f"), Column("command", align="left"))
    rows, total, unknown = [], 0.0, 0
    for index, experiment in enumerate(plan.experiments, 1):
        done = experiment.done(results_dir)
        estimate = None if done else experiment.estimate_s(results_dir)
        if not done:
            total += estimate or 0.0
            unknown += estimate is None
        status = "done" if done else "to run"
        rows.append(Row((index, experiment.title, status, estimate, experiment.command())))
    to_run = sum(1 for row in rows if row.cells[2] == "to run")
    missing = f"; {unknown} without an estimate (no earlier run of their model on file)" if unknown else ""
    notes = [f"{to_run} of {len(rows)} to run; estimated {total:,.0f} s for {to_run - unknown} of them from "
             "earlier runs of the same model here (loop wall time per epoch × epochs × seeds × grid points)"
             + missing,
             "each runs with --results-dir, --device and --data-dir added; done = its record (the planned "
             "epochs and seeds, complete), LR-finder curve or sweep of that grid is on file"]
    return TableData(f"reproduce.{plan.key}", f"Report {plan.number}: {plan.title}", columns, tuple(rows),
                     tuple(notes))
