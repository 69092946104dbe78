"""The one reader of `bench run` JSON files: validate, migrate older schema versions, return rows.

compare, report, plots, TensorBoard and the runner itself read run files through `read_run` or `parse_run`;
nothing else parses `extra_info` or the `bench` section.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.records.schema import (
    READABLE_VERSIONS,
    REFERENCE_RUNTIME,
    SCHEMA_VERSION,
    ResultRow,
    RowKey,
    row_key,
)


@dataclass(frozen=True)
class RunResults:
    """One run file, brought to the current schema: its rows in case order and its context."""

    path: Path | None
    data: dict[str, Any]  # the whole document, migrated to SCHEMA_VERSION
    read_version: int  # the schema version the file was written with
    rows: tuple[ResultRow, ...]

    @property
    def environment(self) -> dict[str, Any] | None:
        """machine_info.bench: the hardware/software block the run was measured on."""
        return (self.data.get("machine_info") or {}).get("bench")

    @property
    def config(self) -> dict[str, Any]:
        """The run's configuration (bench.config; reconstructed from the suite block for version-1 files)."""
        return dict(self.data["bench"].get("config") or {})

    @property
    def interrupted(self) -> bool:
        """True when the run was stopped (Ctrl-C) and holds only the cases that had finished."""
        return bool(self.data["bench"].get("interrupted"))

    def get(self, key: RowKey) -> ResultRow | None:
        return next((r for r in self.rows if r.key == key), None)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; missing, unreadable or malformed files are a BenchError naming them."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"results file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); "
                         "delete it or rerun what wrote it") from None
    if not isinstance(data, dict):
        raise BenchError(f"{path} does not hold a JSON object")
    return data


def read_run(path: Path) -> RunResults:
    """A `bench run` JSON file, validated and migrated; BenchError when it is not one this bench reads."""
    return parse_run(read_json(path), Path(path))


def parse_run(data: dict[str, Any], source: Path | None = None) -> RunResults:
    """`data` (a run document) validated and migrated to SCHEMA_VERSION, with its rows."""
    where = source if source is not None else "the results"
    if not isinstance(data.get("benchmarks"), list):
        raise BenchError(f"{where} is not a pytest-benchmark JSON file (no 'benchmarks' list)")
    version = schema_version(data)
    if version not in READABLE_VERSIONS:
        raise BenchError(f"{where} has results schema {version!r}; this bench reads schema "
                         f"{', '.join(map(str, READABLE_VERSIONS))}: re-run `bench run` with this version")
    migrated = migrate(data, version)
    return RunResults(source, migrated, version, tuple(_rows(migrated, source)))


def schema_version(data: dict[str, Any]) -> int | None:
    """The version a run file declares: `bench.schema_version`, else (version 1) `machine_info.bench`'s."""
    declared = (data.get("bench") or {}).get("schema_version")
    if declared is None:
        declared = ((data.get("machine_info") or {}).get("bench") or {}).get("schema_version")
    return declared if isinstance(declared, int) else None


def migrate(data: dict[str, Any], version: int) -> dict[str, Any]:
    """A copy of `data` at SCHEMA_VERSION. 1 -> 2: `bench.schema_version` set, `bench.config` rebuilt from
    the version-1 `bench.suite` block and the cases the file lists (keys that block lacks stay absent)."""
    out = copy.deepcopy(data)
    section = out.setdefault("bench", {})
    if version == 1:
        suite = section.get("suite") or {}
        outcomes = section.get("outcomes") or []
        config = {"models": _unique(o["model"] for o in outcomes),
                  "runtimes": _unique(o["runtime"] for o in outcomes)}
        renamed = {"device": "device", "threads": "threads", "seed": "seed", "warmup_calls": "warmup",
                   "batch_sizes": "batch_sizes", "memory": "memory", "include_transfer": "include_transfer",
                   "stability_budget_s": "stability_budget_s"}
        config |= {new: suite[old] for old, new in renamed.items() if old in suite}
        # Version 1 wrote warmup_calls 0 whenever pytest-benchmark did the warm-up (every `bench run`); the
        # count it used is in each entry's options.
        options_warmup = next((b.get("options", {}).get("warmup") for b in out.get("benchmarks", [])), None)
        if not config.get("warmup") and type(options_warmup) is int:
            config["warmup"] = options_warmup
            suite["warmup_calls"] = options_warmup  # as version 2 records it
        if "exports" in suite:
            config["results_dir"] = str(Path(suite["exports"]).parent)
        section["config"] = config
    section["schema_version"] = SCHEMA_VERSION
    ((out.get("machine_info") or {}).get("bench") or {})["schema_version"] = SCHEMA_VERSION
    return out


def _rows(data: dict[str, Any], source: Path | None) -> list[ResultRow]:
    """Measured rows from `benchmarks` plus skipped/failed rows from `bench.outcomes`, in case order."""
    share = data["bench"].get("foreign_cpu_share")
    share = float(share) if isinstance(share, (int, float)) else None
    measured = []
    for entry in data["benchmarks"]:
        info = entry.get("extra_info") or {}
        if "p50_ms" not in info:
            continue
        try:
            key = row_key(info)
        except (KeyError, TypeError, ValueError) as exc:
            name = entry.get("fullname")
            raise BenchError(f"benchmark {name!r} in {source} lacks extra_info {exc}") from None
        measured.append(ResultRow(*key, unit=info.get("unit", "samples"), status="ok", extra=info,
                                  source=source, foreign_cpu_share=share))
    outcomes = data["bench"].get("outcomes") or []
    verdicts = {row_key(o): o for o in outcomes}
    # A case timed and then failed (its output missed parity) keeps its figures, marked failed.
    measured = [_failed(r, verdicts[r.key]) if verdicts.get(r.key, {}).get("status") == "failed" else r
                for r in measured]
    eager = {(r.model, r.device, r.batch): r.p50_ms for r in measured
             if r.runtime == REFERENCE_RUNTIME and r.status == "ok"}
    rows = {r.key: _with_speedup(r, eager) if r.status == "ok" else r for r in measured}
    for outcome in outcomes:
        key = row_key(outcome)
        if outcome["status"] != "passed" or key not in rows:
            status = "skipped" if outcome["status"] == "skipped" else "failed"
            rows.setdefault(key, ResultRow(*key, unit=outcome.get("unit", "samples"), status=status,
                                           reason=outcome.get("reason", ""), source=source,
                                           foreign_cpu_share=share))
    order = {row_key(o): i for i, o in enumerate(outcomes)}
    return sorted(rows.values(), key=lambda r: order.get(r.key, len(order)))


def _failed(row: ResultRow, outcome: dict) -> ResultRow:
    """A measured row whose case failed after timing: status failed, the reason, the figures kept."""
    return replace(row, status="failed", reason=outcome.get("reason", ""))


def _with_speedup(row: ResultRow, eager_p50: dict) -> ResultRow:
    """`row` with its speedup over eager on the same model/device/size (None without an eager row)."""
    base = eager_p50.get((row.model, row.device, row.batch))
    if not base or not row.p50_ms:
        return row
    return replace(row, speedup_vs_eager=base / row.p50_ms)


def _unique(items) -> list:
    return list(dict.fromkeys(items))
