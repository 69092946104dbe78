"""`bench report --plots`: PNG and SVG figures from a fixture results folder; gaps skipped with a reason."""

from __future__ import annotations

from typer.testing import CliRunner

from bench.cli import app
from bench.report.plots import write_report_plots
from tests.report_fixtures import case, make_results, write_benchmark

MIN_BYTES = 5_000  # an empty figure is a few kB of PNG; drawn bars, labels and legends are well above


def _stems(paths) -> set[str]:
    return {p.stem for p in paths}


def test_plots_written_as_png_and_svg(tmp_path):
    results = make_results(tmp_path)
    outcome = write_report_plots(results)
    # convergence_mnist: the fixture's MNIST records raced to a target accuracy
    assert _stems(outcome.written) == {"latency_cpu", "speedup_cpu", "throughput_cpu", "training_cora",
                                       "training_mnist", "convergence_mnist"}
    for path in outcome.written:
        assert path.parent == results / "reports" and path.suffix in (".png", ".svg")
        assert path.stat().st_size > MIN_BYTES, path
    assert sorted(p.suffix for p in outcome.written).count(".png") == len(outcome.written) // 2
    svg = (results / "reports" / "latency_cpu.svg").read_text()
    assert "latency per call (ms, log scale)" in svg and "onnxruntime" in svg
    skipped = " ".join(outcome.skipped)
    assert "memory_cpu" in skipped and "peak_memory_bytes" in skipped
    assert "training_esc50" in skipped and "bench train esc50" in skipped


def test_memory_plot_when_rows_record_peak_memory(tmp_path):
    results = tmp_path / "results"
    write_benchmark(results, "20261123T100000Z", [
        case("mnist-cnn", "eager", 1, 1.0, peak_memory_bytes=40 * 2**20),
        case("mnist-cnn", "onnxruntime", 1, 0.5, peak_memory_bytes=12 * 2**20),
    ])
    outcome = write_report_plots(results, "mnist")
    assert "memory_cpu" in _stems(outcome.written)
    assert "MiB" in (results / "reports" / "memory_cpu.svg").read_text()


def test_dataset_filter_and_cli_prints_paths(tmp_path):
    results = make_results(tmp_path)
    result = CliRunner().invoke(app, ["report", "--results-dir", str(results), "--dataset", "cora",
                                      "--format", "markdown", "--plots"])
    assert result.exit_code == 0, result.output
    assert f"wrote {results / 'reports' / 'latency_cpu.png'}" in result.stderr
    assert "training_cora.svg" in result.stderr and "training_mnist" not in result.stderr
    assert "skipped throughput_cpu" in result.stderr  # cora rows only: one full-graph size, no batch axis
    assert "wrote" not in result.stdout  # stdout stays the pasteable table


def test_no_results_means_no_figures_and_reasons(tmp_path):
    (tmp_path / "results").mkdir()
    outcome = write_report_plots(tmp_path / "results")
    assert outcome.written == []
    assert any("no measured benchmark row" in s for s in outcome.skipped)
    assert not (tmp_path / "results" / "reports").exists()
