"""`bench compare` as a CI gate, through the real CLI on copies of a real run file: a significant slowdown
fails, an equal slowdown hidden in overlapping noise does not, noisy rows and contended runs are flagged
and fail only with --strict, and what cannot be compared (NaN, dropped rows, an interrupted run) fails
unless its own flag allows it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.measure.contention import CONTENDED_SHARE
from bench.records.reader import read_run
from tests.records.noisy_runs import JITTER_5, jittered, real_run, samples, scaled, with_samples, write

ROW = ("cora-mlp", "onnxruntime")  # 5 real rounds, IQR/median 0.03
BIG_ROW = ("mnist-mlp", "onnxruntime")  # 1823 real rounds
KEY, BIG_KEY = (*ROW, 2708), (*BIG_ROW, 1)  # as the JSON table names them: model, runtime, batch


def invoke(*args: str):
    """The CLI as CI runs it (the table on stdout, warnings and the gate's lines on stderr)."""
    return CliRunner().invoke(app, ["compare", *map(str, args)], env={"COLUMNS": "300"})


def gate(*args: str):
    """`bench compare … --format json`: (the result, the table's rows by (model, runtime))."""
    result = invoke(*args, "--format", "json")
    rows = json.loads(result.stdout)["tables"][0]["rows"] if result.stdout else []
    return result, {(r["model"], r["runtime"], r["batch"]): r for r in rows}


def fail_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("fail: ")]


def noisy_copy() -> dict:
    """The real run with ROW's 5 rounds spread ±30 % (IQR/median 0.33): two such runs overlap."""
    base = real_run()
    return with_samples(base, *ROW, samples(base, *ROW) * np.array(JITTER_5))


# --- the threshold -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", ["nan", "nan%", "inf", "-inf%", "-5%", "ten"])
def test_a_threshold_that_is_not_a_finite_percentage_is_one_line_exit_2(tmp_path, threshold):
    path = write(tmp_path, "run", real_run())
    result = invoke(path, path, "--fail-above", threshold)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2, result.output
    assert len(errors) == 1 and "--fail-above" in errors[0], result.output
    assert "Traceback" not in result.output and result.stdout == ""


# --- noise: threshold AND significance ---------------------------------------------------------------------


def test_a_significant_slowdown_fails(tmp_path):
    base = real_run()
    before, after = write(tmp_path, "a", base), write(tmp_path, "b", scaled(base, *BIG_ROW, 1.25))
    result, rows = gate(before, after, "--fail-above", "10%")
    assert result.exit_code == 1, result.output
    assert rows[BIG_KEY]["verdict"] == "REGRESSED" and rows[BIG_KEY]["delta %"] == pytest.approx(25.0)
    low, high = (float(v) for v in rows[BIG_KEY]["delta 95 % CI"].split(" to "))
    assert 0 < low < 25 < high
    assert [r["verdict"] for k, r in rows.items() if k != BIG_KEY] == ["ok"] * 5
    (line,) = fail_lines(result)
    assert "1 row(s) slower than 10 % on p50" in line and "mnist-mlp/onnxruntime/cpu/1" in line


def test_the_same_shift_of_medians_passes_when_the_samples_overlap(tmp_path):
    tight, noisy = real_run(), noisy_copy()
    # The same +25 % on the same row: its 5 tight rounds fail, its 5 noisy ones are not significant.
    failed, rows = gate(write(tmp_path, "t1", tight), write(tmp_path, "t2", scaled(tight, *ROW, 1.25)))
    assert failed.exit_code == 1, failed.output
    assert rows[KEY]["verdict"] == "REGRESSED"
    before, after = write(tmp_path, "n1", noisy), write(tmp_path, "n2", scaled(noisy, *ROW, 1.25))
    for strict in ((), ("--strict",)):  # not excused as noise but not significant: --strict passes it too
        passed, rows = gate(before, after, *strict)
        assert passed.exit_code == 0, passed.output
        assert rows[KEY]["delta %"] == pytest.approx(25.0)
        assert rows[KEY]["verdict"] == "slower (not significant)"
        low, _ = (float(v) for v in rows[KEY]["delta 95 % CI"].split(" to "))
        assert low < 0
        assert fail_lines(passed) == []


def test_an_unstable_row_is_flagged_and_fails_only_with_strict(tmp_path):
    base = real_run()
    spread = np.random.default_rng(0).lognormal(0, 0.3, len(samples(base, *BIG_ROW)))
    noisy = with_samples(base, *BIG_ROW, samples(base, *BIG_ROW) * spread)
    assert read_run(write(tmp_path, "probe", noisy)).get(BIG_KEY[:2] + ("cpu", 1)).unstable
    # +12 % at the median, 95 % interval about +9 % to +16 %: slower, significant, but within the noise
    before, after = write(tmp_path, "a", noisy), write(tmp_path, "b", jittered(noisy, *BIG_ROW, 0.3, 1, 1.13))
    lenient, rows = gate(before, after)
    assert lenient.exit_code == 0, lenient.output
    assert rows[BIG_KEY]["verdict"] == "slower (noisy)"
    assert "unstable in before (IQR/median" in rows[BIG_KEY]["note"]
    assert "unstable in after (IQR/median" in rows[BIG_KEY]["note"]
    strict, rows = gate(before, after, "--strict")
    assert strict.exit_code == 1, strict.output
    assert rows[BIG_KEY]["verdict"] == "REGRESSED" and "noisy, failed by --strict" in rows[BIG_KEY]["note"]


def test_a_contended_run_is_flagged_with_both_shares_and_fails_only_with_strict(tmp_path):
    base = real_run()
    spread = np.random.default_rng(0).lognormal(0, 0.3, len(samples(base, *BIG_ROW)))
    base = with_samples(base, *BIG_ROW, samples(base, *BIG_ROW) * spread)
    slow = jittered(base, *BIG_ROW, 0.3, 1, 1.13)  # its interval reaches below the threshold
    slow["bench"]["foreign_cpu_share"] = CONTENDED_SHARE + 0.25
    before, after = write(tmp_path, "a", base), write(tmp_path, "b", slow)
    lenient, rows = gate(before, after)
    assert lenient.exit_code == 0, lenient.output
    assert rows[BIG_KEY]["verdict"] == "slower (noisy)" and "contended run" in rows[BIG_KEY]["note"]
    share_before = base["bench"]["foreign_cpu_share"]
    (warning,) = [line for line in lenient.stderr.splitlines() if line.startswith("warning: contended")]
    assert f"{share_before * 100:.1f} %" in warning and f"{(CONTENDED_SHARE + 0.25) * 100:.1f} %" in warning
    notes = json.loads(lenient.stdout)["tables"][0]["notes"]
    assert any(note.startswith("contended:") for note in notes)
    assert gate(before, after, "--strict")[0].exit_code == 1


def test_noise_widens_the_bar_but_a_clear_slowdown_in_a_contended_run_still_fails(tmp_path):
    base = real_run()
    slow = scaled(base, *BIG_ROW, 3.0)  # a stable row, three times slower in every round
    slow["bench"]["foreign_cpu_share"] = CONTENDED_SHARE + 0.4
    result, rows = gate(write(tmp_path, "a", base), write(tmp_path, "b", slow))
    assert result.exit_code == 1, result.output
    assert rows[BIG_KEY]["verdict"] == "REGRESSED"
    assert "slower than the threshold across its whole 95 % interval" in rows[BIG_KEY]["note"]


def test_two_tiny_contended_runs_that_match_pass_as_in_ci(tmp_path):
    """CI compares two smoke runs of 5 rounds on a busy 2-core machine with --fail-above 1000%."""
    first, second = noisy_copy(), scaled(noisy_copy(), *ROW, 1.1)
    for doc, share in ((first, 0.4), (second, 0.6)):
        doc["bench"]["foreign_cpu_share"] = share
    result = invoke(write(tmp_path, "a", first), write(tmp_path, "b", second), "--fail-above", "1000%")
    assert result.exit_code == 0, result.output
    assert "compare: passed: 6 row(s) compared" in result.stderr


# --- what cannot be compared fails, each with its own flag ----------------------------------------------


@pytest.mark.parametrize("value", [math.nan, None])
def test_a_candidate_row_without_a_figure_fails_unless_allowed(tmp_path, value):
    after = real_run()
    after["benchmarks"][1]["extra_info"]["p50_ms"] = value  # mnist-mlp onnxruntime
    before, candidate = write(tmp_path, "a", real_run()), write(tmp_path, "b", after)
    result, rows = gate(before, candidate)
    assert result.exit_code == 1, result.output
    assert rows[BIG_KEY]["verdict"] == "NO FIGURE"
    (line,) = fail_lines(result)
    assert "mnist-mlp/onnxruntime/cpu/1" in line and "--allow-no-figure" in line
    assert gate(before, candidate, "--allow-no-figure")[0].exit_code == 0


def test_rows_dropped_or_skipped_in_the_candidate_fail_unless_allowed(tmp_path):
    after = real_run()
    after["benchmarks"] = [e for e in after["benchmarks"] if e["extra_info"]["model"] != "cora-mlp"]
    outcomes = after["bench"]["outcomes"]
    after["bench"]["outcomes"] = [o for o in outcomes if o["model"] != "cora-mlp" or o["runtime"] == "eager"]
    skipped = next(o for o in after["bench"]["outcomes"] if o["model"] == "cora-mlp")
    skipped.update(status="skipped", reason="planted skip")
    before, candidate = write(tmp_path, "a", real_run()), write(tmp_path, "b", after)
    result = invoke(before, candidate)
    assert result.exit_code == 1, result.output
    (line,) = fail_lines(result)
    assert line.startswith("fail: 3 row(s) of before are not measured in after") and "--allow-missing" in line
    assert "cora-mlp/eager/cpu/2708" in line
    allowed, rows = gate(before, candidate, "--allow-missing", "--show-unmatched")
    assert allowed.exit_code == 0, allowed.output
    assert rows[("cora-mlp", "eager", 2708)]["note"] == "skipped in after: planted skip (allowed)"


def test_an_interrupted_candidate_fails_unless_allowed(tmp_path):
    after = real_run()
    after["bench"]["interrupted"] = True
    before, candidate = write(tmp_path, "a", real_run()), write(tmp_path, "b", after)
    result = invoke(before, candidate)
    assert result.exit_code == 1, result.output
    (line,) = fail_lines(result)
    assert "interrupted" in line and "--allow-interrupted" in line
    assert invoke(before, candidate, "--allow-interrupted").exit_code == 0
    assert invoke(candidate, before).exit_code == 0  # an interrupted baseline only warns


# --- unmatched rows and the speedup columns ------------------------------------------------------------


def test_unmatched_rows_are_one_line_unless_shown(tmp_path):
    after = real_run()
    after["benchmarks"] = [e for e in after["benchmarks"] if e["extra_info"]["model"] != "cora-mlp"]
    after["bench"]["outcomes"] = [o for o in after["bench"]["outcomes"] if o["model"] != "cora-mlp"]
    extra = json.loads(json.dumps(after["benchmarks"][0]))
    extra["extra_info"]["batch"] = 64  # a row the baseline never had
    after["benchmarks"].append(extra)
    before, candidate = write(tmp_path, "a", real_run()), write(tmp_path, "b", after)
    summary = invoke(before, candidate, "--allow-missing", "--format", "markdown")
    assert summary.exit_code == 0, summary.output
    assert "unmatched: 3 row(s) only in before, 1 only in after (--show-unmatched lists them)" in \
        summary.stdout
    table_lines = [line for line in summary.stdout.splitlines() if line.startswith("| ")][2:]  # no header
    assert len(table_lines) == 3  # the matched rows
    assert not any("cora-mlp" in line or "only in" in line for line in table_lines), summary.output
    listed, rows = gate(before, candidate, "--allow-missing", "--show-unmatched")
    assert listed.exit_code == 0, listed.output
    assert rows[("cora-mlp", "torchscript", 2708)]["verdict"] == "only in before"
    assert rows[("mnist-mlp", "eager", 64)]["verdict"] == "only in after"
    assert not any(note.startswith("unmatched") for note in json.loads(listed.stdout)["tables"][0]["notes"])


def test_speedups_run_the_run_tables_way_with_one_notation(tmp_path):
    path = write(tmp_path, "run", real_run())
    expected = read_run(path).get(("mnist-mlp", "onnxruntime", "cpu", 1)).speedup_vs_eager
    _, rows = gate(path, path)
    # eager ÷ runtime, the run table's speedup_vs_eager: ONNX Runtime is faster here, so above 1.
    assert expected > 1
    assert rows[BIG_KEY]["speedup vs eager (before)"] == pytest.approx(expected)
    assert rows[BIG_KEY]["speedup vs eager (after)"] == pytest.approx(expected)
    text = invoke(path, path, "--format", "markdown").stdout
    assert f"| {expected:.2f}× |" in text and "÷ eager" not in text


def test_a_real_interrupted_run_passes_with_allow_interrupted_and_its_unreached_cases_do_not_fail(tmp_path):
    import gzip
    import shutil
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "records" / "data"
    files = {}
    for name in ("run_complete_cpu", "run_interrupted_cpu"):
        files[name] = tmp_path / f"{name}.json"
        with gzip.open(data / f"{name}.json.gz", "rb") as src, open(files[name], "wb") as dst:
            shutil.copyfileobj(src, dst)
    before, after = files["run_complete_cpu"], files["run_interrupted_cpu"]
    refused = invoke(before, after)
    assert refused.exit_code == 1 and "--allow-interrupted" in refused.stderr
    allowed = invoke(before, after, "--allow-interrupted", "--fail-above", "1000%")
    assert allowed.exit_code == 0, allowed.output
    assert "failed in after" not in allowed.output
