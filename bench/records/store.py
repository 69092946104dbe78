"""Read what earlier commands left in results/: each case's row from the newest complete run, training and
sweep records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.records.reader import (
    INTEGER,
    NUMBER,
    STRING,
    Arr,
    Obj,
    RunResults,
    check_fields,
    read_json,
    read_run,
)
from bench.records.schema import ResultRow, RowKey


@dataclass(frozen=True)
class RunFile:
    """One benchmark file as a report sees it: what kind of run it was, how many of its rows it supplies."""

    path: Path
    interrupted: bool  # stopped by Ctrl-C or a signal: holds only the cases that finished
    memory: bool  # the run measured peak memory (False: --no-memory)
    foreign_cpu_share: float | None  # 0-1: CPU other processes took while it timed
    devices: tuple[str, ...]
    models: tuple[str, ...]
    covered: int  # cases it holds (measured, skipped or failed; not the ones an interrupt left unrun)
    used: int = 0  # of those, the cases the report takes from it
    left_out: str = ""  # why none of its rows is used ("" when some are)
    interruption: str = ""  # 'interrupted (SIGTERM)' (RunResults.interruption); '' for a complete run


@dataclass(frozen=True)
class BenchmarkResults:
    """The rows a report shows, one per (model, runtime, device, size), each from one coherent run (its
    `source`), and the runs behind them; `memory_from` names the run a row's peak memory came from when the
    run that timed it did not measure memory."""

    rows: tuple[ResultRow, ...]
    files: tuple[Path, ...]  # the runs the rows' timings or memory come from, oldest first
    environment: dict[str, Any] | None  # machine_info["bench"] of the newest run timing a row that has one
    environments: dict[Path, dict[str, Any]] = field(default_factory=dict)  # per file: machine_info["bench"]
    runs: tuple[RunFile, ...] = ()  # every run considered, oldest first, used or left out
    memory_from: dict[RowKey, Path] = field(default_factory=dict)  # row -> the earlier run its memory is from
    memory_missing: dict[RowKey, Path] = field(default_factory=dict)  # row -> its run, which skipped memory
    chosen: bool = False  # the runs were named (`bench report --run`), not picked per case

    def machine(self, row: ResultRow) -> str:
        """The machine a row was measured on: the GPU's name for CUDA rows, else the CPU's and threads."""
        env = (self.environments.get(row.source) or {}) if row.source is not None else {}
        if row.device.startswith("cuda"):
            gpus = (env.get("cuda") or {}).get("gpus") or []
            return ", ".join(dict.fromkeys(gpus)) or "unknown GPU"
        threads = row.threads or env.get("threads_used")
        return f"{env.get('cpu', 'unknown CPU')}" + (f", {threads} threads" if threads else "")

    def get(self, key: RowKey) -> ResultRow | None:
        return next((r for r in self.rows if r.key == key), None)

    def devices(self) -> list[str]:
        """Devices with at least one row, cpu first."""
        return sorted({r.device for r in self.rows}, key=lambda d: (d != "cpu", d))

    def tag(self, path: Path | None) -> str:
        """'#2' for the second (oldest first) of the runs the rows come from; '' for any other file."""
        return f"#{self.files.index(path) + 1}" if path in self.files else ""

    def run(self, path: Path | None) -> RunFile | None:
        """What is known of the run file `path` (None: not one this report considered)."""
        return next((r for r in self.runs if r.path == path), None)

    @property
    def newest(self) -> Path | None:
        """The newest run a row's timing comes from."""
        timed = {r.source for r in self.rows}
        return next((p for p in reversed(self.files) if p in timed), None)


@dataclass(frozen=True)
class _Record:
    """A JSON record one command left in results/: where it is and what it holds."""

    path: Path
    data: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.data["model"])


# The fields the report and its figures read from `bench train` and `bench sweep` records, with the JSON
# kinds those commands write (bench.records.reader's checker: absent or null means not recorded).
_TRAIN_CONFIG = Obj({"model": STRING, "dataset": STRING, "seed": INTEGER, "epochs": INTEGER, "lr": NUMBER,
                     "optimizer": STRING, "scheduler": STRING, "step_size": INTEGER, "gamma": NUMBER,
                     "weight_decay": NUMBER, "batch_size": INTEGER, "model_kwargs": Obj()})
_EPOCH = Obj({"epoch": INTEGER}, each=NUMBER, required=("epoch",))  # train_/val_ loss and accuracy, times
_METRICS = Obj({**dict.fromkeys(("test_acc", "test_f1", "val_acc", "val_f1", "val_loss", "test_loss",
                                 "final_test_acc", "final_test_f1", "total_train_time_s", "train_loop_time",
                                 "time_to_target_s", "target_accuracy"), NUMBER),
                **dict.fromkeys(("best_epoch", "epochs_to_target", "interrupted_after_epoch",
                                 "peak_memory_bytes"), INTEGER)})
_STAT = Obj({"mean": NUMBER, "std": NUMBER, "n": INTEGER}, required=("mean", "std", "n"))
_RECORD_FIELDS = {
    "runs": Obj({"model": STRING, "dataset": STRING, "status": STRING, "selected_seed": INTEGER,
                 "epochs_planned": INTEGER, "seeds_planned": INTEGER, "interrupted": Obj(),
                 "summary": Obj(each=_STAT),
                 "runs": Arr(Obj({"config": _TRAIN_CONFIG, "metrics": _METRICS, "history": Arr(_EPOCH)},
                                 required=("config", "metrics")))}, required=("model",)),
    "rows": Obj({"model": STRING, "dataset": STRING, "base_config": _TRAIN_CONFIG,
                 "grid": Obj(each=Arr(None)),
                 "rows": Arr(Obj({"name": STRING, "values": Obj(), "val_acc": NUMBER, "val_f1": NUMBER,
                                  "val_loss": NUMBER, "best_epoch": INTEGER, "total_train_time_s": NUMBER},
                                 required=("name", "values")))}, required=("model",)),
}


def _records(folder: Path, required: str, what: str) -> list[tuple[Path, dict[str, Any]]]:
    """(path, data) of every JSON file in `folder`, oldest name first; BenchError for one without `model`
    or a non-empty list under `required`, or with a field the report reads of another JSON kind (`what`
    names the command that writes them)."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = read_json(path)
        fix = f"rerun `{what}` to rewrite it, or delete it"
        if not isinstance(data.get(required), list) or not data[required] or "model" not in data:
            raise BenchError(f"{path} is not a `{what}` record (no 'model' or '{required}'); {fix}")
        check_fields(data, _RECORD_FIELDS[required], path, fix)
        found.append((path, data))
    return found


@dataclass(frozen=True)
class TrainingRecord(_Record):
    """One `bench train` metrics file: results/training/<dataset>/<model>.json."""

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Per seed: {"config", "metrics", "history"}."""
        return list(self.data["runs"])

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """Metric -> {mean, std, n} over seeds."""
        return dict(self.data.get("summary") or {})

    @property
    def config(self) -> dict[str, Any]:
        """The first seed's config (seeds differ only by `seed`)."""
        return dict(self.runs[0]["config"])


def benchmark_files(results_dir: Path) -> list[Path]:
    """results/benchmarks/*.json, oldest first (names start with their UTC time)."""
    folder = Path(results_dir) / "benchmarks"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


# A row's peak-memory figures: measured in a process of its own per row, apart from the timing.
MEMORY_FIELDS = ("peak_memory_bytes", "peak_memory_load_bytes", "peak_memory_inference_bytes",
                 "peak_memory_reserved_bytes", "peak_memory_method", "peak_memory_scope")


def load_benchmarks(results_dir: Path, runs: Sequence[Path] | None = None) -> BenchmarkResults:
    """The rows a report shows and the runs they come from.

    Default: for each case, the newest complete run that holds it; an interrupted run (Ctrl-C) is never
    used, and is listed with why. `runs` (`bench report --run`): exactly these files, interrupted or not; a
    case in several of them comes from the newest. Peak memory is never blanked by a `--no-memory` run: a row
    whose run skipped memory takes it from the newest other usable run that measured the same case on the
    same artifact (`memory_from`), else it stays empty and `memory_missing` names the run."""
    chosen = runs is not None
    if chosen:
        if not runs:
            raise BenchError("--run needs a benchmark file (results/benchmarks/*.json)")
        named = {Path(p).resolve(): Path(p) for p in reversed(list(runs))}  # each file once, as first named
        files = sorted(named.values(), key=lambda p: (p.name, str(p)))  # names start with their UTC time
    else:
        files = benchmark_files(results_dir)
    read = [(path, read_run(path)) for path in files]
    latest: dict[RowKey, ResultRow] = {}
    usable: list[tuple[Path, list[ResultRow], bool]] = []  # (file, rows, measured memory), oldest first
    infos: dict[Path, RunFile] = {}
    for path, run in read:
        rows = list(run.rows)
        devices = tuple(dict.fromkeys(r.device for r in rows)) or (str(run.config.get("device", "cpu")),)
        info = RunFile(path, run.interrupted, _measured_memory(run, rows), _share(run), devices,
                       tuple(dict.fromkeys(r.model for r in rows)), len(rows),
                       interruption=run.interruption)
        infos[path] = info
        if run.interrupted and not chosen:
            continue
        usable.append((path, rows, info.memory))
        for row in rows:
            latest[row.key] = row
    memory_from, memory_missing = {}, {}
    for key, row in list(latest.items()):
        if row.peak_memory_bytes is not None or row.p50_ms is None or infos[row.source].memory:
            continue
        donor = _memory_donor(row, usable)
        if donor is None:
            memory_missing[key] = row.source
        else:
            latest[key] = replace(row, extra={**row.extra, **{k: donor.extra[k] for k in MEMORY_FIELDS
                                                               if k in donor.extra}})
            memory_from[key] = donor.source
    used = Counter(r.source for r in latest.values())
    runs_out = tuple(replace(info, used=used[path], left_out=_left_out(info, used[path], chosen))
                     for path, info in infos.items())
    sources = tuple(path for path, _ in read if used[path] or path in memory_from.values())
    environments = {path: run.environment or {} for path, run in read}
    environment = next((environments[p] for p in reversed(sources) if used[p] and environments[p]), None)
    return BenchmarkResults(tuple(latest.values()), sources, environment, environments, runs_out,
                            memory_from, memory_missing, chosen)


def _measured_memory(run: RunResults, rows: Sequence[ResultRow]) -> bool:
    """Whether the run measured peak memory: its config says (`--no-memory` sets memory false); files
    without the setting count as measuring when any row holds a figure."""
    setting = run.config.get("memory")
    if isinstance(setting, bool):
        return setting
    return any(r.peak_memory_bytes is not None for r in rows)


def _share(run: RunResults) -> float | None:
    share = run.data["bench"].get("foreign_cpu_share")
    return float(share) if isinstance(share, (int, float)) else None


def _memory_donor(row: ResultRow, usable: Sequence[tuple[Path, list[ResultRow], bool]]) -> ResultRow | None:
    """The newest usable run's row of the same case with peak memory, measured on the same artifact (same
    size on disk; same weights where a size is not recorded): memory does not depend on the timing run."""
    for path, rows, measured in reversed(usable):
        if not measured or path == row.source:
            continue
        for other in rows:
            if other.key != row.key or other.peak_memory_bytes is None:
                continue
            same = (other.artifact_bytes == row.artifact_bytes if None not in (other.artifact_bytes,
                                                                               row.artifact_bytes)
                    else other.weights == row.weights)
            if same:
                return other
    return None


def _left_out(info: RunFile, used: int, chosen: bool) -> str:
    """Why a run supplies no row ('' when it supplies some)."""
    if used:
        return ""
    if info.interrupted and not chosen:
        return (f"{info.interruption or 'interrupted'} with {info.covered} finished case(s); never mixed in "
                f"by default: "
                f"`bench report --run {info.path}` shows it")
    if not info.covered:
        return "holds no case"
    return "every case it holds was run again later"


def load_training(results_dir: Path, dataset: str) -> dict[str, TrainingRecord]:
    """Model -> its record under results/training/<dataset>/ (each `bench train` replaces its file)."""
    folder = Path(results_dir) / "training" / dataset
    return {str(data["model"]): TrainingRecord(path, data)
            for path, data in _records(folder, "runs", "bench train")}


@dataclass(frozen=True)
class SweepRecord(_Record):
    """One `bench sweep` file: results/sweeps/<model>-<time>.json with grid, base_config and ranked rows."""

    @property
    def grid(self) -> dict[str, list[Any]]:
        """Swept config key -> the values tried, in the order given."""
        return dict(self.data.get("grid") or {})

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Per grid point: name, values, val_acc, val_f1, val_loss, best_epoch, total_train_time_s."""
        return list(self.data["rows"])


def load_sweeps(results_dir: Path, dataset: str) -> list[SweepRecord]:
    """The newest sweep of each model of `dataset` under results/sweeps/ (names end in their local time)."""
    latest = {str(data["model"]): SweepRecord(path, data)
              for path, data in _records(Path(results_dir) / "sweeps", "rows", "bench sweep")
              if data.get("dataset") == dataset}
    return list(latest.values())
