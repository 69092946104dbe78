"""`bench compare`: deltas, ratios to eager, regressions, unmatched rows, schema and machine checks."""

import copy
import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.records.compare import compare as compare_runs
from bench.records.compare import load_results
from bench.records.reader import parse_run
from bench.records.schema import LATENCY_METRICS, SCHEMA_VERSION
from train.errors import BenchError


def _entry(model, runtime, p50_ms, batch=1):
    return {
        "group": f"{model}|cpu|{batch}", "name": f"test_latency[{model}-{runtime}]",
        "fullname": f"suites/test_latency.py::test_latency[{model}-{runtime}]",
        "stats": {"median": p50_ms / 1e3, "mean": p50_ms / 1e3, "min": p50_ms / 1e3},
        "extra_info": {"model": model, "runtime": runtime, "device": "cpu", "batch": batch,
                       "p50_ms": p50_ms, "p99_ms": p50_ms * 1.5},
    }


def _results(entries, cpu="AMD EPYC", torch_version="2.11.0"):
    return {
        "machine_info": {"bench": {"schema_version": SCHEMA_VERSION, "cpu": cpu,
                                   "threads_used": 2, "os": "Linux",
                                   "packages": {"torch": torch_version}}},
        "benchmarks": entries, "datetime": "2026-11-23T00:00:00", "version": "5.3.1",
    }


def compare(before: dict, after: dict, **kwargs):
    """compare() on two in-memory documents, read as the CLI reads files."""
    return compare_runs(parse_run(before), parse_run(after), **kwargs)


BEFORE = _results([_entry("mnist-cnn", "eager", 2.0), _entry("mnist-cnn", "onnxruntime", 1.0),
                   _entry("mnist-mlp", "eager", 0.10)])


def test_planted_regression_is_caught_and_ratios_are_per_file():
    after = copy.deepcopy(BEFORE)
    after["benchmarks"][1]["extra_info"]["p50_ms"] = 1.2  # onnxruntime 20 % slower
    result = compare(BEFORE, after, threshold_pct=10)
    ort = next(r for r in result.rows if r.key[1] == "onnxruntime")
    assert ort.delta_pct == pytest.approx(20.0)
    assert ort.regressed
    assert ort.before_vs_eager == pytest.approx(0.5)
    assert ort.after_vs_eager == pytest.approx(0.6)
    assert [r.key for r in result.regressions] == [("mnist-cnn", "onnxruntime", "cpu", 1)]
    assert result.warnings == []


def test_noise_below_threshold_passes():
    after = copy.deepcopy(BEFORE)
    after["benchmarks"][0]["extra_info"]["p50_ms"] = 2.1  # +5 %
    assert compare(BEFORE, after, threshold_pct=10).regressions == []


def test_rows_in_one_file_only_are_listed_not_failed():
    after = _results([_entry("mnist-cnn", "eager", 2.0), _entry("esc50-cnn", "eager", 9.0)])
    result = compare(BEFORE, after)
    only_before = [r for r in result.rows if r.after_ms is None]
    only_after = [r for r in result.rows if r.before_ms is None]
    assert {r.key[0] + "/" + r.key[1] for r in only_before} == {"mnist-cnn/onnxruntime", "mnist-mlp/eager"}
    assert [r.key[0] for r in only_after] == ["esc50-cnn"]
    assert result.regressions == []


def test_different_machine_warns():
    after = _results(BEFORE["benchmarks"], cpu="Intel Xeon", torch_version="2.12.0")
    warnings = compare(BEFORE, after).warnings
    assert any("cpu" in w for w in warnings) and any("torch" in w for w in warnings)


def test_every_metric_is_compared_from_the_rows_own_fields():
    entry = _entry("m", "eager", 3.0)
    entry["extra_info"] |= {"p90_ms": 4.0, "mean_ms": 3.2, "min_ms": 2.5}
    (row,) = parse_run(_results([entry])).rows
    assert {m: row.metric_ms(m) for m in LATENCY_METRICS} == {"p50": 3.0, "p90": 4.0, "p99": 4.5,
                                                               "mean": 3.2, "min": 2.5}


@pytest.mark.parametrize("content, message", [
    ("not json", "is not valid JSON"),
    (json.dumps({"foo": 1}), "no 'benchmarks' list"),
    (json.dumps({"benchmarks": [], "machine_info": {"bench": {"schema_version": 999}}}), "schema 999"),
    (json.dumps({"benchmarks": [], "machine_info": {}}), "schema None"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(BenchError, match=message):
        load_results(path)


def test_cli_exit_codes(tmp_path):
    before, after = tmp_path / "a.json", tmp_path / "b.json"
    before.write_text(json.dumps(BEFORE))
    slow = copy.deepcopy(BEFORE)
    slow["benchmarks"][0]["extra_info"]["p50_ms"] = 2.4
    after.write_text(json.dumps(slow))
    runner = CliRunner()
    same = runner.invoke(app, ["compare", str(before), str(before)])
    assert same.exit_code == 0, same.output
    assert "mnist-cnn" in same.output
    regressed = runner.invoke(app, ["compare", str(before), str(after), "--fail-above", "10%"])
    assert regressed.exit_code == 1
    assert "REGRESSED" in regressed.output
    tolerant = runner.invoke(app, ["compare", str(before), str(after), "--fail-above", "25%"])
    assert tolerant.exit_code == 0
    missing = runner.invoke(app, ["compare", str(before), str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
    assert "results file not found" in missing.output


def test_a_cuda_file_that_predates_the_precision_policy_is_flagged():
    before, after = copy.deepcopy(BEFORE), copy.deepcopy(BEFORE)
    before["bench"] = {"schema_version": SCHEMA_VERSION, "config": {"device": "cuda"}}
    after["bench"] = {"schema_version": SCHEMA_VERSION, "config": {"device": "cuda", "precision": "fp32",
                                                                   "cudnn_benchmark": False}}
    warnings = compare(before, after).warnings
    assert any(w.startswith("different precision: \"not recorded (torch's defaults)\" vs 'fp32'")
               for w in warnings), warnings
    cpu_before, cpu_after = copy.deepcopy(before), copy.deepcopy(after)
    cpu_before["bench"]["config"]["device"] = cpu_after["bench"]["config"]["device"] = "cpu"
    assert not any("precision" in w for w in compare(cpu_before, cpu_after).warnings)  # no TF32 on a CPU


def test_an_interrupted_run_is_flagged():
    after = copy.deepcopy(BEFORE)
    after["bench"] = {"schema_version": SCHEMA_VERSION, "interrupted": True}
    assert "the after run was interrupted (Ctrl-C): it holds only the cases that finished" in \
        compare(BEFORE, after).warnings
