"""`bench report` from a coherent set of runs: each case from its newest complete run, never an interrupted
one, memory never blanked by a `--no-memory` run, `--run FILE` to choose, and every row naming its run and
weights where a table mixes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from tests.report_fixtures import case, outcome, write_benchmark, write_training

MIB = 2**20
runner = CliRunner()


def _amend(path: Path, **bench_fields) -> Path:
    """Set fields of the file's `bench` section as `bench run` writes them (interrupted, config, share)."""
    data = json.loads(path.read_text())
    data["bench"].update(bench_fields)
    path.write_text(json.dumps(data, indent=2))
    return path


def _three_runs(root: Path) -> tuple[Path, Path, Path, Path]:
    """results/ after a complete run with memory (mnist-mlp at batch 1 and 64, cora-gcn), a later run of
    mnist-mlp stopped by Ctrl-C after its first case (the others 'not run', as the runner leaves them), and
    a later complete `--no-memory` run of mnist-mlp at batch 1."""
    results = root / "results"
    full = _amend(write_benchmark(results, "20261123T100000Z", [
        case("mnist-mlp", "eager", 1, 0.05, peak_memory_bytes=40 * MIB),
        case("mnist-mlp", "onnxruntime", 1, 0.02, peak_memory_bytes=30 * MIB),
        case("mnist-mlp", "eager", 64, 0.5, peak_memory_bytes=50 * MIB),
        case("mnist-mlp", "onnxruntime", 64, 0.1, peak_memory_bytes=35 * MIB),
        case("cora-gcn", "eager", 2708, 4.0, unit="nodes", peak_memory_bytes=60 * MIB),
    ]), config={"memory": True}, foreign_cpu_share=0.02)
    interrupted = _amend(write_benchmark(results, "20261123T110000Z", [
        case("mnist-mlp", "eager", 1, 0.06, peak_memory_bytes=41 * MIB),
    ], extra_outcomes=[outcome("mnist-mlp", "onnxruntime", 1, "not run"),
                       outcome("mnist-mlp", "eager", 64, "not run"),
                       outcome("mnist-mlp", "onnxruntime", 64, "not run")]),
        config={"memory": True}, interrupted=True, foreign_cpu_share=0.01)
    no_memory = _amend(write_benchmark(results, "20261123T120000Z", [
        case("mnist-mlp", "eager", 1, 0.07), case("mnist-mlp", "onnxruntime", 1, 0.03),
    ]), config={"memory": False}, foreign_cpu_share=0.35)
    return results, full, interrupted, no_memory


def _tables(results: Path, *args: str) -> dict:
    result = runner.invoke(app, ["report", "--results-dir", str(results), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return {t["key"]: t for t in json.loads(result.stdout)["tables"]}


def _rows(table: dict) -> dict:
    return {(r["model"], r["runtime"], r["batch"]): r for r in table["rows"] if r["runtime"] != "all"}


def test_default_report_takes_complete_runs_keeps_memory_and_names_each_rows_run(tmp_path):
    results, full, interrupted, no_memory = _three_runs(tmp_path)
    table = _tables(results)["benchmark.cpu"]
    rows = _rows(table)
    # The interrupted run's unreached cases are not failures, and its one row is not mixed in.
    assert not [r for r in table["rows"] if "failed" in json.dumps(r)]
    assert rows[("mnist-mlp", "eager", 64)]["p50 ms"] == pytest.approx(0.5)
    assert rows[("mnist-mlp", "onnxruntime", 64)]["p50 ms"] == pytest.approx(0.1)
    # The --no-memory run is the newest complete run of batch 1: its timings, the full run's memory.
    eager1 = rows[("mnist-mlp", "eager", 1)]
    assert eager1["p50 ms"] == pytest.approx(0.07)
    assert eager1["peak MiB"] == pytest.approx(40.0)
    # Each row names its run: #1 the full run, #2 the --no-memory one.
    assert eager1["run"] == "#2 (memory #1)"
    assert rows[("mnist-mlp", "eager", 64)]["run"] == "#1"
    assert rows[("cora-gcn", "eager", 2708)]["run"] == "#1"
    notes = "\n".join(table["notes"])
    assert f"run #1: {full} (complete" in notes
    assert f"run #2: {no_memory} (complete; no peak memory (--no-memory)" in notes and "CONTENDED" in notes
    assert f"left out: {interrupted}: interrupted with 1 finished case(s)" in notes
    assert f"bench report --run {interrupted}" in notes
    assert not [n for n in table["notes"] if n.startswith(("benchmark files:", "contended:"))]  # said once


def test_run_option_reports_exactly_the_named_runs(tmp_path):
    results, full, interrupted, no_memory = _three_runs(tmp_path)
    only_full = _tables(results, "--run", str(full))["benchmark.cpu"]
    rows = _rows(only_full)
    assert rows[("mnist-mlp", "eager", 1)]["p50 ms"] == pytest.approx(0.05)
    assert rows[("mnist-mlp", "eager", 1)]["peak MiB"] == pytest.approx(40.0)
    assert "run" not in only_full["columns"]  # one run: nothing to tell apart
    assert str(no_memory) not in json.dumps(only_full)

    partial = _tables(results, "--run", str(interrupted))["benchmark.cpu"]
    rows = _rows(partial)
    assert list(rows) == [("mnist-mlp", "eager", 1)]  # the finished case only; the rest is no verdict
    assert rows[("mnist-mlp", "eager", 1)]["p50 ms"] == pytest.approx(0.06)
    assert any("interrupted: only the cases that finished" in n for n in partial["notes"])

    both = _tables(results, "--run", str(no_memory), "--run", str(full))
    rows = _rows(both["benchmark.cpu"])
    assert rows[("mnist-mlp", "eager", 1)]["p50 ms"] == pytest.approx(0.07)  # the newer of the two
    assert rows[("mnist-mlp", "eager", 1)]["run"] == "#2 (memory #1)"
    assert str(full) in both["environment"]["title"] or str(no_memory) in both["environment"]["title"]


def test_memory_left_empty_only_with_a_note_saying_why(tmp_path):
    results = tmp_path / "results"
    lone = _amend(write_benchmark(results, "20261123T120000Z", [case("mnist-mlp", "eager", 1, 0.07)]),
                  config={"memory": False})
    table = _tables(results, "--dataset", "mnist")["benchmark.cpu"]
    assert _rows(table)[("mnist-mlp", "eager", 1)]["peak MiB"] is None
    assert any(f"peak memory of 1 row(s) is empty: {lone} ran with --no-memory" in n for n in table["notes"])


def test_cora_table_says_which_rows_were_timed_on_trained_weights(tmp_path):
    results = tmp_path / "results"
    for model in ("cora-mlp", "cora-gcn", "cora-sage"):
        write_training(results, "cora", model)
    trained = case("cora-gcn", "eager", 2708, 4.0, unit="nodes")
    trained["extra_info"]["weights"] = f"checkpoint {results / 'checkpoints' / 'cora-gcn.pt'}"
    write_benchmark(results, "20261123T100000Z", [
        trained, case("cora-mlp", "eager", 2708, 0.8, unit="nodes"),
        case("cora-sage", "eager", 2708, 9.0, unit="nodes")])
    tables = _tables(results, "--dataset", "cora")
    cora = {r["Model"]: r for r in tables["cora.synthesis"]["rows"]}
    assert cora["GCN"]["weights benchmarked"] == "checkpoint cora-gcn.pt"
    assert cora["MLP"]["weights benchmarked"] == "untrained, seed 0"
    assert cora["GraphSAGE"]["weights benchmarked"] == "untrained, seed 0"
    assert any("different weights" in n for n in tables["cora.synthesis"]["notes"])
    latency = _rows(tables["benchmark.cpu"])
    assert latency[("cora-gcn", "eager", 2708)]["trained"] == "yes"  # the run table's own column
    assert latency[("cora-mlp", "eager", 2708)]["trained"] == "no"
    assert "weights" not in latency[("cora-mlp", "eager", 2708)]  # said once, not twice


def test_run_option_naming_a_missing_file_is_one_line(tmp_path):
    results, *_ = _three_runs(tmp_path)
    missing = results / "benchmarks" / "nope.json"
    result = runner.invoke(app, ["report", "--results-dir", str(results), "--run", str(missing)])
    assert result.exit_code == 2
    assert f"results file not found: {missing}" in result.output and "Traceback" not in result.output
