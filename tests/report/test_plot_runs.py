"""`bench report --plots`: figures name their runs and contention, keep memory a `--no-memory` run skipped,
draw dots (never bars) on a log axis, and training curves show every epoch and the one kept."""

from __future__ import annotations

import json

import pytest
from matplotlib.container import BarContainer

from bench.records.store import load_benchmarks, load_training
from bench.report.plots import latency_figure, training_figure, write_report_plots
from tests.report_fixtures import case, make_results, write_benchmark, write_training

MIB = 2**20


def _amend(path, **bench_fields):
    data = json.loads(path.read_text())
    data["bench"].update(bench_fields)
    path.write_text(json.dumps(data, indent=2))
    return path


def _two_runs(tmp_path):
    """A quiet complete run with memory at batch 1 and 64, then a contended --no-memory run at batch 1."""
    results = tmp_path / "results"
    quiet = _amend(write_benchmark(results, "20261123T100000Z", [
        case("mnist-mlp", "eager", 1, 0.05, peak_memory_bytes=40 * MIB),
        case("mnist-mlp", "onnxruntime", 1, 0.02, peak_memory_bytes=30 * MIB),
        case("mnist-mlp", "eager", 64, 0.5, peak_memory_bytes=50 * MIB),
        case("mnist-mlp", "onnxruntime", 64, 0.1, peak_memory_bytes=35 * MIB),
    ]), config={"memory": True}, foreign_cpu_share=0.02)
    contended = _amend(write_benchmark(results, "20261123T120000Z", [
        case("mnist-mlp", "eager", 1, 0.07), case("mnist-mlp", "onnxruntime", 1, 0.03),
    ]), config={"memory": False}, foreign_cpu_share=0.35)
    return results, quiet, contended


def test_figures_name_their_runs_and_contention_and_keep_memory(tmp_path):
    results, quiet, contended = _two_runs(tmp_path)
    outcome = write_report_plots(results, "mnist")
    written = {p.name for p in outcome.written}
    assert {"latency_cpu.svg", "throughput_cpu.svg", "memory_cpu.svg"} <= written, outcome.skipped
    reports = results / "reports"
    for stem in ("latency_cpu", "throughput_cpu", "memory_cpu"):
        svg = (reports / f"{stem}.svg").read_text()
        assert f"run #1: {quiet.name}" in svg and f"run #2: {contended.name}" in svg, stem
        assert "other processes 35% of the CPUs (CONTENDED)" in svg, stem
    # Batch 1 and 64 come from different runs: each point says which, the title says why it matters.
    throughput = (reports / "throughput_cpu.svg").read_text()
    assert "points labelled by run" in throughput
    memory = (reports / "memory_cpu.svg").read_text()
    assert f"from {quiet.name}: the run timing them skipped memory" in memory


def test_a_single_run_is_named_in_the_footer(tmp_path):
    results = make_results(tmp_path)
    write_report_plots(results, "cora")
    svg = (results / "reports" / "latency_cpu.svg").read_text()
    assert "run: 20261123T110000Z_cpu.json" in svg and "weights: untrained, seed 0" in svg


def test_a_log_axis_gets_dots_and_a_linear_one_bars(tmp_path):
    results = make_results(tmp_path)  # 0.02 ms beside 4 ms: a log axis
    bench = load_benchmarks(results)
    spread = latency_figure([r for r in bench.rows if r.status == "ok"], "cpu")
    ax = spread.axes[0]
    assert ax.get_yscale() == "log"
    assert not [c for c in ax.containers if isinstance(c, BarContainer)]
    assert any(line.get_marker() == "o" for line in ax.get_lines())

    close = [r for r in bench.rows if r.model == "mnist-mlp" and r.batch == 64]  # 0.1 to 0.4 ms: linear
    ax = latency_figure(close, "cpu").axes[0]
    assert ax.get_yscale() == "linear"
    assert [c for c in ax.containers if isinstance(c, BarContainer)]


def test_training_curves_mark_every_epoch_and_the_kept_one(tmp_path):
    results = tmp_path / "results"
    write_training(results, "cora", "cora-gcn", epochs=1)  # one epoch: a curve of one point
    write_training(results, "cora", "cora-mlp", epochs=4, metrics={"best_epoch": 2})
    records = load_training(results, "cora")
    fig = training_figure("cora", [records["cora-gcn"], records["cora-mlp"]])
    loss_ax, acc_ax = fig.axes[:2]
    curves = [line for line in acc_ax.get_lines() if line.get_label().endswith((" train", " val"))]
    assert len(curves) == 4 and all(line.get_marker() not in ("None", "", None) for line in curves)
    kept = [line for line in acc_ax.get_lines() if line.get_marker() == "*"]
    history = records["cora-mlp"].runs[0]["history"]
    assert sorted((tuple(line.get_xdata()), tuple(line.get_ydata())) for line in kept) == sorted([
        ((1,), (records["cora-gcn"].runs[0]["history"][0]["val_acc"],)),
        ((2,), (history[1]["val_acc"],))])
    assert any(t.get_text().startswith("kept epoch") for t in acc_ax.get_legend().get_texts())


def test_test_accuracy_dotted_and_the_target_line_where_the_records_have_them(tmp_path):
    results = tmp_path / "results"
    path = write_training(results, "mnist", "mnist-cnn@adam", epochs=3, metrics={"target_accuracy": 0.97})
    record = json.loads(path.read_text())
    for epoch, entry in enumerate(record["runs"][0]["history"]):
        entry["test_acc"] = 0.95 + 0.01 * epoch  # as a test-split target records it
    path.write_text(json.dumps(record))
    fig = training_figure("mnist", list(load_training(results, "mnist").values()))
    acc_ax = fig.axes[1]
    (test,) = [line for line in acc_ax.get_lines() if line.get_label() == "mnist-cnn@adam test"]
    assert test.get_linestyle() == ":" and list(test.get_ydata()) == pytest.approx([0.95, 0.96, 0.97])
    (target,) = [line for line in acc_ax.get_lines() if line.get_label() == "target 97%"]
    assert list(target.get_ydata()) == [0.97, 0.97]
    assert "dotted: test" in fig._suptitle.get_text()
