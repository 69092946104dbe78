"""Benchmark result rows: latency extra_info from raw samples, and table rows read back from the JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bench.measure.roofline import MatmulPeak, percent_of_peak
from bench.measure.stability import UNSTABLE_IQR, iqr_over_median
from bench.measure.stats import summarize, throughput

MS = 1e3  # seconds -> milliseconds


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


def stability_info(samples_s: Sequence[float], extra_rounds: int) -> dict[str, float | int | bool]:
    """extra_info stability fields: IQR/median of the final samples, the flag, rounds added for noise."""
    ratio = iqr_over_median(samples_s)
    return {"iqr_over_median": ratio, "unstable": ratio > UNSTABLE_IQR, "extra_rounds": extra_rounds}


def roofline_info(flops: int, p50_s: float, peak: MatmulPeak) -> dict[str, float | int]:
    """extra_info roofline fields: FLOPs per call, GFLOP/s achieved at p50, % of the run's matmul peak."""
    achieved, pct = percent_of_peak(flops, p50_s, peak)
    return {"flops": flops, "gflops_achieved": achieved, "pct_of_peak": pct,
            "matmul_peak_gflops": peak.gflops}


def memory_info(figure: dict) -> dict[str, int | str]:
    """extra_info peak-memory fields from a bench.run.memory_worker figure (bytes above baseline, method)."""
    info = {"peak_memory_bytes": figure["peak_bytes"], "peak_memory_method": figure["method"],
            "peak_memory_scope": figure.get("scope", "")}
    if figure.get("reserved_bytes") is not None:
        info["peak_memory_reserved_bytes"] = figure["reserved_bytes"]
    return info


@dataclass(frozen=True)
class ResultRow:
    """One line of the results table: numbers for a measured case, a reason for a skipped or failed one."""

    model: str
    runtime: str
    device: str
    batch: int
    unit: str  # "samples" | "nodes"
    status: str  # "ok" | "skipped" | "failed"
    reason: str = ""
    p50_ms: float | None = None
    p99_ms: float | None = None
    throughput_per_s: float | None = None
    speedup_vs_eager: float | None = None  # eager p50 / this p50, same model, device and size
    parity_passed: bool | None = None
    parity_max_abs: float | None = None
    artifact_bytes: int | None = None
    threads: int | None = None
    weights: str = ""
    peak_memory_bytes: int | None = None
    peak_memory_method: str = ""
    gflops_achieved: float | None = None
    pct_of_peak: float | None = None
    unstable: bool | None = None
    iqr_over_median: float | None = None


def rows_from_json(data: dict) -> list[ResultRow]:
    """Measured rows from `benchmarks` plus skipped/failed rows from the `bench` section, in case order."""
    measured = [_measured_row(b["extra_info"]) for b in data.get("benchmarks", [])
                if "p50_ms" in b.get("extra_info", {})]
    eager = {(r.model, r.device, r.batch): r.p50_ms for r in measured if r.runtime == "eager"}
    rows = {(r.model, r.runtime, r.device, r.batch): _with_speedup(r, eager) for r in measured}
    for outcome in (data.get("bench") or {}).get("outcomes", []):
        key = (outcome["model"], outcome["runtime"], outcome["device"], outcome["batch"])
        if outcome["status"] != "passed" or key not in rows:
            status = "skipped" if outcome["status"] == "skipped" else "failed"
            rows.setdefault(key, ResultRow(*key, unit=outcome.get("unit", "samples"), status=status,
                                           reason=outcome.get("reason", "")))
    order = {key: i for i, key in enumerate(_case_order(data))}
    return sorted(rows.values(), key=lambda r: order.get((r.model, r.runtime, r.device, r.batch), len(order)))


def _case_order(data: dict) -> list[tuple]:
    """(model, runtime, device, batch) in the order the suite ran its cases."""
    outcomes = (data.get("bench") or {}).get("outcomes", [])
    return [(o["model"], o["runtime"], o["device"], o["batch"]) for o in outcomes]


def _measured_row(info: dict) -> ResultRow:
    parity = info.get("parity") or {}
    return ResultRow(
        model=info["model"], runtime=info["runtime"], device=info["device"], batch=info["batch"],
        unit=info.get("unit", "samples"), status="ok",
        p50_ms=info["p50_ms"], p99_ms=info["p99_ms"], throughput_per_s=info["throughput_per_s"],
        parity_passed=parity.get("passed"), parity_max_abs=parity.get("max_abs"),
        artifact_bytes=info.get("artifact_bytes"), threads=info.get("threads"),
        weights=info.get("weights", ""),
        peak_memory_bytes=info.get("peak_memory_bytes"),
        peak_memory_method=info.get("peak_memory_method", ""),
        gflops_achieved=info.get("gflops_achieved"), pct_of_peak=info.get("pct_of_peak"),
        unstable=info.get("unstable"), iqr_over_median=info.get("iqr_over_median"),
    )


def _with_speedup(row: ResultRow, eager_p50: dict) -> ResultRow:
    """`row` with its speedup over eager on the same model/device/size (None without an eager row)."""
    base = eager_p50.get((row.model, row.device, row.batch))
    if not base or not row.p50_ms:
        return row
    return replace(row, speedup_vs_eager=base / row.p50_ms)
