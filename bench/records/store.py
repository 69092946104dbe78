"""Read what earlier commands left in results/: newest benchmark row per case, training and sweep records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.records.reader import read_json, read_run
from bench.records.schema import ResultRow, RowKey


@dataclass(frozen=True)
class BenchmarkResults:
    """The newest row of every (model, runtime, device, size), and the environment of the newest file."""

    rows: tuple[ResultRow, ...]
    files: tuple[Path, ...]  # oldest first
    environment: dict[str, Any] | None  # machine_info["bench"] of the newest file that has one
    environments: dict[Path, dict[str, Any]] = field(default_factory=dict)  # per file: machine_info["bench"]

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


@dataclass(frozen=True)
class _Record:
    """A JSON record one command left in results/: where it is and what it holds."""

    path: Path
    data: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.data["model"])


def _records(folder: Path, required: str, what: str) -> list[tuple[Path, dict[str, Any]]]:
    """(path, data) of every JSON file in `folder`, oldest name first; BenchError for one without `model`
    or a non-empty list under `required` (`what` names the command that writes them)."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = read_json(path)
        if not isinstance(data.get(required), list) or not data[required] or "model" not in data:
            raise BenchError(f"{path} is not a `{what}` record (no 'model' or '{required}'); "
                             f"rerun `{what}` to rewrite it")
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


def load_benchmarks(results_dir: Path) -> BenchmarkResults:
    """Every case's newest row across the benchmark files: a later run of a case replaces an earlier one."""
    files = benchmark_files(results_dir)
    latest: dict[RowKey, ResultRow] = {}
    environment, environments = None, {}
    for path in files:
        run = read_run(path)
        for row in run.rows:
            latest[row.key] = row
        environment = run.environment or environment
        environments[path] = run.environment or {}
    return BenchmarkResults(tuple(latest.values()), tuple(files), environment, environments)


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
