"""`bench merge A.json B.json …`: runs from several machines (or shards) in one view, keyed by machine."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.commands.options import FORMAT, WIDE
from bench.errors import BenchError
from bench.records.merge import merge_runs
from bench.records.reader import read_run
from bench.report.console import err, print_tables
from bench.report.machines import machine_run_tables, machines_table
from bench.report.render import check_format
from train.fileio import create_new, json_text


def merge(
    files: list[Path] = typer.Argument(..., help="Benchmark JSON files (results/benchmarks/*.json), from one "
                                                 "or several machines."),
    output: Path = typer.Option(
        None, "--output", "-o",
        help="Also write the merged rows as a run file that compare and report read: one machine, this "
             "path; several, <stem>_m1.json, <stem>_m2.json, … (never over an existing file)."),
    fmt: str = FORMAT,
    wide: bool = WIDE,
) -> None:
    """Merge runs into one table per machine (CPU model / GPU name) and the machines' environments side by
    side; a row measured twice on one machine, or files with other settings, is an error."""
    check_format(fmt)
    machines = merge_runs([read_run(path) for path in files])
    if output is not None:
        targets = [output] if len(machines) == 1 else [
            output.with_name(f"{output.stem}_m{n}{output.suffix or '.json'}")
            for n in range(1, len(machines) + 1)]
        taken = [str(t) for t in targets if t.exists()]
        if taken:  # before writing any: all or none
            raise BenchError(f"{', '.join(taken)} already exist(s); choose another --output")
        for machine, target in zip(machines, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            if not create_new(target, json_text(machine.merged.data).encode("utf-8")):
                raise BenchError(f"{target} was created meanwhile; choose another --output")
            err.print(f"wrote {target} ({machine.machine}, {len(machine.merged.rows)} rows)",
                      markup=False, highlight=False)
    print_tables([machines_table(machines), *machine_run_tables(machines, wide=wide)], fmt)
