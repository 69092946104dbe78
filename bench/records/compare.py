"""Compare two benchmark runs row by row: deltas, runtime/eager ratios, regressions (data only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.records.reader import RunResults, read_run
from bench.records.schema import LATENCY_METRICS, REFERENCE_RUNTIME, RowKey


@dataclass(frozen=True)
class ComparedRow:
    """One matched (or unmatched) row: metric in ms in each file, delta %, ratios to eager."""

    key: RowKey
    before_ms: float | None
    after_ms: float | None
    delta_pct: float | None
    before_vs_eager: float | None
    after_vs_eager: float | None
    regressed: bool
    failed: str = ""  # why the row failed in the candidate run (e.g. parity); a failure fails the comparison


@dataclass(frozen=True)
class Comparison:
    """All rows plus the warnings a reader must see before trusting the deltas."""

    metric: str
    threshold_pct: float
    rows: list[ComparedRow]
    warnings: list[str]

    @property
    def regressions(self) -> list[ComparedRow]:
        """Rows slower than the threshold, or failed in the candidate run."""
        return [r for r in self.rows if r.regressed or r.failed]


NOT_RECORDED = "not recorded (torch's defaults)"


def load_results(path: Path) -> RunResults:
    """A run file to compare (any schema version the reader migrates); BenchError otherwise."""
    return read_run(Path(path))


def _by_key(run: RunResults, metric: str) -> dict[RowKey, float | None]:
    """Every measured row's metric (ms), by key; None where the row has too few rounds for it."""
    return {row.key: row.backed_ms(metric) for row in run.rows if row.status == "ok"}


def _vs_eager(rows: dict[RowKey, float | None], key: RowKey) -> float | None:
    """This row's metric divided by eager's on the same model/device/batch (machine-independent)."""
    eager = rows.get(key._replace(runtime=REFERENCE_RUNTIME))
    value = rows.get(key)
    if not eager or value is None:
        return None
    return value / eager


def environment_warnings(before: RunResults, after: RunResults) -> list[str]:
    """Differences in machine or versions that make absolute deltas unreliable."""
    warnings = []
    env_a, env_b = before.environment or {}, after.environment or {}
    for field in ("cpu", "threads_used", "os"):
        if env_a.get(field) != env_b.get(field):
            warnings.append(f"different {field}: {env_a.get(field)!r} vs {env_b.get(field)!r}")
    packages_a, packages_b = env_a.get("packages", {}), env_b.get("packages", {})
    for name in sorted(set(packages_a) | set(packages_b)):
        if packages_a.get(name) != packages_b.get(name):
            warnings.append(f"different {name}: {packages_a.get(name)} vs {packages_b.get(name)}")
    if warnings:
        warnings.append("absolute deltas compare machines, not code; "
                        "the ratio-to-eager columns stay meaningful")
    # Settings that change what is computed or timed: a delta across them may be the setting, not the code.
    # TF32 and cuDNN autotuning exist on CUDA only; a file too old to record them ran torch's defaults.
    cuda = any(str(run.config.get("device", "")).startswith("cuda") for run in (before, after))
    keys = ("precision", "cudnn_benchmark", "include_transfer") if cuda else ("include_transfer",)
    for key in keys:
        value_a = before.config.get(key, NOT_RECORDED)
        value_b = after.config.get(key, NOT_RECORDED)
        if value_a != value_b:
            warnings.append(f"different {key}: {value_a!r} vs {value_b!r}; a delta may be the setting, "
                            "not the code")
    for name, run in (("before", before), ("after", after)):
        if run.interrupted:
            warnings.append(f"the {name} run was interrupted (Ctrl-C): it holds only the cases that finished")
    return warnings


def compare(before: RunResults, after: RunResults, *, metric: str = "p50",
            threshold_pct: float = 10.0) -> Comparison:
    """Match rows by (model, runtime, device, batch) and flag those slower by more than threshold_pct."""
    if metric not in LATENCY_METRICS:
        raise BenchError(f"unknown metric {metric!r}; choose one of: {', '.join(LATENCY_METRICS)}")
    if threshold_pct < 0:
        raise BenchError(f"--fail-above must be >= 0 %, got {threshold_pct}")
    rows_a, rows_b = _by_key(before, metric), _by_key(after, metric)
    failed = {row.key: row.reason or "failed" for row in after.rows if row.status == "failed"}
    compared = []
    for key in list(rows_a) + [k for k in [*rows_b, *failed] if k not in rows_a]:
        a, b = rows_a.get(key), rows_b.get(key)
        delta = (b - a) / a * 100.0 if a and b is not None else None
        compared.append(ComparedRow(
            key, a, b, delta, _vs_eager(rows_a, key) if key in rows_a else None,
            _vs_eager(rows_b, key) if key in rows_b else None,
            regressed=delta is not None and delta > threshold_pct, failed=failed.get(key, ""),
        ))
    return Comparison(metric, threshold_pct, compared, environment_warnings(before, after))


def parse_percent(text: str) -> float:
    """'10%' or '10' -> 10.0; BenchError otherwise."""
    try:
        return float(text.strip().removesuffix("%"))
    except ValueError:
        raise BenchError(f"--fail-above takes a percentage like 10% , got {text!r}") from None
