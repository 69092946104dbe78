"""`bench compare`: deltas, speedups over eager, regressions, unmatched rows, schema and machine checks (on
hand-made documents without per-round samples: the threshold alone decides, and says so)."""

import copy
import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.records.compare import FAILED, MISSING, NEW, NO_FIGURE, GatePolicy, load_results, parse_percent
from bench.records.compare import compare as compare_runs
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


def test_planted_regression_is_caught_and_speedups_are_per_file():
    after = copy.deepcopy(BEFORE)
    after["benchmarks"][1]["extra_info"]["p50_ms"] = 1.2  # onnxruntime 20 % slower
    result = compare(BEFORE, after, threshold_pct=10)
    ort = next(r for r in result.rows if r.key[1] == "onnxruntime")
    assert ort.delta_pct == pytest.approx(20.0)
    assert ort.regressed and ort.ratio_ci is None
    assert "no per-round samples in before and after" in ort.note and "threshold alone" in ort.note
    # eager ÷ this runtime, as the run table's speedup: 2.0 / 1.0 before, 2.0 / 1.2 after (above 1: faster)
    assert ort.before_speedup == pytest.approx(2.0)
    assert ort.after_speedup == pytest.approx(2.0 / 1.2)
    assert [r.key for r in result.regressions] == [("mnist-cnn", "onnxruntime", "cpu", 1)]
    assert result.warnings == [] and not result.passed
    assert result.failures[0].startswith("1 row(s) slower than 10 % on p50")


def test_noise_below_threshold_passes():
    after = copy.deepcopy(BEFORE)
    after["benchmarks"][0]["extra_info"]["p50_ms"] = 2.1  # +5 %
    assert compare(BEFORE, after, threshold_pct=10).regressions == []


def test_rows_missing_from_the_candidate_fail_unless_allowed_and_new_rows_never_do():
    after = _results([_entry("mnist-cnn", "eager", 2.0), _entry("esc50-cnn", "eager", 9.0)])
    result = compare(BEFORE, after)
    missing = {f"{r.key[0]}/{r.key[1]}" for r in result.only_before}
    assert missing == {"mnist-cnn/onnxruntime", "mnist-mlp/eager"}
    assert all(r.verdict == MISSING and r.fails for r in result.only_before)
    assert [(r.key[0], r.verdict, r.fails) for r in result.only_after] == [("esc50-cnn", NEW, False)]
    assert result.regressions == []
    (failure,) = result.failures
    assert failure.startswith("2 row(s) of before are not measured in after") and "--allow-missing" in failure
    allowed = compare(BEFORE, after, policy=GatePolicy(allow_missing=True))
    assert allowed.passed and not any(r.fails for r in allowed.rows)


def test_a_baseline_without_rows_compares_nothing_and_fails_unless_allowed():
    result = compare(_results([]), BEFORE)
    assert [r.verdict for r in result.rows] == [NEW] * 3
    assert result.failures == ["before has no measured row: nothing was compared; "
                               "--allow-missing lets that pass"]
    assert compare(_results([]), BEFORE, policy=GatePolicy(allow_missing=True)).passed


@pytest.mark.parametrize("value", [float("nan"), float("inf"), None, 0.0, -1.0])
def test_a_matched_row_without_a_valid_figure_fails_unless_allowed(value):
    after = copy.deepcopy(BEFORE)
    after["benchmarks"][2]["extra_info"]["p50_ms"] = value
    result = compare(BEFORE, after)
    row = next(r for r in result.rows if r.key[0] == "mnist-mlp")
    assert row.verdict == NO_FIGURE and row.fails and "no valid p50 in after" in row.note
    assert "--allow-no-figure" in result.failures[0]
    assert compare(BEFORE, after, policy=GatePolicy(allow_no_figure=True)).passed
    result = compare(after, BEFORE)  # a baseline without a figure cannot vouch for the candidate either
    assert not result.passed and next(r for r in result.rows if r.key[0] == "mnist-mlp").verdict == NO_FIGURE


def test_a_percentile_from_too_few_rounds_is_no_figure_and_says_why():
    result = compare(BEFORE, BEFORE, metric="p99")
    assert {r.verdict for r in result.rows} == {NO_FIGURE}
    assert result.rows[0].note == ("before has too few rounds, p99 needs 100; "
                                   "after has too few rounds, p99 needs 100")
    entry = _entry("m", "eager", 3.0)
    entry["extra_info"]["rounds"] = 40
    (row,) = compare(_results([entry]), _results([entry]), metric="p99").rows
    assert row.note == "before has 40 rounds, p99 needs 100; after has 40 rounds, p99 needs 100"


def test_a_row_failed_in_the_candidate_fails_with_no_opt_out():
    after = copy.deepcopy(BEFORE)
    after["bench"] = {"schema_version": SCHEMA_VERSION, "outcomes": [
        {"model": "mnist-cnn", "runtime": "onnxruntime", "device": "cpu", "batch": 1, "status": "failed",
         "reason": "parity failed"}]}
    policy = GatePolicy(strict=True, allow_missing=True, allow_no_figure=True, allow_interrupted=True)
    result = compare(BEFORE, after, policy=policy)
    ort = next(r for r in result.rows if r.key[1] == "onnxruntime")
    assert ort.verdict == FAILED and ort.failed == "parity failed" and ort.delta_pct == pytest.approx(0.0)
    assert result.failures == ["1 row(s) failed in after (e.g. parity): mnist-cnn/onnxruntime/cpu/1"]


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "-1%", "1e400"])
def test_a_threshold_must_be_a_finite_percentage(text):
    with pytest.raises(BenchError, match="--fail-above must be a finite percentage >= 0"):
        parse_percent(text)
    with pytest.raises(BenchError, match="--fail-above must be a finite percentage >= 0"):
        compare(BEFORE, BEFORE, threshold_pct=float(text.removesuffix("%")))


def test_different_machine_warns():
    after = _results(BEFORE["benchmarks"], cpu="Intel Xeon", torch_version="2.12.0")
    warnings = compare(BEFORE, after).warnings
    assert any("cpu" in w for w in warnings) and any("torch" in w for w in warnings)


def test_runs_under_different_host_allocators_warn():
    retained, system = copy.deepcopy(BEFORE), copy.deepcopy(BEFORE)
    retained.setdefault("bench", {}).setdefault("config", {})["allocator"] = "retain"
    system.setdefault("bench", {}).setdefault("config", {})["allocator"] = "system"
    assert not any("allocator" in w for w in compare(retained, copy.deepcopy(retained)).warnings)
    warnings = compare(system, retained).warnings
    assert "different allocator: 'system' vs 'retain'; a delta may be the setting, not the code" in warnings
    # A file older than the setting ran glibc's defaults without saying so.
    assert any(w.startswith("different allocator: 'not recorded (glibc defaults)' vs 'retain'")
               for w in compare(BEFORE, retained).warnings)
    # Asked alike, in effect not: a preloaded jemalloc answers to --allocator retain too.
    preloaded = copy.deepcopy(retained)
    retained["bench"]["allocator"] = "glibc, freed memory kept in the process (mmap off, trimming off)"
    preloaded["bench"]["allocator"] = "libjemalloc.so.2 (LD_PRELOAD; --allocator retain does not reach it)"
    assert any(w.startswith("different host memory: 'glibc, freed memory kept") and "'libjemalloc.so.2" in w
               for w in compare(retained, preloaded).warnings)


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
    # The reader's message for a file that declares no schema is being reworded (reader.py, another owner).
    (json.dumps({"benchmarks": [], "machine_info": {}}), "schema None|declares no results schema"),
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


def test_an_interrupted_run_is_flagged_and_an_interrupted_candidate_fails_unless_allowed():
    after = copy.deepcopy(BEFORE)
    after["bench"] = {"schema_version": SCHEMA_VERSION, "interrupted": True}
    result = compare(BEFORE, after)
    assert "the after run was interrupted: it holds only the cases that finished" in result.warnings
    assert result.failures == ["the after run was interrupted and holds only the cases that "
                               "finished; --allow-interrupted lets it pass"]
    assert compare(BEFORE, after, policy=GatePolicy(allow_interrupted=True)).passed
    assert compare(after, BEFORE).passed  # an interrupted baseline: a warning only
