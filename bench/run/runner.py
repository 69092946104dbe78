"""`bench run`: validate, export what is missing, run the suites in a subprocess, keep the JSON."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import BenchError
from bench.measure.contention import foreign_share, snapshot
from bench.measure.devices import resolve_device
from bench.records.reader import parse_run
from bench.records.schema import SCHEMA_VERSION, ResultRow, row_key
from bench.run.artifacts import CheckpointError, ensure_exported
from bench.run.config import PROGRESS_ENV, RunConfig
from train.fileio import create_new, ensure_output_dir, json_text, sweep_stale_temps, write_unique
from train.processes import child_env, environment_variable, interrupt_exit_code, interrupt_name, pid_alive
from train.registry import get_model

INTERRUPT_GRACE_S = 60.0  # after Ctrl-C, how long pytest may take to finish and write the JSON
_POLL_S = 0.2  # how often the progress file is re-read while the suites run
INDUCTOR_CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"
_SCRATCH = re.compile(r"^\.run-(\d+)-")  # a run's scratch folder in benchmarks/: `.run-<pid>-<random>`


@dataclass(frozen=True)
class RunEvent:
    """A progress step for the display: exporting a model, cases collected, a case finished."""

    kind: str  # "export" | "exported" | "collected" | "finished"
    subject: str  # model name, or the finished case's id
    total: int | None = None  # for "export": models to export; for "collected": cases to run
    status: str = ""  # for "finished": passed | skipped | failed; for "exported": failed formats
    note: str = ""  # for "exported": what the export found and did (e.g. replaced foreign code)


@dataclass(frozen=True)
class RunOutcome:
    """Where the results went and what they say."""

    json_path: Path | None  # None when nothing was timed (every case skipped or failed)
    log_path: Path
    rows: list[ResultRow]
    wall_s: float
    foreign_cpu_share: float  # 0-1: CPU other processes took while the suites ran (measure.contention)
    # export format -> why it cannot be made on this machine (a tool missing): its rows were skipped, the
    # others ran, and `bench run` exits 2 naming what to install
    unexportable: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[ResultRow]:
        return [r for r in self.rows if r.status == "failed"]


OnEvent = Callable[[RunEvent], None]


class RunInterrupted(BenchError):
    """Ctrl-C (exit 130), SIGTERM (143) or SIGHUP (129) during `bench run`: the finished rows were kept (the
    message says where)."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_benchmarks(config: RunConfig, on_event: OnEvent | None = None) -> RunOutcome:
    """Export what is missing, time every case in a pytest subprocess, save its JSON; rows for the table."""
    started = time.perf_counter()
    emit = on_event or (lambda event: None)
    resolve_device(config.device)  # CUDA missing is an error before any export or subprocess
    for folder in (config.benchmarks_dir, config.exports_dir):
        ensure_output_dir(folder)  # an unwritable results folder fails now, not after the timing work
    sweep_leftovers(config.results_dir)
    # Absolute: the suite runs inside this folder, where a relative --results-dir would point elsewhere.
    scratch_parent = config.benchmarks_dir.resolve()
    with tempfile.TemporaryDirectory(prefix=f".run-{os.getpid()}-", dir=scratch_parent) as tmp:
        tmp_dir = Path(tmp)
        # Exports (AOTInductor) and the suite (torch.compile) each compile cold, in caches of their own.
        with compiler_cache(tmp_dir / "inductor-export"):
            failed_exports = export_missing(config, emit)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        # The name is claimed when the files are written (exclusively): runs started in the same second
        # each get their own, `_2`, `_3`, …
        base = config.benchmarks_dir / f"{stamp}_{config.device.replace(':', '')}"
        json_tmp, log_tmp, progress = tmp_dir / "benchmark.json", tmp_dir / "pytest.log", tmp_dir / "progress"
        # The suite gets the config whole; exports were just made, so it must not export again, and the
        # models whose export failed fail their rows with the reason.
        suite_config = replace(config, reuse_exports=True, failed_exports=failed_exports)
        config_file = suite_config.write(tmp_dir / "run_config.json")
        before = snapshot()
        try:
            command = pytest_command(config, json_tmp, config_file)
            with compiler_cache(tmp_dir / "inductor-run"):
                returncode = _run_suites(command, log_tmp, progress, tmp_dir, emit)
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM/SIGHUP (train.processes.Terminated)
            share = foreign_share(before, snapshot())  # recorded for an interrupted run too
            raise _keep_finished_rows(json_tmp, progress, base, _read_log(log_tmp), stop, share) from None
        contention = foreign_share(before, snapshot())
        log_text = _read_log(log_tmp)
        outcomes = _finished_cases(progress)
        if returncode not in (0, 1) or not outcomes:
            log_target = _save_log(base, log_text)
            tail = " | ".join(line.strip() for line in log_text.strip().splitlines()[-3:])
            raise BenchError(f"the benchmark suites stopped ({_exit_text(returncode)}): "
                             f"{tail or 'no output'} (log: {log_target})")
        raw = json_tmp.read_bytes() if json_tmp.exists() else None
    log_target = _save_log(base, log_text)
    if raw is None:
        # pytest-benchmark writes no JSON when nothing was timed (every case skipped or failed).
        empty = {"benchmarks": [], "bench": {"schema_version": SCHEMA_VERSION, "outcomes": outcomes}}
        rows = list(parse_run(empty).rows)
        return RunOutcome(None, log_target, rows, time.perf_counter() - started, contention,
                          unexportable_formats(config, rows))
    data = json.loads(raw)
    data.setdefault("bench", {})["foreign_cpu_share"] = round(contention, 4)
    target = _save_json(log_target, data)
    rows = list(parse_run(data, target).rows)
    return RunOutcome(target, log_target, rows, time.perf_counter() - started, contention,
                      unexportable_formats(config, rows))


@contextlib.contextmanager
def compiler_cache(folder: Path) -> Iterator[None]:
    """Point TorchInductor's on-disk cache at `folder` (in this run's scratch) while the block runs (the suite
    child inherits it), unless the user set TORCHINDUCTOR_CACHE_DIR: a cache left by an earlier run would
    make AOTInductor's export and torch.compile's compile times those of a warm cache, which a fresh
    deployment does not have. Within the run the cache is shared (the memory workers reuse it)."""
    if _users_inductor_cache():
        yield
        return
    with environment_variable(INDUCTOR_CACHE_ENV, str(folder)):
        yield


def _users_inductor_cache() -> bool:
    """Whether TORCHINDUCTOR_CACHE_DIR is the user's: importing torch._inductor sets it to its default
    (/tmp/torchinductor_<user>) in this process, which is not a choice anyone made."""
    value = os.environ.get(INDUCTOR_CACHE_ENV)
    if not value:
        return False
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    return os.path.abspath(value) != os.path.abspath(default_cache_dir())


def _exit_text(returncode: int) -> str:
    """'pytest exit 3', or 'pytest killed by SIGSEGV' for a death by signal (which leaves no output)."""
    if returncode < 0:
        try:
            return f"pytest killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"pytest killed by signal {-returncode}"
    return f"pytest exit {returncode}"


def _read_log(log_tmp: Path) -> str:
    """The suite's output so far ('' when it wrote none)."""
    return log_tmp.read_text(errors="replace") if log_tmp.exists() else ""


def _save_log(base: Path, text: str) -> Path:
    """Claim `<base>.log` (or `<base>_2.log`, … where that name or its JSON is taken) and write `text`."""
    return write_unique(base.with_suffix(".log"), text.encode("utf-8"), siblings=(".json",))


def _save_json(log_path: Path, data: dict) -> Path:
    """Write the run's JSON beside its log, under the name the log claimed; never over another file."""
    target = log_path.with_suffix(".json")
    if create_new(target, json_text(data).encode("utf-8")):
        return target
    # Only a writer that ignores the claim (another tool) can have taken it: keep both, under a new name.
    return write_unique(target, json_text(data).encode("utf-8"), siblings=(".log",))


def sweep_leftovers(results_dir: Path) -> None:
    """Remove what killed runs left: atomic writes' temporary files and suite scratch folders whose
    process is gone (a SIGKILL skips every clean-up; a live run's files are never touched)."""
    sweep_stale_temps(results_dir)
    folder = Path(results_dir) / "benchmarks"
    for scratch in folder.glob(".run-*") if folder.is_dir() else []:
        match = _SCRATCH.match(scratch.name)
        if match and scratch.is_dir() and not pid_alive(int(match.group(1))):
            shutil.rmtree(scratch, ignore_errors=True)


def _keep_finished_rows(json_tmp: Path, progress: Path, base: Path, log_text: str, stop: BaseException,
                        contention: float) -> RunInterrupted:
    """After Ctrl-C/SIGTERM/SIGHUP: save the rows that finished (pytest wrote the JSON at session end)."""
    what, code = interrupt_name(stop), interrupt_exit_code(stop)
    log_target = _save_log(base, log_text)
    outcomes = _finished_cases(progress)
    done = {row_key(o) for o in outcomes if o["status"] == "passed"}
    try:
        data = json.loads(json_tmp.read_bytes()) if json_tmp.exists() else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return RunInterrupted(f"interrupted ({what}): {len(outcomes)} case(s) had finished but pytest wrote "
                              f"no JSON, so no results were saved (log: {log_target})", code)
    # The case running at the interrupt may have left partial timings: keep only the cases that finished.
    data["benchmarks"] = [b for b in data.get("benchmarks", []) if _finished(b, done)]
    data.setdefault("bench", {}).update(interrupted=True, interrupted_by=what,
                                        foreign_cpu_share=round(contention, 4))
    target = _save_json(log_target, data)
    return RunInterrupted(f"interrupted ({what}): kept the {len(data['benchmarks'])} finished row(s) in "
                          f"{target} (log: {log_target})", code)


def _finished(benchmark: dict, done: set) -> bool:
    """Whether a pytest-benchmark entry is one of the cases that finished."""
    try:
        return row_key(benchmark.get("extra_info") or {}) in done
    except (KeyError, TypeError, ValueError):
        return False


def unexportable_formats(config: RunConfig, rows: list[ResultRow]) -> dict[str, str]:
    """The formats this run needed that cannot be made here, with why (e.g. no C++ compiler): those whose
    rows were skipped (an artifact made elsewhere still runs, and needs no tool)."""
    from bench.runtimes import get_runtime
    from export.formats import get_format

    skipped = {get_runtime(r.runtime).export_format for r in rows if r.status == "skipped"}
    reasons = {fmt: get_format(fmt).unavailable_reason() for fmt in config.export_formats if fmt in skipped}
    return {fmt: reason for fmt, reason in reasons.items() if reason}


def export_missing(config: RunConfig, emit: OnEvent) -> dict[str, str]:
    """Export each model whose artifacts are missing or stale (trained checkpoint if one exists); model ->
    why it could not be exported (a corrupt checkpoint fails that model's rows, not the run)."""
    failed: dict[str, str] = {}
    for name in config.models:
        emit(RunEvent("export", name, total=len(config.models)))
        try:
            artifacts = ensure_exported(get_model(name), config.exports_dir, config.checkpoints_dir,
                                        config.seed, formats=config.export_formats or None)
        except CheckpointError as exc:  # anything else (an unwritable folder) still stops the run: exit 2
            failed[name] = str(exc)
            emit(RunEvent("exported", name, status="all formats"))
            continue
        failed_formats = sorted(set(artifacts.failed) & set(config.export_formats))  # of those it needs
        emit(RunEvent("exported", name, status=", ".join(failed_formats), note=artifacts.note))
    return failed


def pytest_command(config: RunConfig, json_path: Path, config_file: Path) -> list[str]:
    """The pytest-benchmark invocation for `config`, saved at `config_file` (absolute paths: it runs in a
    scratch directory). pytest-benchmark's own options come from the same config."""
    return [
        # No --benchmark-only: the paired test times with its own clock, not the benchmark fixture.
        sys.executable, "-m", "pytest", str(suites_dir()), f"--benchmark-json={json_path}",
        # pytest-benchmark's warm-up after the suite's own (measure.harness): its calibration calls untimed.
        f"--benchmark-warmup={'on' if config.warmup else 'off'}",
        f"--benchmark-warmup-iterations={max(config.warmup, 1)}",
        f"--benchmark-max-time={config.max_time_s}", f"--benchmark-min-rounds={config.min_rounds}",
        "--benchmark-disable-gc",  # a GC pause inside one round is noise, not the runtime's cost
        "--benchmark-save-data",  # keep every round's time (stats.data): the percentiles come from them
        f"--bench-config={Path(config_file).resolve()}",
        "-p", "no:cacheprovider", "-q", "-rs",
    ]


def suites_dir() -> Path:
    """The `suites` package directory: installed beside `bench` (site-packages, or the source checkout)."""
    spec = importlib.util.find_spec("suites")
    if spec is not None and spec.origin is not None:
        return Path(spec.origin).parent
    # An editable install made before suites/ existed does not map it; it still sits beside bench/.
    beside = Path(__file__).resolve().parents[1] / "suites"
    if (beside / "conftest.py").is_file():
        return beside
    raise BenchError("the `suites` package is not installed; reinstall bench with `pip install -e .`")


def _run_suites(command: list[str], log_path: Path, progress: Path, cwd: Path, emit: OnEvent) -> int:
    """Run pytest in its own process (runtimes cannot pollute this one), relaying its progress lines."""
    env = child_env({**os.environ, PROGRESS_ENV: str(progress)})  # it dies with us (train.processes)
    seen = 0
    with open(log_path, "wb") as log:
        # Its own session: a terminal's Ctrl-C reaches only this process, which forwards exactly one SIGINT.
        proc = subprocess.Popen(command, cwd=cwd, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                try:
                    proc.wait(timeout=_POLL_S)
                    finished = True
                except subprocess.TimeoutExpired:
                    finished = False
                seen = _relay_progress(progress, seen, emit)
                if finished:
                    return proc.returncode
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: the same clean stop
            _interrupt(proc)  # pytest stops, runs its session end and writes the JSON of the finished cases
            raise
        except BaseException:
            proc.terminate()  # a display error: never leave the benchmark running alone
            proc.wait()
            raise


def _interrupt(proc: subprocess.Popen) -> None:
    """SIGINT to pytest, wait for a clean finish; kill it if that takes too long or Ctrl-C comes again."""
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except BaseException:
        proc.kill()
        proc.wait()
        if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
            raise


def _relay_progress(progress: Path, seen: int, emit: OnEvent) -> int:
    """Emit the progress lines after the first `seen`; return how many have been seen."""
    if not progress.exists():
        return seen
    lines = progress.read_text().splitlines()
    for line in lines[seen:]:
        event = json.loads(line)
        if event["event"] == "collected":
            emit(RunEvent("collected", "", total=event["total"]))
        elif event["event"] == "finished":
            subject = event["nodeid"].rsplit("[", 1)[-1].rstrip("]")
            emit(RunEvent("finished", subject, status=event["status"]))
    return len(lines)


def _finished_cases(progress: Path) -> list[dict]:
    """Every finished case's fields and outcome, from the progress file (empty when none finished)."""
    if not progress.exists():
        return []
    events = [json.loads(line) for line in progress.read_text().splitlines()]
    fields = ("model", "runtime", "device", "batch", "unit", "status", "reason")
    return [{k: e[k] for k in fields} for e in events if e["event"] == "finished" and "model" in e]
