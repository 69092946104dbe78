"""The run tables show the roofline, memory method and stability verdict the suite records."""

from report_fixtures import case, outcome
from rich.console import Console

from bench.records.reader import parse_run
from bench.records.schema import SCHEMA_VERSION
from bench.report.synthesis import benchmark_table
from bench.report.tables import latency_table, memory_method_short


def _data() -> dict:
    eager = case("mnist-cnn", "eager", 64, 10.0, peak_memory_bytes=64 * 2**20)
    ort = case("mnist-cnn", "onnxruntime", 64, 5.0, peak_memory_bytes=32 * 2**20)
    eager["extra_info"] |= {"gflops_achieved": 20.0, "pct_of_peak": 12.5, "iqr_over_median": 0.3,
                            "unstable": True, "peak_memory_method": "process RSS high-water mark (VmHWM)"}
    ort["extra_info"] |= {"gflops_achieved": 40.0, "pct_of_peak": 25.0, "iqr_over_median": 0.05,
                          "unstable": False, "peak_memory_method": "NVML device memory used"}
    outcomes = [outcome("mnist-cnn", "eager", 64), outcome("mnist-cnn", "onnxruntime", 64)]
    return {"benchmarks": [eager, ort], "bench": {"schema_version": SCHEMA_VERSION, "outcomes": outcomes}}


def test_rich_run_table_shows_gflops_peak_memory_method_and_unstable_flag():
    console = Console(width=260, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(latency_table(parse_run(_data()).rows, "cpu"))
    text = console.export_text()
    assert "GFLOP/s" in text and "% peak" in text and "peak MiB (method)" in text
    assert "64.0 (RSS)" in text and "32.0 (NVML)" in text
    assert "12.5 %" in text and "0.30 unstable" in text and "0.05 " in text


def test_summary_table_adds_roofline_and_stability_columns_and_notes_unstable_rows():
    table = benchmark_table(parse_run(_data()).rows, "cpu")
    names = [c.name for c in table.columns]
    assert names[-4:] == ["GFLOP/s", "% of peak", "IQR/median", "peak memory MiB"]
    eager, ort = table.rows
    assert eager.cells[-4:] == (20.0, 12.5, 0.3, 64.0) and eager.note.startswith("unstable")
    assert ort.note == ""


def test_memory_method_short_names():
    cuda = "torch CUDA allocator peak (max_memory_allocated above baseline)"
    assert memory_method_short(cuda) == "CUDA alloc"
    assert memory_method_short("") == "?"
