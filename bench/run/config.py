"""What one `bench run` covers and how it measures: `RunConfig`, defined and validated here once.

The runner hands it to the pytest-benchmark suite whole, as one JSON file (`--bench-config`); a direct
`pytest suites/` run builds the same object from `--bench-set key=value` options, validated the same way.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.measure.allocator import check_allocator, default_allocator
from bench.measure.devices import DEVICE_KINDS, default_threads
from bench.measure.precision import PRECISIONS, PrecisionPolicy
from bench.run.selection import (
    DEFAULT_BATCH_SIZES,
    Case,
    PairedCase,
    build_cases,
    build_paired_cases,
    parse_batch_sizes,
    parse_models,
    parse_runtimes,
    split_list,
)

# The runner <-> suite contract: the suite appends one JSON line per collected/finished case to the file
# this variable names, so `bench run` can show progress and keep finished rows after Ctrl-C.
PROGRESS_ENV = "BENCH_PROGRESS_FILE"


@dataclass(frozen=True)
class RunConfig:
    """One run: models × runtimes × batch sizes on one device, and the measurement settings; validated on
    construction (names, sizes, counts, finite positive times). Units are in the field names."""

    device: str = "cpu"
    models: tuple[str, ...] = ()  # empty: every registered model
    runtimes: tuple[str, ...] = ()  # empty: every registered runtime
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES  # graph models ignore them: full Cora, once
    results_dir: Path = Path("results")
    threads: int = field(default_factory=default_threads)  # intra-op CPU threads for every runtime
    seed: int = 0  # seeds untrained weights and the benchmark inputs
    memory: bool = True  # peak memory per row, each in a fresh process (off: --no-memory)
    include_transfer: bool = False  # time host→device→host per call (inputs from the CPU, output copied back)
    stability_budget_s: float | None = None  # seconds per case for warm-up until stable, again for extra
    # rounds when IQR/median > 0.10; None: the same as max_time_s
    warmup: int = 10  # untimed calls before timing (the Cora report's 10)
    max_time_s: float = 1.0  # pytest-benchmark's time budget per case, seconds
    min_rounds: int = 5  # pytest-benchmark's minimum timed rounds per case
    trust: bool = False  # load TorchScript files no manifest of ours vouches for (they are code)
    precision: str = "fp32"  # fp32: TF32 off for every runtime; tf32: on for every one (measure.precision)
    cudnn_benchmark: bool = False  # cuDNN autotuning for every runtime (torch benchmark / ORT EXHAUSTIVE)
    paired: bool = True  # also time each case's runtimes in interleaved rounds: paired speedups with a CI
    verify_timing: bool = False  # re-time each CPU row with torch's Timer right after: checks the harness
    # Host malloc of the timing process: retain (freed memory kept, no page faults per call) or system
    # (the C library's defaults); memory probes keep the defaults. See bench.measure.allocator.
    allocator: str = field(default_factory=default_allocator)
    # Per runtime, settings its class offers (Runtime.options), e.g. {"onnxruntime": {"intra_op_spinning":
    # False}}; stored resolved: every option of every runtime of the run, defaults filled in.
    runtime_options: dict = field(default_factory=dict)
    # Where the graph rows look for Cora ("" = $BENCH_DATA_DIR or ~/.cache/bench/data): the real graph when
    # it is there, else a random graph of its size, labelled per row.
    data_dir: str = ""
    reuse_exports: bool = False  # take the exports as they are (`bench run` exports before the suite starts)
    failed_exports: dict = field(default_factory=dict)  # model -> why `bench run` could not export it: its
    # cases fail with that reason (e.g. a corrupt checkpoint) while the other models run

    def __post_init__(self) -> None:
        if self.device.split(":")[0] not in DEVICE_KINDS:
            raise BenchError(f"unknown device {self.device!r}; choose one of: {', '.join(DEVICE_KINDS)}")
        object.__setattr__(self, "models", parse_models(",".join(self.models)))
        object.__setattr__(self, "runtimes", parse_runtimes(",".join(self.runtimes)))
        object.__setattr__(self, "batch_sizes", parse_batch_sizes(",".join(map(str, self.batch_sizes))))
        object.__setattr__(self, "results_dir", Path(self.results_dir))
        for name, value, low in (("--threads", self.threads, 1), ("--warmup", self.warmup, 0),
                                 ("--min-rounds", self.min_rounds, 1), ("--seed", self.seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BenchError(f"{name} must be an integer >= {low}, got {value!r}")
        object.__setattr__(self, "runtime_options", _resolve_runtime_options(self.runtime_options,
                                                                            self.runtimes))
        if not isinstance(self.failed_exports, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.failed_exports.items()):
            raise BenchError(f"failed_exports must map model names to reasons, got {self.failed_exports!r}")
        check_allocator(self.allocator)
        if self.precision not in PRECISIONS:
            raise BenchError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        _require_seconds("--max-time", self.max_time_s)
        if self.stability_budget_s is None:
            object.__setattr__(self, "stability_budget_s", self.max_time_s)
        _require_seconds("--stability-budget", self.stability_budget_s)

    @classmethod
    def from_text(cls, *, models: str, runtimes: str, batch_sizes: str, runtime_options: list[str] = (),
                  **rest) -> RunConfig:
        """Build from the CLI's comma-separated lists and `runtime.key=value` options."""
        return cls(models=tuple(split_list(models)), runtimes=tuple(split_list(runtimes)),
                   batch_sizes=parse_batch_sizes(batch_sizes),
                   runtime_options=parse_runtime_options(runtime_options), **rest)

    def options_for(self, runtime: str) -> dict:
        """The resolved options of `runtime` in this run (empty for a runtime that has none)."""
        return dict(self.runtime_options.get(runtime, {}))

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "run config") -> RunConfig:
        """Build from JSON-like values (lists for tuples, strings for paths); unknown keys are named."""
        unknown = sorted(set(values) - set(_FIELDS))
        if unknown:
            raise BenchError(f"unknown key(s) {', '.join(unknown)} in {where}; "
                             f"valid keys: {', '.join(_FIELDS)}")
        return cls(**{k: _from_json(k, v) for k, v in values.items()})

    @classmethod
    def from_settings(cls, settings: list[str]) -> RunConfig:
        """Build from `key=value` strings (`pytest suites --bench-set models=mnist-mlp`), typed per field."""
        values: dict[str, Any] = {}
        for setting in settings:
            key, sep, text = setting.partition("=")
            if not sep or key.strip() not in _FIELDS:
                raise BenchError(f"--bench-set takes key=value with a key among {', '.join(_FIELDS)}; "
                                 f"got {setting!r}")
            values[key.strip()] = _parse_setting(key.strip(), text.strip())
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples as lists, the results folder as an absolute path)."""
        values = dataclasses.asdict(self)
        values["results_dir"] = str(Path(self.results_dir).resolve())
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def write(self, path: Path) -> Path:
        """Save as JSON for the suite (`--bench-config path`)."""
        from train.fileio import write_json

        return write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: Path) -> RunConfig:
        """A config written by `write`; BenchError when unreadable or invalid."""
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BenchError(f"cannot read run config {path}: {exc}") from None
        if not isinstance(values, dict):
            raise BenchError(f"run config {path} does not hold a JSON object")
        return cls.from_dict(values, where=str(path))

    @property
    def policy(self) -> PrecisionPolicy:
        """The precision policy every runtime of this run follows."""
        return PrecisionPolicy(self.precision, self.cudnn_benchmark)

    def cases(self) -> list[Case]:
        """Every case this run covers, in the order they run."""
        return build_cases(self.models, self.runtimes, self.device, self.batch_sizes)

    def paired_cases(self) -> list[PairedCase]:
        """The model × size groups timed in interleaved rounds (none with --no-paired)."""
        return build_paired_cases(self.cases()) if self.paired else []

    @property
    def export_formats(self) -> tuple[str, ...]:
        """The export formats this run's runtimes load (eager and compile load weights.pt only)."""
        from bench.runtimes import get_runtime

        formats = (get_runtime(name).export_format for name in self.runtimes)
        return tuple(dict.fromkeys(fmt for fmt in formats if fmt is not None))

    @property
    def exports_dir(self) -> Path:
        return self.results_dir / "exports"

    @property
    def checkpoints_dir(self) -> Path:
        return self.results_dir / "checkpoints"

    @property
    def benchmarks_dir(self) -> Path:
        return self.results_dir / "benchmarks"


_FIELDS = {f.name: f for f in fields(RunConfig)}
_HINTS = typing.get_type_hints(RunConfig)


def parse_runtime_options(settings: list[str]) -> dict[str, dict[str, str]]:
    """`onnxruntime.intra_op_spinning=false` strings -> {"onnxruntime": {"intra_op_spinning": "false"}}."""
    out: dict[str, dict[str, str]] = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        runtime, dot, key = name.strip().partition(".")
        if not sep or not dot or not key:
            raise BenchError(f"--runtime-option takes <runtime>.<option>=<value>, got {setting!r}")
        out.setdefault(runtime, {})[key] = value.strip()
    return out


def _resolve_runtime_options(given: dict, runtimes: tuple[str, ...]) -> dict[str, dict]:
    """Every runtime of the run with options: its defaults updated by `given` (validated by the runtime);
    options for a runtime the run does not include are an error, not ignored."""
    from bench.runtimes import get_runtime

    if not isinstance(given, dict):
        raise BenchError(f"runtime_options must map runtimes to options, got {given!r}")
    stray = sorted(set(given) - set(runtimes))
    if stray:
        raise BenchError(f"--runtime-option for {', '.join(stray)}, which this run does not include "
                         f"(runtimes: {', '.join(runtimes)})")
    resolved = {}
    for name in runtimes:
        runtime = get_runtime(name)
        if runtime.options:
            resolved[name] = runtime.resolve_options(given.get(name) or {})
    return resolved


def _require_seconds(option: str, value: object) -> None:
    """A finite, positive number of seconds (inf would never end; NaN compares false everywhere)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise BenchError(f"{option} must be a positive, finite number of seconds, got {value}")


def _from_json(key: str, value: Any) -> Any:
    """A JSON value as the field's type: lists to tuples, strings to paths; the rest is validated later."""
    if key == "results_dir" and isinstance(value, str):
        return Path(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _parse_setting(key: str, text: str) -> Any:
    """`text` as field `key`'s type: comma lists, bools (true/false/1/0), ints, floats, paths, strings."""
    hint = _HINTS[key]
    if key in ("models", "runtimes"):
        return tuple(split_list(text))
    if key == "batch_sizes":
        return parse_batch_sizes(text)
    if key == "results_dir":
        return Path(text)
    if key == "runtime_options":
        return parse_runtime_options(split_list(text))
    if hint is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise BenchError(f"--bench-set {key} takes true or false, got {text!r}")
        return text.lower() in ("true", "1")
    try:
        if hint is int:
            return int(text)
        if hint in (float, float | None):
            return None if text.lower() == "none" else float(text)
    except ValueError:
        raise BenchError(f"--bench-set {key} takes a number, got {text!r}") from None
    return text
