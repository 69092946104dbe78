"""`bench run --launcher local|slurm`: the matrix in shards, each a job running `bench run` on its models;
finished shards kept in the shard folder, failed ones reported with their log and rows, then merged."""

from __future__ import annotations

import re
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.measure.devices import resolve_device
from bench.records.merge import MachineRuns, merge_runs, merged_paths
from bench.records.reader import RunResults, parse_run
from bench.run.config import RunConfig
from bench.run.launcher import LaunchSettings, make_executor, require_scheduler
from bench.run.runner import RunInterrupted, run_benchmarks
from bench.run.shards import Shard, ShardFolder, plan_shards
from train.fileio import ensure_output_dir, json_text, write_unique

# Slurm states in which a job submitted by an earlier attempt may still finish: wait for it, never
# submit its shard twice.
_ALIVE = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED")
_POLL_S = 1.0


def run_shard(config_values: dict[str, Any], result_path: str) -> dict[str, Any]:
    """What one job runs: `bench run` on the shard's models, its JSON and log moved to `result_path`
    (the log first: the JSON's presence means the shard is done)."""
    started = time.perf_counter()
    config = RunConfig.from_dict(config_values, where="the shard's config")
    outcome = run_benchmarks(config)
    if outcome.json_path is None:
        reasons = sorted({f"{r.runtime}: {r.reason}" for r in outcome.rows if r.reason})
        raise BenchError(f"nothing was timed in this shard ({'; '.join(reasons) or 'no case ran'}); "
                         f"log: {outcome.log_path}")
    target = Path(result_path)
    shutil.move(outcome.log_path, target.with_suffix(".log"))
    shutil.move(outcome.json_path, target)
    return {"json": str(target), "host": socket.gethostname(), "rows": len(outcome.rows),
            "failed_rows": len(outcome.failed), "wall_s": time.perf_counter() - started}


@dataclass(frozen=True)
class ShardFailure:
    """Why a shard has no result: the job's last error line, its log, the rows it would have produced."""

    reason: str
    log: str
    rows: tuple[str, ...]


@dataclass
class ShardedOutcome:
    """A sharded run's state after this attempt."""

    folder: ShardFolder
    shards: list[Shard]
    results: dict[int, RunResults] = field(default_factory=dict)  # shard index -> its run
    failures: dict[int, ShardFailure] = field(default_factory=dict)
    pending: dict[int, str] = field(default_factory=dict)  # shard index -> Slurm job id (--detach)
    job_ids: dict[int, str] = field(default_factory=dict)  # this attempt's submissions
    reused: set[int] = field(default_factory=set)  # shards already done before this attempt
    machines: list[MachineRuns] = field(default_factory=list)
    merged: list[Path] = field(default_factory=list)  # the merged run files written (all shards done)
    wall_s: float = 0.0

    @property
    def complete(self) -> bool:
        return len(self.results) == len(self.shards)


Emit = Callable[[str], None]


def run_sharded(config: RunConfig, settings: LaunchSettings, emit: Emit | None = None) -> ShardedOutcome:
    """Run the shards not yet done (resuming a folder an earlier attempt left), wait for them (unless
    detached), and merge when every shard has its JSON."""
    started = time.perf_counter()
    say = emit or (lambda line: None)
    require_scheduler(settings)  # no sbatch: one line before any folder or job exists
    if settings.launcher == "local":
        resolve_device(config.device)  # the jobs run here: CUDA missing is known now, not per job
    shards = plan_shards(config, settings.models_per_shard)
    folder = ShardFolder.for_run(config, shards, settings.placement())
    outcome = ShardedOutcome(folder, shards)
    todo = []
    for shard in shards:
        result = folder.result(shard)
        if result is None:
            todo.append(shard)
        else:
            outcome.results[shard.index] = result
            outcome.reused.add(shard.index)
    say(f"{len(shards) - len(todo)} of {len(shards)} shard(s) already on file in {folder.path}")
    if todo:
        executor = make_executor(settings, folder.submitit_dir, config.threads)
        _launch(config, settings, executor, folder, todo, outcome, say)
    if outcome.complete:
        outcome.machines = merge_runs([outcome.results[s.index] for s in shards])
        # Nothing new ran: the merged files of the last attempt stand (a rerun writes no copies).
        outcome.merged = (folder.merged_files() if not outcome.job_ids else []) or \
            _write_merged(config, settings, outcome)
        folder.record_merged(outcome.merged)
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _launch(config: RunConfig, settings: LaunchSettings, executor, folder: ShardFolder, todo: list[Shard],
            outcome: ShardedOutcome, say: Emit) -> None:
    """Submit `todo` at most `settings.parallel` at a time and wait for each (Slurm --detach: submit all,
    record, return). Jobs an earlier attempt left alive on Slurm are waited for, not submitted again."""
    queue = list(todo)
    running: dict[int, Any] = {}
    try:
        while queue or running:
            # Detached, every shard is handed to Slurm now: nobody is left waiting to submit the rest.
            while queue and (settings.detach or len(running) < settings.parallel):
                shard = queue.pop(0)
                job = (_alive_job(settings, folder, shard)
                       or _submit(config, settings, executor, folder, shard))
                running[shard.index] = job
                outcome.job_ids[shard.index] = str(job.job_id)
                say(f"{shard.name} ({', '.join(shard.models)}): job {job.job_id}")
            if settings.detach:
                outcome.pending.update({i: str(job.job_id) for i, job in running.items()})
                return
            finished = [i for i, job in running.items() if job.done()]
            for index in finished:
                _collect(running.pop(index), _shard(outcome, index), config, folder, outcome, say)
            if not finished:
                time.sleep(_POLL_S)
    except KeyboardInterrupt as stop:  # Ctrl-C: the shards in flight are cancelled, finished ones kept
        for job in running.values():
            job.cancel(check=False)
        done = len(outcome.results)
        raise RunInterrupted(f"interrupted: {done} of {len(outcome.shards)} shard(s) done, kept in "
                             f"{folder.path}; rerun the same command to run the rest") from stop


def _submit(config: RunConfig, settings: LaunchSettings, executor, folder: ShardFolder, shard: Shard):
    """Submit one shard's job and log it in the folder."""
    job = executor.submit(run_shard, shard.config(config).to_dict(), str(folder.result_path(shard)))
    folder.record_job(shard, str(job.job_id), settings.launcher, job.paths.stdout, job.paths.stderr)
    return job


def _alive_job(settings: LaunchSettings, folder: ShardFolder, shard: Shard):
    """The Slurm job an earlier attempt submitted for `shard` if it may still finish, else None."""
    if settings.launcher != "slurm":
        return None
    submitted = [j for j in folder.jobs() if j["shard"] == shard.name and j["launcher"] == "slurm"]
    if not submitted:
        return None
    import submitit

    job = submitit.SlurmJob(folder=folder.submitit_dir, job_id=submitted[-1]["job_id"])
    try:
        state = job.state
    except Exception:  # noqa: BLE001 - sacct unreachable: the job's fate is unknown, submit again
        return None
    return job if state.split()[0] in _ALIVE else None


def _collect(job, shard: Shard, config: RunConfig, folder: ShardFolder, outcome: ShardedOutcome,
             say: Emit) -> None:
    """A finished job: its shard's result, or why it has none."""
    result = folder.result(shard)
    error = job.exception() if result is None else None
    if result is not None:
        outcome.results[shard.index] = result
        say(f"{shard.name}: done ({len(result.rows)} rows)")
        return
    reason = _last_line(str(error)) if error is not None else "the job ended without writing its JSON"
    log = str(job.paths.stderr) if job.paths.stderr.exists() else \
        f"none (the job died before writing {job.paths.stderr.name})"
    outcome.failures[shard.index] = ShardFailure(reason, log, tuple(shard.cases(config)))
    say(f"{shard.name}: FAILED ({reason}); log: {log}")


def _last_line(text: str) -> str:
    """The error's last informative line (a job's traceback ends with the exception); for a job that left
    no result at all (killed, timed out, lost node), the scheduler's state."""
    died = re.search(r"has not produced any output \(state: ([^)]*)\)", text)
    if died:
        return f"the job ended without a result (state: {died.group(1)}): killed, out of time or memory?"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip().strip("-")]
    for line in reversed(lines):
        if not line.startswith(("File ", "^", "~")):
            return line[:400]
    return "unknown error"


def _shard(outcome: ShardedOutcome, index: int) -> Shard:
    return next(s for s in outcome.shards if s.index == index)


def _write_merged(config: RunConfig, settings: LaunchSettings, outcome: ShardedOutcome) -> list[Path]:
    """Each machine's merged run into <results>/benchmarks/, where report and compare look for runs."""
    target_dir = ensure_output_dir(config.benchmarks_dir)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    paths = merged_paths(target_dir, stamp, config.device.replace(":", ""), len(outcome.machines))
    written = []
    jobs = {j["shard"]: j for j in outcome.folder.jobs()}  # the last submission of each shard
    for machine, path in zip(outcome.machines, paths, strict=True):
        data = dict(machine.merged.data)
        data["bench"] = {**data["bench"], "sharded": {
            "folder": str(outcome.folder.path), "launcher": settings.launcher,
            "placement": settings.placement(), "machine": machine.machine,
            "shards": [{"name": s.name, "models": list(s.models),
                        "job_id": (jobs.get(s.name) or {}).get("job_id"),
                        "log": (jobs.get(s.name) or {}).get("stderr")} for s in outcome.shards]}}
        parse_run(data)  # what is written must read back
        written.append(write_unique(path, json_text(data).encode("utf-8"), siblings=(".log",)))
    return written


def shard_table_rows(outcome: ShardedOutcome) -> list[dict[str, Any]]:
    """One dict per shard for the display: name, models, status, job, host, rows, log."""
    jobs = {j["shard"]: j for j in outcome.folder.jobs()}
    out = []
    for shard in outcome.shards:
        job = jobs.get(shard.name) or {}
        result = outcome.results.get(shard.index)
        failure = outcome.failures.get(shard.index)
        if result is not None:
            status = "on file" if shard.index in outcome.reused else "done"
            host = str((result.data.get("machine_info") or {}).get("node") or "?")
            rows, note = len(result.rows), str(outcome.folder.result_path(shard))
        elif failure is not None:
            status, host, rows = "FAILED", "", 0
            note = f"{failure.reason}; log: {failure.log}; would have produced: {', '.join(failure.rows)}"
        elif shard.index in outcome.pending:
            status, host, rows, note = "submitted", "", 0, "rerun the same command to collect it"
        else:
            status, host, rows, note = "not run", "", 0, ""
        out.append({"shard": shard.name, "models": ", ".join(shard.models), "status": status,
                    "job": outcome.job_ids.get(shard.index) or job.get("job_id") or "", "host": host,
                    "rows": rows, "note": note})
    return out

