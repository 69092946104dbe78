"""The results schema of a `bench run` JSON: its version, the row key, the fields of a row, and the one row
type every reader returns.

A run file is pytest-benchmark's JSON. Each timed case is a `benchmarks` entry whose `extra_info` holds
the row (built only by the functions below); the `bench` section holds every case's outcome (skips and
failures with their reasons), the run's config and contention; `machine_info.bench` the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bench.measure.roofline import MatmulPeak, percent_of_peak
from bench.measure.stability import UNSTABLE_IQR, iqr_over_median
from bench.measure.stats import summarize, throughput

# 1: the first landing. 2: `bench.schema_version` and `bench.config` (the whole RunConfig) added, and
# `bench.suite.warmup_calls` holds the warm-up count used (version 1 wrote 0 when pytest-benchmark did the
# warm-up). The reader (bench.records.reader.migrate) brings version-1 files up to 2: both compare and report.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

MS = 1e3  # seconds -> milliseconds
LATENCY_METRICS = ("p50", "p90", "p99", "mean", "min")  # each stored as `<name>_ms`; higher is worse
# Rounds a percentile needs before it means anything: with 5 rounds "p99" is the maximum. Below these the
# tables show no figure (the JSON keeps the computed value beside `rounds`).
MIN_ROUNDS = {"p90": 20, "p99": 100}
# The runtime every speedup is measured against, on the same model, device and batch (`speedup_vs_eager`).
REFERENCE_RUNTIME = "eager"


class RowKey(NamedTuple):
    """What identifies a row across runs and files."""

    model: str
    runtime: str
    device: str  # as asked: "cpu" | "cuda"
    batch: int  # batch size, or node count for a graph model


def row_key(info: Mapping[str, Any]) -> RowKey:
    """The key of an extra_info (or outcome) dict; KeyError names the missing field."""
    return RowKey(str(info["model"]), str(info["runtime"]), str(info["device"]), int(info["batch"]))


# --- the writer's builders: the suite fills extra_info with these and nothing else -----------------------


def case_info(key: RowKey, unit: str, *, parity: dict, details: dict, weights: str, timing_scope: str,
              precision: dict) -> dict[str, Any]:
    """extra_info identity fields: the key, what the size counts, parity vs eager, what the session used,
    the precision policy (measure.precision.PrecisionPolicy.as_dict)."""
    return {
        **key._asdict(), "unit": unit, "parity": parity,
        "artifact_bytes": details["artifact_bytes"], "threads": details["threads"],
        "interop_threads": details["interop_threads"], "providers": list(details["providers"]),
        "runtime_device": details["device"], "recipe": details["recipe"],
        "runtime_settings": dict(details.get("settings") or {}),
        "weights": weights, "timing_scope": timing_scope, "precision": precision,
    }


def first_result_info(*, export_s: float | None, export_what: str, load_s: float, compile_s: float | None,
                      first_call_s: float, reused_session: bool) -> dict[str, Any]:
    """extra_info `first_result`: seconds from nothing to a first answer, as a deployment pays them once.

    `export_s`: making the artifact, from its manifest (None: weights only, nothing to make); `load_s`:
    loading it here, compile included where the runtime compiles at load (`compile_s` of it); `first_call_s`:
    the first call at this size. `reused_session`: the session was loaded for an earlier size of the run
    (one compiled module serves every size), so its first call here shows any recompile."""
    total = (export_s or 0.0) + load_s + first_call_s
    return {"first_result": {"export_s": export_s, "export": export_what, "load_s": load_s,
                             "compile_s": compile_s, "first_call_s": first_call_s, "total_s": total,
                             "reused_session": reused_session}}


def latency_info(samples_s: Sequence[float], items: int, iterations: int) -> dict[str, float | int]:
    """extra_info latency fields (ms) and throughput (items/s at p50) from per-call seconds."""
    summary = summarize(samples_s)
    return {
        "p50_ms": summary.p50 * MS,
        "p90_ms": summary.p90 * MS,
        "p99_ms": summary.p99 * MS,
        "mean_ms": summary.mean * MS,
        "std_ms": summary.std * MS,
        "iqr_ms": summary.iqr * MS,
        "min_ms": summary.min * MS,
        "max_ms": summary.max * MS,
        "rounds": summary.count,
        # pytest-benchmark stores each round's time divided by its calls: percentiles are of those means.
        "calls_per_round": iterations,
        "throughput_per_s": throughput(items, summary.p50),
    }


def warmup_info(description: str, settled: bool) -> dict[str, str | bool]:
    """extra_info warm-up fields: what was done before timing, and whether call times settled."""
    return {"warmup": description, "warmup_settled": settled}


def stability_info(samples_s: Sequence[float], extra_rounds: int) -> dict[str, float | int | bool]:
    """extra_info stability fields: IQR/median of the final samples, the flag, rounds added for noise."""
    ratio = iqr_over_median(samples_s)
    return {"iqr_over_median": ratio, "unstable": ratio > UNSTABLE_IQR, "extra_rounds": extra_rounds}


def roofline_info(flops: int, p50_s: float, peak: MatmulPeak,
                  hardware_gflops: float | None = None) -> dict[str, float | int | None]:
    """extra_info roofline fields: FLOPs per call, GFLOP/s achieved at p50, % of the run's best measured
    GEMM (`pct_of_peak`) and, when the hardware's theoretical fp32 peak is known, % of that."""
    achieved, pct = percent_of_peak(flops, p50_s, peak)
    info: dict[str, float | int | None] = {"flops": flops, "gflops_achieved": achieved, "pct_of_peak": pct,
                                           "matmul_peak_gflops": peak.gflops}
    if hardware_gflops:
        info |= {"hardware_peak_gflops": hardware_gflops,
                 "pct_of_hardware_peak": 100.0 * achieved / hardware_gflops}
    return info


def rescale_to_peak(extra_info: dict, peak_gflops: float) -> None:
    """Set a row's % of peak against the run's final matmul peak (rows without a roofline are left alone)."""
    if "gflops_achieved" in extra_info and peak_gflops > 0:
        extra_info["pct_of_peak"] = 100.0 * extra_info["gflops_achieved"] / peak_gflops
        extra_info["matmul_peak_gflops"] = peak_gflops


def paired_info(result: dict) -> dict[str, object]:
    """extra_info.paired of a row: its speedup over eager from interleaved rounds (measure.paired), the
    95 % interval and how many rounds back it."""
    keep = ("reference", "rounds", "calls_per_round", "speedup", "ci_low", "ci_high", "confidence")
    return {k: result[k] for k in keep if k in result}


def memory_info(figure: dict) -> dict[str, int | str]:
    """extra_info peak-memory fields from a bench.run.memory_worker figure (bytes above baseline, method)."""
    info = {"peak_memory_bytes": figure["peak_bytes"], "peak_memory_method": figure["method"],
            "peak_memory_scope": figure.get("scope", "")}
    if "load_bytes" in figure:
        info |= {"peak_memory_load_bytes": figure["load_bytes"],
                 "peak_memory_inference_bytes": figure["inference_bytes"]}
    if figure.get("reserved_bytes") is not None:
        info["peak_memory_reserved_bytes"] = figure["reserved_bytes"]
    return info


# --- the one row type every reader returns ----------------------------------------------------------------


class _ExtraField:
    """A read-only row attribute backed by one extra_info key: converted, or `default` when absent."""

    def __init__(self, key: str, convert: Callable[[Any], Any], default: Any = None) -> None:
        self.key, self.convert, self.default = key, convert, default

    def __get__(self, row: ResultRow | None, owner: type) -> Any:
        if row is None:
            return self
        value = row.extra.get(self.key)
        return self.default if value is None else self.convert(value)


@dataclass(frozen=True)
class ResultRow:
    """One row: a measured case (its extra_info), or a skipped/failed one with its reason."""

    model: str
    runtime: str
    device: str
    batch: int
    unit: str  # "samples" | "nodes"
    status: str  # "ok" | "skipped" | "failed"
    reason: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # the row's extra_info (empty when not timed)
    speedup_vs_eager: float | None = None  # eager p50 / this p50, same model, device and size, same file
    source: Path | None = None  # the run file it was read from (None: not written, or built in memory)
    foreign_cpu_share: float | None = None  # 0-1: CPU other processes took during that run, if recorded

    @property
    def key(self) -> RowKey:
        return RowKey(self.model, self.runtime, self.device, self.batch)

    def metric_ms(self, metric: str) -> float | None:
        """A latency metric (one of LATENCY_METRICS) in milliseconds; None when the row has no figure."""
        value = self.extra.get(f"{metric}_ms")
        return float(value) if isinstance(value, (int, float)) else None

    def backed_ms(self, metric: str) -> float | None:
        """`metric_ms`, or None when the row has fewer rounds than the percentile needs (MIN_ROUNDS)."""
        need = MIN_ROUNDS.get(metric)
        if need is not None and (self.rounds or 0) < need:
            return None
        return self.metric_ms(metric)

    @property
    def paired_speedup(self) -> float | None:
        """Speedup over eager from interleaved rounds (None when the run timed no pairs)."""
        value = (self.extra.get("paired") or {}).get("speedup")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def paired_interval(self) -> tuple[float, float] | None:
        """(low, high) 95 % interval of the paired speedup, when there is one."""
        paired = self.extra.get("paired") or {}
        if not isinstance(paired.get("ci_low"), (int, float)):
            return None
        return float(paired["ci_low"]), float(paired["ci_high"])

    @property
    def accuracy(self) -> Mapping[str, Any]:
        """Test accuracy beside eager's (a quantized row: `test_acc`, `eager_test_acc`, `delta_vs_eager_pp`,
        ...), or `reason` why it was not measured; empty when the row does not carry one."""
        value = self.extra.get("accuracy")
        return value if isinstance(value, Mapping) else {}

    @property
    def parity_passed(self) -> bool | None:
        return (self.extra.get("parity") or {}).get("passed")

    @property
    def parity_max_abs(self) -> float | None:
        return (self.extra.get("parity") or {}).get("max_abs")

    p50_ms = _ExtraField("p50_ms", float)
    p99_ms = _ExtraField("p99_ms", float)
    rounds = _ExtraField("rounds", int)
    throughput_per_s = _ExtraField("throughput_per_s", float)
    artifact_bytes = _ExtraField("artifact_bytes", int)
    threads = _ExtraField("threads", int)
    weights = _ExtraField("weights", str, default="")
    peak_memory_bytes = _ExtraField("peak_memory_bytes", int)  # the larger of load and inference
    load_memory_bytes = _ExtraField("peak_memory_load_bytes", int)
    inference_memory_bytes = _ExtraField("peak_memory_inference_bytes", int)
    peak_memory_method = _ExtraField("peak_memory_method", str, default="")
    gflops_achieved = _ExtraField("gflops_achieved", float)
    pct_of_peak = _ExtraField("pct_of_peak", float)  # of the run's best measured GEMM
    pct_of_hardware_peak = _ExtraField("pct_of_hardware_peak", float)  # of the theoretical fp32 peak
    unstable = _ExtraField("unstable", bool)
    iqr_over_median = _ExtraField("iqr_over_median", float)
    page_faults_per_call = _ExtraField("page_faults_per_call", float)  # minor faults, every thread
