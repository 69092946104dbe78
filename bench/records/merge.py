"""Merge `bench run` files measured on several machines (or shards of one run): rows grouped by machine.

A machine is named by what decides its numbers: the CPU model and, where the run used one, the GPU model
(`machine_of`). Two shards that ran on two nodes of one cluster partition are one machine here; a laptop
and a CI runner are two. Per machine, the files' rows are joined into one run document that every reader
of run files (compare, report, plots) reads like a run of its own; a row measured twice on one machine is
an error (which one would be the figure?), as are files whose measurement settings differ.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.records.reader import RunResults, parse_run
from bench.records.schema import row_key

# RunConfig keys that shards of one matrix may differ in: what was run, not how it was measured.
_MATRIX_KEYS = frozenset({"models", "runtimes", "batch_sizes", "results_dir", "data_dir", "reuse_exports",
                          "failed_exports"})


@dataclass(frozen=True)
class MachineRuns:
    """The files measured on one machine, and their rows joined into one run document."""

    machine: str  # "AMD EPYC 7B13 · NVIDIA H100 80GB HBM3", or the CPU model alone
    runs: tuple[RunResults, ...]
    merged: RunResults  # the joined document (path None until written)

    @property
    def hosts(self) -> list[str]:
        """The host names the files were measured on, in file order, once each."""
        return list(dict.fromkeys(host_of(run) for run in self.runs))


def machine_of(run: RunResults) -> str:
    """What names the machine a file was measured on: its CPU model, and its GPU model for a CUDA run."""
    env = run.environment or {}
    cpu = str(env.get("cpu") or (run.data.get("machine_info") or {}).get("cpu", {}).get("brand_raw")
              or "unknown CPU")
    devices = {row.device.split(":")[0] for row in run.rows} | {str(run.config.get("device", "cpu"))}
    gpus = (env.get("cuda") or {}).get("gpus") or []
    if "cuda" in devices and gpus:
        return f"{cpu} · {gpus[0]}"
    return cpu


def host_of(run: RunResults) -> str:
    """The host name pytest-benchmark recorded for the file ('?' when it did not)."""
    return str((run.data.get("machine_info") or {}).get("node") or "?")


def merge_runs(runs: Sequence[RunResults]) -> list[MachineRuns]:
    """Group `runs` by machine (first-seen order) and join each group's rows; BenchError when a row appears
    twice on one machine or one machine's files were measured with different settings."""
    if not runs:
        raise BenchError("nothing to merge: pass at least one results file")
    groups: dict[str, list[RunResults]] = {}
    for run in runs:
        groups.setdefault(machine_of(run), []).append(run)
    return [MachineRuns(machine, tuple(group), _join(machine, group)) for machine, group in groups.items()]


def settings_differences(a: RunResults, b: RunResults) -> list[str]:
    """How the measurement settings of two files differ ('threads: 2 vs 4'); the matrix keys are ignored."""
    ca, cb = a.config, b.config
    keys = sorted((set(ca) | set(cb)) - _MATRIX_KEYS)
    differences = [f"{key}: {ca.get(key)!r} vs {cb.get(key)!r}" for key in keys if ca.get(key) != cb.get(key)]
    # The allocator in effect, not only the one asked for (a preloaded jemalloc answers to either).
    if a.allocator_in_effect != b.allocator_in_effect:
        differences.append(f"host memory: {a.allocator_in_effect!r} vs {b.allocator_in_effect!r}")
    return differences


def _join(machine: str, runs: Sequence[RunResults]) -> RunResults:
    """One run document holding every row of `runs` (all measured on `machine`)."""
    first = runs[0]
    seen: dict = {}
    for run in runs:
        differences = settings_differences(first, run)
        if differences:
            raise BenchError(f"{_name(run)} was measured with other settings than {_name(first)} "
                             f"({'; '.join(differences)}); merge files of one configuration")
        if run.interrupted:
            raise BenchError(f"{_name(run)} is an interrupted run (only its finished cases); rerun it "
                             "before merging, so no row is missing without a reason")
        for row in run.rows:
            if row.key in seen:
                raise BenchError(f"{row.model} / {row.runtime} / {row.device} / batch {row.batch} is in "
                                 f"both {_name(seen[row.key])} and {_name(run)}, measured on {machine}; "
                                 "merge files with different rows (compare two runs with `bench compare`)")
            seen[row.key] = run
    data = copy.deepcopy(first.data)
    data["benchmarks"] = [b for run in runs for b in copy.deepcopy(run.data["benchmarks"])]
    bench = data["bench"]
    bench["outcomes"] = [o for run in runs for o in copy.deepcopy(run.data["bench"].get("outcomes") or [])]
    bench["paired"] = [p for run in runs for p in copy.deepcopy(run.data["bench"].get("paired") or [])]
    preload: dict[str, Any] = {}
    for run in runs:
        preload.update(run.data["bench"].get("preload_s") or {})
    if preload:
        bench["preload_s"] = preload
    config = bench.setdefault("config", {})
    for key in ("models", "runtimes", "batch_sizes"):
        config[key] = list(dict.fromkeys(v for run in runs for v in run.config.get(key) or []))
    config["failed_exports"] = {k: v for run in runs
                                for k, v in (run.config.get("failed_exports") or {}).items()}
    # The run's contention is its worst shard's: a bootstrap over rows of a contended shard is noisy too.
    shares = [run.data["bench"].get("foreign_cpu_share") for run in runs]
    known = [s for s in shares if isinstance(s, (int, float))]
    bench["foreign_cpu_share"] = max(known) if known else None
    bench["merged_from"] = [{"file": str(run.path) if run.path else None, "host": host_of(run),
                             "datetime": run.data.get("datetime"),
                             "foreign_cpu_share": run.data["bench"].get("foreign_cpu_share"),
                             "rows": len(run.rows), "machine_info": run.data.get("machine_info")}
                            for run in runs]
    merged = parse_run(data)
    _check_keys(merged)
    return merged


def _check_keys(merged: RunResults) -> None:
    """Every benchmark entry of the joined document is one row (a guard on the join above)."""
    keys = [row_key(b.get("extra_info") or {}) for b in merged.data["benchmarks"]]
    if len(keys) != len(set(keys)):
        raise BenchError("merging produced a row twice; report this as a bug")


def _name(run: RunResults) -> str:
    return str(run.path) if run.path is not None else "a results document"


def merged_paths(target_dir: Path, stamp: str, device: str, count: int) -> list[Path]:
    """Where the merged documents of `count` machines go: `<stamp>_<device>.json`, or `_m1`, `_m2`, … ."""
    base = Path(target_dir)
    if count == 1:
        return [base / f"{stamp}_{device}.json"]
    return [base / f"{stamp}_{device}_m{n}.json" for n in range(1, count + 1)]
