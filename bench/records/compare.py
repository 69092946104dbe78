"""Compare two benchmark JSON files row by row: deltas, runtime/eager ratios, regressions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.measure.environment import RESULTS_SCHEMA_VERSION
from train.errors import BenchError

# Latency metrics: higher is worse. `<name>_ms` in extra_info, else pytest-benchmark's stats (s).
METRICS = {"p50": "median", "p90": None, "p99": None, "mean": "mean", "min": "min"}

RowKey = tuple[str, str, str, str]  # model, runtime, device, batch


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


@dataclass(frozen=True)
class Comparison:
    """All rows plus the warnings a reader must see before trusting the deltas."""

    metric: str
    threshold_pct: float
    rows: list[ComparedRow]
    warnings: list[str]

    @property
    def regressions(self) -> list[ComparedRow]:
        """Matched rows slower than the threshold."""
        return [r for r in self.rows if r.regressed]


def load_results(path: Path) -> dict:
    """A bench benchmark JSON; BenchError when missing, not JSON, or of another schema."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"results file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchError(f"{path} is not a readable JSON results file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BenchError(f"{path} is not a pytest-benchmark JSON file (no 'benchmarks' list)")
    schema = (data.get("machine_info") or {}).get("bench", {}).get("schema_version")
    if schema != RESULTS_SCHEMA_VERSION:
        raise BenchError(
            f"{path} has results schema {schema!r}, this bench reads schema {RESULTS_SCHEMA_VERSION}; "
            "re-run `bench run` with this version to compare"
        )
    return data


def row_key(benchmark: dict) -> RowKey:
    """(model, runtime, device, batch) of one pytest-benchmark entry."""
    info = benchmark.get("extra_info", {})
    try:
        return (str(info["model"]), str(info["runtime"]), str(info["device"]), str(info["batch"]))
    except KeyError as exc:
        raise BenchError(f"benchmark {benchmark.get('fullname')!r} lacks extra_info {exc}") from None


def metric_ms(benchmark: dict, metric: str) -> float | None:
    """The metric in milliseconds: from extra_info `<metric>_ms`, else pytest-benchmark's stats."""
    value = benchmark.get("extra_info", {}).get(f"{metric}_ms")
    if value is not None:
        return float(value)
    stat = METRICS[metric]
    if stat and stat in benchmark.get("stats", {}):
        return float(benchmark["stats"][stat]) * 1e3
    return None


def _by_key(data: dict, metric: str) -> dict[RowKey, float | None]:
    return {row_key(b): metric_ms(b, metric) for b in data["benchmarks"]}


def _vs_eager(rows: dict[RowKey, float | None], key: RowKey) -> float | None:
    """This row's metric divided by eager's on the same model/device/batch (machine-independent)."""
    model, _, device, batch = key
    eager = rows.get((model, "eager", device, batch))
    value = rows.get(key)
    if not eager or value is None:
        return None
    return value / eager


def environment_warnings(before: dict, after: dict) -> list[str]:
    """Differences in machine or versions that make absolute deltas unreliable."""
    warnings = []
    env_a = (before.get("machine_info") or {}).get("bench", {})
    env_b = (after.get("machine_info") or {}).get("bench", {})
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
    return warnings


def compare(before: dict, after: dict, *, metric: str = "p50", threshold_pct: float = 10.0) -> Comparison:
    """Match rows by (model, runtime, device, batch) and flag those slower by more than threshold_pct."""
    if metric not in METRICS:
        raise BenchError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    if threshold_pct < 0:
        raise BenchError(f"--fail-above must be >= 0 %, got {threshold_pct}")
    rows_a, rows_b = _by_key(before, metric), _by_key(after, metric)
    compared = []
    for key in list(rows_a) + [k for k in rows_b if k not in rows_a]:
        a, b = rows_a.get(key), rows_b.get(key)
        delta = (b - a) / a * 100.0 if a and b is not None else None
        compared.append(ComparedRow(
            key, a, b, delta, _vs_eager(rows_a, key) if key in rows_a else None,
            _vs_eager(rows_b, key) if key in rows_b else None,
            regressed=delta is not None and delta > threshold_pct,
        ))
    return Comparison(metric, threshold_pct, compared, environment_warnings(before, after))


def parse_percent(text: str) -> float:
    """'10%' or '10' -> 10.0; BenchError otherwise."""
    try:
        return float(text.strip().removesuffix("%"))
    except ValueError:
        raise BenchError(f"--fail-above takes a percentage like 10% , got {text!r}") from None
