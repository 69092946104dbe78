"""`bench run --launcher …`: drive a sharded run and show its shards and merged tables."""

from __future__ import annotations

import typer

from bench.measure.contention import CONTENDED_SHARE
from bench.report.console import err, print_tables
from bench.report.machines import machine_run_tables, machines_table, shards_table
from bench.report.tensorboard import log_benchmark
from bench.run.config import RunConfig
from bench.run.launcher import LaunchSettings
from bench.run.sharded import run_sharded, shard_table_rows

SCALE_OUT = "Scale-out (submitit)"


def run_in_shards(config: RunConfig, settings: LaunchSettings, *, fmt: str, wide: bool,
                  tensorboard: bool) -> None:
    """Run or resume the sharded matrix; exit 1 when a shard failed, 0 when all are done or submitted."""
    outcome = run_sharded(config, settings, emit=lambda line: err.print(line, markup=False, highlight=False))
    tables = [shards_table(shard_table_rows(outcome), str(outcome.folder.path))]
    if len(outcome.machines) > 1:
        tables.append(machines_table(outcome.machines))
    tables += machine_run_tables(outcome.machines, wide=wide)
    print_tables(tables, fmt)
    for path in outcome.merged:
        err.print(f"wrote {path} (merged from {len(outcome.shards)} shard(s)) in {outcome.wall_s:.1f} s",
                  markup=False, highlight=False)
        if tensorboard:
            logged = log_benchmark(path, config.results_dir / "runs" / "bench")
            err.print(f"TensorBoard: {logged}", markup=False, highlight=False)
    shares = [r.data["bench"].get("foreign_cpu_share") for m in outcome.machines for r in m.runs]
    worst = max((s for s in shares if isinstance(s, (int, float))), default=0.0)
    if worst > CONTENDED_SHARE:
        err.print(f"warning: other processes used up to {worst:.0%} of the CPUs while a shard was timing; "
                  "those numbers are contended (multi-threaded ones most)", markup=False, highlight=False)
    if outcome.pending:
        err.print(f"{len(outcome.pending)} job(s) submitted; rerun the same command to collect them",
                  markup=False, highlight=False)
    if outcome.failures:
        err.print(f"{len(outcome.failures)} shard(s) failed (their logs are in the table); rerun the same "
                  "command to submit only them again", markup=False, highlight=False)
        raise typer.Exit(1)
