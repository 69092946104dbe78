"""Golden check of the results schema: a run written today carries every field a schema-1 file carried, with
the same types and meaning; schema-1 files are still read (migrated), compared and reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.records.reader import parse_run, read_run
from bench.records.schema import SCHEMA_VERSION
from bench.run.config import RunConfig
from bench.run.runner import run_benchmarks

# Written by `bench run --models mnist-mlp,cora-mlp --batch-sizes 1 --threads 1 --warmup 2 --max-time 0.05
# --min-rounds 5` at commit ebbebc2 (schema 1, before the records layer existed), kept byte for byte.
SCHEMA1_FILE = Path(__file__).parent / "data" / "run_schema1_cpu.json"
# pytest-benchmark's own blocks that depend on the checkout and machine, not on bench's schema.
NOT_OURS = ("commit_info",)


def paths(value, prefix: str = "") -> dict[str, type]:
    """Every key path in a JSON document (list items as `[]`) -> the type found at its leaves."""
    found: dict[str, type] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= paths(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for item in value:
            found |= paths(item, f"{prefix}[]")
        found.setdefault(f"{prefix}[]", type(None)) if not value else None
    else:
        found[prefix] = float if isinstance(value, int) and not isinstance(value, bool) else type(value)
    return found


def check_meaning(data: dict) -> None:
    """Invariants that tie the fields together, asserted alike on old and new files."""
    peak = data["machine_info"]["bench"]["matmul_peak"]["gflops"]
    for entry in data["benchmarks"]:
        extra, stats = entry["extra_info"], entry["stats"]
        ordered = sorted(stats["data"])
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        assert extra["p50_ms"] == pytest.approx(median * 1e3)  # p50 in ms of pytest-benchmark's rounds
        assert extra["rounds"] == len(stats["data"]) == stats["rounds"]
        assert extra["throughput_per_s"] == pytest.approx(extra["batch"] / (extra["p50_ms"] / 1e3))
        assert extra["unstable"] == (extra["iqr_over_median"] > 0.10)
        assert extra["pct_of_peak"] == pytest.approx(100 * extra["gflops_achieved"] / peak)
        assert extra["parity"]["passed"] is True and extra["unit"] in ("samples", "nodes")
        assert extra["peak_memory_bytes"] > 0 and extra["peak_memory_method"]
        assert entry["group"] == f"{extra['model']}|{extra['device']}|{extra['batch']}"
    statuses = {o["status"] for o in data["bench"]["outcomes"]}
    assert statuses == {"passed"} and len(data["bench"]["outcomes"]) == len(data["benchmarks"])


@pytest.fixture(scope="module")
def new_run(mnist_mlp_results) -> Path:
    """A tiny real `bench run` with today's code (mnist-mlp, three runtimes, memory on)."""
    config = RunConfig(models=("mnist-mlp",), batch_sizes=(1,), results_dir=mnist_mlp_results, threads=1,
                       warmup=2, max_time_s=0.05, min_rounds=5)
    return run_benchmarks(config).json_path


def test_schema1_fixture_holds_the_invariants():
    check_meaning(json.loads(SCHEMA1_FILE.read_text()))


def test_a_new_file_carries_every_schema1_field_with_the_same_type(new_run):
    old = json.loads(SCHEMA1_FILE.read_text())
    new = json.loads(new_run.read_text())
    old_paths = {p: t for p, t in paths(old).items() if not p.startswith(NOT_OURS)}
    new_paths = paths(new)
    missing = sorted(set(old_paths) - set(new_paths))
    assert not missing, f"fields written by schema 1 and absent now: {missing}"
    changed = {p: (old_paths[p], new_paths[p]) for p in old_paths if old_paths[p] is not new_paths[p]
               and type(None) not in (old_paths[p], new_paths[p])}
    assert not changed, f"fields whose type changed: {changed}"
    check_meaning(new)
    assert new["bench"]["schema_version"] == SCHEMA_VERSION == new["machine_info"]["bench"]["schema_version"]
    assert new["bench"]["config"]["models"] == ["mnist-mlp"] and new["bench"]["config"]["threads"] == 1


def test_schema1_file_is_read_through_the_migration():
    run = read_run(SCHEMA1_FILE)
    assert run.read_version == 1 and run.data["bench"]["schema_version"] == SCHEMA_VERSION
    assert run.data["bench"]["suite"]["warmup_calls"] == 2  # schema 1 wrote 0; the count is in the options
    assert [(r.model, r.runtime, r.batch, r.unit) for r in run.rows] == [
        ("mnist-mlp", "eager", 1, "samples"), ("mnist-mlp", "onnxruntime", 1, "samples"),
        ("mnist-mlp", "torchscript", 1, "samples"), ("cora-mlp", "eager", 2708, "nodes"),
        ("cora-mlp", "onnxruntime", 2708, "nodes"), ("cora-mlp", "torchscript", 2708, "nodes")]
    assert run.config == {"models": ["mnist-mlp", "cora-mlp"],
                          "runtimes": ["eager", "onnxruntime", "torchscript"], "device": "cpu",
                          "threads": 1, "seed": 0, "warmup": 2, "batch_sizes": [1],
                          "memory": True, "include_transfer": False, "stability_budget_s": 0.05,
                          "results_dir": "/tmp/golden"}
    eager = run.rows[0]
    assert run.rows[1].speedup_vs_eager == pytest.approx(eager.p50_ms / run.rows[1].p50_ms)
    assert parse_run(run.data).rows == tuple(r.__class__(**{**r.__dict__, "source": None}) for r in run.rows)


def test_compare_reads_a_schema1_file_against_a_new_one(new_run):
    result = CliRunner().invoke(app, ["compare", str(SCHEMA1_FILE), str(new_run), "--fail-above", "100000%",
                                      "--allow-missing", "--show-unmatched"],  # new_run has no cora-mlp rows
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for runtime in ("eager", "onnxruntime", "torchscript"):
        assert f"mnist-mlp │ {runtime}" in result.output
    assert "only in before" in result.output  # the cora-mlp rows


def test_report_reads_a_results_folder_holding_both_versions(new_run, tmp_path):
    folder = tmp_path / "results" / "benchmarks"
    folder.mkdir(parents=True)
    (folder / "20261204T172807Z_cpu.json").write_bytes(SCHEMA1_FILE.read_bytes())
    (folder / "20991231T000000Z_cpu.json").write_bytes(new_run.read_bytes())
    args = ["report", "--results-dir", str(tmp_path / "results"), "--dataset", "cora", "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    tables = {t["key"]: t for t in json.loads(result.output)["tables"]}
    rows = {(r["model"], r["runtime"]): r for r in tables["benchmark.cpu"]["rows"]}
    assert rows[("cora-mlp", "eager")]["p50 ms"] > 0  # from the schema-1 file
