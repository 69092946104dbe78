"""`bench run`: validate, export what is missing, run the suites in a subprocess, keep the JSON."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import BenchError
from bench.measure.contention import foreign_share, snapshot
from bench.measure.devices import DEVICE_KINDS, default_threads, resolve_device
from bench.records.schema import ResultRow, rows_from_json
from bench.run.artifacts import ensure_exported
from bench.run.selection import (
    DEFAULT_BATCH_SIZES,
    parse_batch_sizes,
    parse_models,
    parse_runtimes,
    split_list,
)
from train.fileio import write_json, write_text
from train.registry import get_model

PROGRESS_ENV = "BENCH_PROGRESS_FILE"  # read by suites/conftest.py
_INTERRUPT_GRACE_S = 60.0  # after Ctrl-C, how long pytest may take to finish and write the JSON
_POLL_S = 0.2  # how often the progress file is re-read while the suites run


@dataclass(frozen=True)
class RunConfig:
    """What one `bench run` covers; validated on construction (names, sizes, counts)."""

    device: str = "cpu"
    models: tuple[str, ...] = ()  # empty: every registered model
    runtimes: tuple[str, ...] = ()  # empty: every registered runtime
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    results_dir: Path = Path("results")
    threads: int = field(default_factory=default_threads)
    seed: int = 0
    memory: bool = True  # peak memory per row, each in a fresh process (off: --no-memory)
    include_transfer: bool = False  # time host→device→host per call (inputs from the CPU, output copied back)
    stability_budget_s: float | None = None  # seconds per case for warm-up until stable, again for extra
    # rounds when IQR/median > 0.10; None: the same as max_time_s
    warmup: int = 10  # untimed calls before timing (the Cora report's 10)
    max_time_s: float = 1.0  # pytest-benchmark's time budget per case, seconds
    min_rounds: int = 5  # pytest-benchmark's minimum timed rounds per case
    trust: bool = False  # load TorchScript files no manifest of ours vouches for (they are code)

    def __post_init__(self) -> None:
        if self.device.split(":")[0] not in DEVICE_KINDS:
            raise BenchError(f"unknown device {self.device!r}; choose one of: {', '.join(DEVICE_KINDS)}")
        object.__setattr__(self, "models", parse_models(",".join(self.models)))
        object.__setattr__(self, "runtimes", parse_runtimes(",".join(self.runtimes)))
        object.__setattr__(self, "batch_sizes", parse_batch_sizes(",".join(map(str, self.batch_sizes))))
        object.__setattr__(self, "results_dir", Path(self.results_dir))
        for name, value, low in (("--threads", self.threads, 1), ("--warmup", self.warmup, 0),
                                 ("--min-rounds", self.min_rounds, 1)):
            if not isinstance(value, int) or value < low:
                raise BenchError(f"{name} must be an integer >= {low}, got {value!r}")
        if not self.max_time_s > 0:
            raise BenchError(f"--max-time must be a positive number of seconds, got {self.max_time_s}")
        if self.stability_budget_s is None:
            object.__setattr__(self, "stability_budget_s", self.max_time_s)
        if not self.stability_budget_s > 0:
            raise BenchError(f"--stability-budget must be a positive number of seconds, "
                             f"got {self.stability_budget_s}")

    @classmethod
    def from_text(cls, *, models: str, runtimes: str, batch_sizes: str, **rest) -> RunConfig:
        """Build from the CLI's comma-separated lists."""
        return cls(models=tuple(split_list(models)), runtimes=tuple(split_list(runtimes)),
                   batch_sizes=parse_batch_sizes(batch_sizes), **rest)

    @property
    def exports_dir(self) -> Path:
        return self.results_dir / "exports"

    @property
    def checkpoints_dir(self) -> Path:
        return self.results_dir / "checkpoints"

    @property
    def benchmarks_dir(self) -> Path:
        return self.results_dir / "benchmarks"


@dataclass(frozen=True)
class RunEvent:
    """A progress step for the display: exporting a model, cases collected, a case finished."""

    kind: str  # "export" | "exported" | "collected" | "finished"
    subject: str  # model name, or the finished case's id
    total: int | None = None  # for "export": models to export; for "collected": cases to run
    status: str = ""  # for "finished": passed | skipped | failed; for "exported": failed formats


@dataclass(frozen=True)
class RunOutcome:
    """Where the results went and what they say."""

    json_path: Path | None  # None when nothing was timed (every case skipped or failed)
    log_path: Path
    rows: list[ResultRow]
    wall_s: float
    foreign_cpu_share: float  # 0-1: CPU other processes took while the suites ran (measure.contention)

    @property
    def failed(self) -> list[ResultRow]:
        return [r for r in self.rows if r.status == "failed"]


OnEvent = Callable[[RunEvent], None]


class RunInterrupted(BenchError):
    """Ctrl-C during `bench run`: the finished rows were kept (the message says where); exit 130."""

    exit_code = 130


def run_benchmarks(config: RunConfig, on_event: OnEvent | None = None) -> RunOutcome:
    """Export what is missing, time every case in a pytest subprocess, save its JSON; rows for the table."""
    started = time.perf_counter()
    emit = on_event or (lambda event: None)
    resolve_device(config.device)  # CUDA missing is an error before any export or subprocess
    export_missing(config, emit)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = _unused(config.benchmarks_dir / f"{stamp}_{config.device.replace(':', '')}.json")
    log_target = target.with_suffix(".log")
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        tmp_dir = Path(tmp)
        json_tmp, log_tmp, progress = tmp_dir / "benchmark.json", tmp_dir / "pytest.log", tmp_dir / "progress"
        before = snapshot()
        try:
            returncode = _run_suites(config, json_tmp, log_tmp, progress, tmp_dir, emit)
        except KeyboardInterrupt:
            write_text(log_target, log_tmp.read_text(errors="replace") if log_tmp.exists() else "")
            raise _keep_finished_rows(json_tmp, progress, target, log_target) from None
        contention = foreign_share(before, snapshot())
        log_text = log_tmp.read_text(errors="replace")
        write_text(log_target, log_text)
        outcomes = _finished_cases(progress)
        if returncode not in (0, 1) or not outcomes:
            tail = " | ".join(line.strip() for line in log_text.strip().splitlines()[-3:])
            raise BenchError(f"the benchmark suites stopped (pytest exit {returncode}): {tail} "
                             f"(log: {log_target})")
        raw = json_tmp.read_bytes() if json_tmp.exists() else None
    if raw is None:
        # pytest-benchmark writes no JSON when nothing was timed (every case skipped or failed).
        rows = rows_from_json({"benchmarks": [], "bench": {"outcomes": outcomes}})
        return RunOutcome(None, log_target, rows, time.perf_counter() - started, contention)
    data = json.loads(raw)
    data.setdefault("bench", {})["foreign_cpu_share"] = round(contention, 4)
    write_json(target, data)
    return RunOutcome(target, log_target, rows_from_json(data), time.perf_counter() - started, contention)


def _unused(path: Path) -> Path:
    """`path`, or `<stem>_2.json`, `_3`, … when a run in the same second already wrote it: never overwrite."""
    candidate, n = path, 1
    while candidate.exists() or candidate.with_suffix(".log").exists():
        n += 1
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
    return candidate


def _keep_finished_rows(json_tmp: Path, progress: Path, target: Path, log_target: Path) -> RunInterrupted:
    """After Ctrl-C: save the rows that finished (pytest wrote the JSON at session end) to `target`."""
    outcomes = _finished_cases(progress)
    done = {(o["model"], o["runtime"], o["device"], o["batch"]) for o in outcomes if o["status"] == "passed"}
    try:
        data = json.loads(json_tmp.read_bytes()) if json_tmp.exists() else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return RunInterrupted(f"interrupted: {len(outcomes)} case(s) had finished but pytest wrote no JSON, "
                              f"so no results were saved (log: {log_target})")
    # The case running at Ctrl-C may have left partial timings: keep only the cases that finished.
    data["benchmarks"] = [
        b for b in data.get("benchmarks", [])
        if tuple((b.get("extra_info") or {}).get(k) for k in ("model", "runtime", "device", "batch")) in done
    ]
    data.setdefault("bench", {})["interrupted"] = True
    write_json(target, data)
    return RunInterrupted(f"interrupted: kept the {len(data['benchmarks'])} finished row(s) in {target} "
                          f"(log: {log_target})")


def export_missing(config: RunConfig, emit: OnEvent) -> None:
    """Export each model whose artifacts are missing or stale (trained checkpoint if one exists)."""
    for name in config.models:
        emit(RunEvent("export", name, total=len(config.models)))
        artifacts = ensure_exported(get_model(name), config.exports_dir, config.checkpoints_dir, config.seed)
        emit(RunEvent("exported", name, status=", ".join(sorted(artifacts.failed))))


def pytest_command(config: RunConfig, json_path: Path) -> list[str]:
    """The pytest-benchmark invocation for `config` (absolute paths: it runs in a scratch directory)."""
    return [
        sys.executable, "-m", "pytest", str(suites_dir()),
        "--benchmark-only", f"--benchmark-json={json_path}",
        # pytest-benchmark's warm-up: untimed calls before the timed rounds (the suite adds none of its own).
        f"--benchmark-warmup={'on' if config.warmup else 'off'}",
        f"--benchmark-warmup-iterations={max(config.warmup, 1)}",
        f"--benchmark-max-time={config.max_time_s}", f"--benchmark-min-rounds={config.min_rounds}",
        "--benchmark-disable-gc",  # a GC pause inside one round is noise, not the runtime's cost
        "--benchmark-save-data",  # keep every round's time (stats.data): the percentiles come from them
        "--bench-stability-budget", str(config.stability_budget_s),
        *([] if config.memory else ["--bench-no-memory"]),
        *(["--bench-include-transfer"] if config.include_transfer else []),
        "--bench-device", config.device,
        "--bench-models", ",".join(config.models),
        "--bench-runtimes", ",".join(config.runtimes),
        "--bench-batch-sizes", ",".join(map(str, config.batch_sizes)),
        "--bench-exports", str(config.exports_dir.resolve()),
        "--bench-checkpoints", str(config.checkpoints_dir.resolve()),
        "--bench-reuse-exports",  # exported just before: the suites must not export again
        "--bench-threads", str(config.threads),
        "--bench-seed", str(config.seed),
        "--bench-warmup", "0",  # pytest-benchmark warms up (or --warmup 0 asked for none)
        *(["--bench-trust"] if config.trust else []),
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


def _run_suites(config: RunConfig, json_path: Path, log_path: Path, progress: Path, cwd: Path,
                emit: OnEvent) -> int:
    """Run pytest in its own process (runtimes cannot pollute this one), relaying its progress lines."""
    env = {**os.environ, PROGRESS_ENV: str(progress)}
    seen = 0
    with open(log_path, "wb") as log:
        # Its own session: a terminal's Ctrl-C reaches only this process, which forwards exactly one SIGINT.
        proc = subprocess.Popen(pytest_command(config, json_path), cwd=cwd, env=env,
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
        except KeyboardInterrupt:
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
        proc.wait(timeout=_INTERRUPT_GRACE_S)
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
