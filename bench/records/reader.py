"""The one reader of `bench run` JSON files: validate, migrate older schema versions, return rows.

compare, report, plots, TensorBoard and the runner itself read run files through `read_run` or `parse_run`;
nothing else parses `extra_info` or the `bench` section.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
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
    def allocator_in_effect(self) -> str | None:
        """The host malloc the run timed under, in words (`bench.allocator`); None before it was recorded."""
        return (self.data.get("bench") or {}).get("allocator")

    @property
    def interrupted(self) -> bool:
        """True when the run was stopped (Ctrl-C, SIGTERM, SIGHUP) and holds only the cases that finished."""
        return bool(self.data["bench"].get("interrupted"))

    @property
    def interruption(self) -> str:
        """'interrupted (SIGTERM)', or plain 'interrupted' for a file that does not record the signal; '' for
        a complete run."""
        if not self.interrupted:
            return ""
        by = self.data["bench"].get("interrupted_by")
        return f"interrupted ({by})" if by else "interrupted"

    def get(self, key: RowKey) -> ResultRow | None:
        return next((r for r in self.rows if r.key == key), None)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; missing, unreadable or malformed files are a BenchError naming them."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise BenchError(f"results file not found: {path}") from None
    except IsADirectoryError:
        raise BenchError(f"{path} is a directory, not a results file; pass a .json file") from None
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BenchError(f"{path} is not a JSON text file (byte {exc.start} is not UTF-8); "
                         "delete it or rerun what wrote it") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); "
                         "delete it or rerun what wrote it") from None
    except RecursionError:
        raise BenchError(f"{path} nests too deeply to be a results file; delete it or rerun what wrote it") \
            from None
    if not isinstance(data, dict):
        raise BenchError(f"{path} does not hold a JSON object; delete it or rerun what wrote it")
    return data


def read_run(path: Path) -> RunResults:
    """A `bench run` JSON file, validated and migrated; BenchError when it is not one this bench reads."""
    return parse_run(read_json(path), Path(path))


def parse_run(data: dict[str, Any], source: Path | None = None) -> RunResults:
    """`data` (a run document) validated and migrated to SCHEMA_VERSION, with its rows.

    Every field a reader downstream uses is checked for the JSON type `bench run` writes (RUN_FIELDS): a
    file that was edited or damaged is one BenchError naming the file, the field and what to do, never a
    crash in compare, report or plots."""
    where = source if source is not None else "the results"
    if not isinstance(data.get("benchmarks"), list):
        raise BenchError(f"{where} is not a pytest-benchmark JSON file (no 'benchmarks' list); "
                         f"{_FIX}")
    check_fields(data, RUN_FIELDS, where, _FIX)
    version = schema_version(data)
    if version is None:
        raise BenchError(f"{where} declares no results schema (neither bench.schema_version nor "
                         f"machine_info.bench.schema_version); {_FIX}")
    if version not in READABLE_VERSIONS:
        raise BenchError(f"{where} has results schema {version!r}; this bench reads schema "
                         f"{', '.join(map(str, READABLE_VERSIONS))}: re-run `bench run` with this version")
    migrated = migrate(data, version)
    return RunResults(source, migrated, version, tuple(_rows(migrated, source)))


# --- what a run file's fields must be ---------------------------------------------------------------------
# JSON kinds, as the error line names them. A field may be absent (older files lack newer fields) and, unless
# REQUIRED, null ("not recorded"); a present field of another kind makes the file unreadable.
NUMBER, INTEGER, STRING, BOOLEAN = "a number", "an integer", "a string", "true or false"
_INT_LIMIT = 2**63  # counts and bytes beyond int64 are not measurements; float() of them would overflow
_FIX = "re-run `bench run` for a new file, or delete it (move it out of results/benchmarks/)"


@dataclass(frozen=True)
class Obj:
    """An object whose listed keys have these kinds (other keys are kept unchecked); `each`: every value's
    kind when the keys are free (package -> version); `null`: whether null may stand for it."""

    fields: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    each: Any = None
    null: bool = True


@dataclass(frozen=True)
class Arr:
    """An array whose items all have kind `item` (`null`: whether null may stand for the array)."""

    item: Any
    null: bool = True


# export.parity.Parity.as_dict writes a NaN or infinite figure as its string ('nan', 'inf').
_FIGURE = (NUMBER, STRING)
_PARITY = Obj({"max_abs": _FIGURE, "max_rel": _FIGURE, "argmax_agreement": _FIGURE, "atol": _FIGURE,
               "rtol": _FIGURE, "passed": BOOLEAN, "checked_on": STRING})
_PAIRED = Obj({"speedup": NUMBER, "ci_low": NUMBER, "ci_high": NUMBER, "confidence": NUMBER,
               "rounds": INTEGER, "reference": STRING})
_FIRST_RESULT = Obj({"export_s": NUMBER, "export": STRING, "load_s": NUMBER, "compile_s": NUMBER,
                     "first_call_s": NUMBER, "total_s": NUMBER, "reused_session": BOOLEAN})
_ROW_FIELDS = {
    "first_result": _FIRST_RESULT, "runtime_report": Obj(),
    "model": STRING, "runtime": STRING, "device": STRING, "batch": INTEGER, "unit": STRING,
    "parity": _PARITY, "paired": _PAIRED, "precision": Obj(), "runtime_settings": Obj(),
    "independent_timing": Obj({"harness_over_independent": NUMBER, "median_ms": NUMBER}),
    "accuracy": Obj({"test_acc": NUMBER, "eager_test_acc": NUMBER, "delta_vs_eager_pp": NUMBER,
                     "differs_from_eager": INTEGER, "samples": INTEGER, "split": STRING, "dataset": STRING,
                     "reason": STRING}),
    "providers": Arr(STRING), "recipe": STRING, "weights": STRING, "timing_scope": STRING,
    "runtime_device": STRING, "warmup": STRING, "warmup_settled": BOOLEAN, "unstable": BOOLEAN,
    "peak_memory_method": STRING, "peak_memory_scope": STRING, "allocator": STRING,
    **{f"{m}_ms": NUMBER for m in ("p50", "p90", "p99", "mean", "std", "iqr", "min", "max")},
    **dict.fromkeys(("throughput_per_s", "iqr_over_median", "gflops_achieved", "pct_of_peak",
                     "matmul_peak_gflops", "hardware_peak_gflops", "pct_of_hardware_peak",
                     "page_faults_per_call"), NUMBER),
    **dict.fromkeys(("rounds", "calls_per_round", "artifact_bytes", "threads", "interop_threads", "flops",
                     "extra_rounds", "peak_memory_bytes", "peak_memory_load_bytes",
                     "peak_memory_inference_bytes", "peak_memory_reserved_bytes"), INTEGER),
}
_KEY = ("model", "runtime", "device", "batch")
_OUTCOME = Obj({"model": STRING, "runtime": STRING, "device": STRING, "batch": INTEGER, "unit": STRING,
                "status": STRING, "reason": STRING}, required=(*_KEY, "status"), null=False)
_ENVIRONMENT = Obj(null=False, fields={  # machine_info.bench
    "schema_version": INTEGER, "os": STRING, "python": STRING, "cpu": STRING, "physical_cores": INTEGER,
    "logical_cores": INTEGER, "threads_used": INTEGER, "ram_gib": NUMBER, "git_commit": STRING,
    # Containers the readers go into without a fallback for null (the others may be null: not recorded).
    "packages": Obj(each=STRING, null=False), "onnxruntime_providers_available": Arr(STRING, null=False),
    "cuda": Obj({"available": BOOLEAN, "gpus": Arr(STRING), "driver": STRING}, null=False),
    "matmul_peak": Obj({"gflops": NUMBER}), "hardware_peak": Obj(),
})
# bench.config (RunConfig, version 2) and bench.suite (version 1, migrated into a config).
_CONFIG = Obj({"device": STRING, "models": Arr(STRING), "runtimes": Arr(STRING), "batch_sizes": Arr(INTEGER),
               "threads": INTEGER, "seed": INTEGER, "warmup": INTEGER, "memory": BOOLEAN,
               "include_transfer": BOOLEAN, "stability_budget_s": NUMBER, "max_time_s": NUMBER,
               "min_rounds": INTEGER, "precision": STRING, "cudnn_benchmark": BOOLEAN, "results_dir": STRING,
               "allocator": STRING})
_SUITE = Obj({"device": STRING, "threads": INTEGER, "seed": INTEGER, "warmup_calls": INTEGER,
              "batch_sizes": Arr(INTEGER), "memory": BOOLEAN, "include_transfer": BOOLEAN,
              "stability_budget_s": NUMBER, "exports": STRING})
RUN_FIELDS = Obj({
    # stats.data (the rounds) is left to compare, which skips samples it cannot use, row by row.
    "benchmarks": Arr(Obj({"fullname": STRING, "name": STRING, "extra_info": Obj(_ROW_FIELDS, null=False),
                           "stats": Obj(), "options": Obj({"warmup": INTEGER}, null=False)}, null=False)),
    "machine_info": Obj({"bench": _ENVIRONMENT}, null=False),
    "bench": Obj({"schema_version": INTEGER, "outcomes": Arr(_OUTCOME), "config": _CONFIG, "suite": _SUITE,
                  "foreign_cpu_share": NUMBER, "interrupted": BOOLEAN,
                  "interrupted_by": STRING, "matmul_peak": Obj(), "preload_s": Obj(each=NUMBER),
                  "allocator": STRING},
                 null=False),
}, required=("benchmarks",))
_LEAVES = {STRING: str, BOOLEAN: bool}


def check_fields(value: Any, kind: Any, where: Any, fix: str) -> None:
    """BenchError `<where>: <field> is <what it is>, expected <kind>; <fix>` for the first field of `value`
    (a parsed JSON document) that is not of `kind` (an Obj, Arr, leaf kind, or a tuple of kinds)."""
    _check(value, kind, "", where, fix)


def _check(value: Any, kind: Any, at: str, where: Any, fix: str) -> None:
    """check_fields at the field `at` (recursively; a tuple of kinds: any of them)."""
    if isinstance(kind, tuple):
        for one in kind:
            try:
                return _check(value, one, at, where, fix)
            except BenchError:
                continue
        _wrong(value, " or ".join(kind), at, where, fix)
    if isinstance(kind, Obj):
        if not isinstance(value, dict):
            _wrong(value, "an object", at, where, fix)
        for key in kind.required:
            if key not in value:
                raise BenchError(f"{where}: {_join(at, key)} is missing; {fix}")
        for key, item in value.items():
            sub = kind.fields.get(key, kind.each) if isinstance(key, str) else None
            if sub is None:
                continue
            if item is None and getattr(sub, "null", True) and key not in kind.required:
                continue  # not recorded
            _check(item, sub, _join(at, key), where, fix)
    elif isinstance(kind, Arr):
        if not isinstance(value, list):
            _wrong(value, "an array", at, where, fix)
        for i, item in enumerate(value):
            _check(item, kind.item, f"{at}[{i}]", where, fix)
    elif kind in _LEAVES:
        if not isinstance(value, _LEAVES[kind]):
            _wrong(value, kind, at, where, fix)
    elif kind in (NUMBER, INTEGER):
        number_ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number_ok or (kind == INTEGER and not isinstance(value, int)):
            _wrong(value, kind, at, where, fix)
        if isinstance(value, int) and abs(value) >= _INT_LIMIT:
            raise BenchError(f"{where}: {at} is {value:.3g}, beyond any count or size a run records; {fix}")


def _wrong(value: Any, kind: str, at: str, where: Any, fix: str) -> None:
    """The BenchError for a field of the wrong JSON kind."""
    raise BenchError(f"{where}: {at or 'the document'} is {_kind(value)}, expected {kind}; {fix}")


def _kind(value: Any) -> str:
    """A JSON value as an error line shows it: its kind, and short values themselves."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "an array", bool: "true or false", str: "a string"}
    name = names.get(type(value), NUMBER)
    text = json.dumps(value) if not isinstance(value, (dict, list)) else ""
    return f"{name} ({text})" if text and len(text) <= 40 else name


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


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
    for i, entry in enumerate(data["benchmarks"]):
        info = entry.get("extra_info") or {}
        if "p50_ms" not in info:
            continue  # not timed (pytest-benchmark disabled): no row
        absent = [k for k in _KEY if info.get(k) is None]
        if absent:
            name = entry.get("fullname") or entry.get("name") or f"benchmarks[{i}]"
            raise BenchError(f"benchmark {name!r} in {source} lacks extra_info {', '.join(absent)}, so its "
                             f"row has no model/runtime/device/size; {_FIX}")
        measured.append(ResultRow(*row_key(info), unit=info.get("unit") or "samples", status="ok", extra=info,
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
        if outcome["status"] not in ("passed", "skipped", "failed"):
            continue  # 'not run': an interrupted run never reached the case, which says nothing about it
        if outcome["status"] != "passed" or key not in rows:
            status = "skipped" if outcome["status"] == "skipped" else "failed"
            rows.setdefault(key, ResultRow(*key, unit=outcome.get("unit") or "samples", status=status,
                                           reason=outcome.get("reason") or "", source=source,
                                           foreign_cpu_share=share))
    order = {row_key(o): i for i, o in enumerate(outcomes)}
    return sorted(rows.values(), key=lambda r: order.get(r.key, len(order)))


def _failed(row: ResultRow, outcome: dict) -> ResultRow:
    """A measured row whose case failed after timing: status failed, the reason, the figures kept."""
    return replace(row, status="failed", reason=outcome.get("reason") or "")


def _with_speedup(row: ResultRow, eager_p50: dict) -> ResultRow:
    """`row` with its speedup over eager on the same model/device/size (None without an eager row)."""
    base = eager_p50.get((row.model, row.device, row.batch))
    if not base or not row.p50_ms:
        return row
    return replace(row, speedup_vs_eager=base / row.p50_ms)


def _unique(items) -> list:
    return list(dict.fromkeys(items))
