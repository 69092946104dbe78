"""`bench doctor`: the GPU check in one command (tests, runs, both precisions), within a time budget."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import FORMAT, MODELS
from bench.report.console import err, print_tables
from bench.report.render import check_format
from bench.report.tables import doctor_table
from bench.run.doctor import DoctorOptions, run_doctor
from bench.run.selection import split_list


def doctor(
    device: str = typer.Option("cuda", "--device", help="The device to check (cuda, or cpu to try it out)."),
    out: Path = typer.Option(Path("results/doctor"), "--out",
                             help="Folder for doctor.json, doctor.log, run JSONs and the tests' JUnit XML."),
    models: str = MODELS,
    budget: float = typer.Option(420.0, "--budget", help="Seconds for the whole check; steps get shares."),
    max_time: float = typer.Option(0.5, "--max-time", help="bench run's seconds of timed rounds per case."),
    tests: bool = typer.Option(True, "--tests/--no-tests", help="Run the cuda-marked tests first."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Check everything but the GPU (imports, paths, options, the tests it "
                                      "would run) and print the plan; runs nothing."),
    fmt: str = FORMAT,
) -> None:
    """Run the cuda-marked tests and `bench run` on the device under both precision policies; exit 1 if a
    step failed, ran out of time or was skipped for want of it."""
    check_format(fmt)
    options = DoctorOptions(device=device, out_dir=out, models=tuple(split_list(models)), budget_s=budget,
                            max_time_s=max_time, tests=tests)

    def show(result) -> None:
        err.print(f"{result.name}: {result.status} in {result.seconds:.1f} s {result.reason}".rstrip(),
                  markup=False, highlight=False)

    results, summary = run_doctor(options, dry_run=dry_run, on_step=show)
    print_tables([doctor_table(results, summary, dry_run)], fmt)
    if any(r.status in ("failed", "timed out", "skipped") for r in results):
        raise typer.Exit(1)  # an incomplete check is not a passed one
