"""The run table: one builder, the same columns in every format; roofline, memory, stability, parity."""

import csv
import io
import json

import pytest
from rich.console import Console

from bench.records.reader import parse_run
from bench.records.schema import SCHEMA_VERSION
from bench.report.render import render_text, to_rich
from bench.report.tables import memory_method_short, run_table
from tests.report_fixtures import case, outcome


def _data() -> dict:
    eager = case("mnist-cnn", "eager", 64, 10.0, peak_memory_bytes=64 * 2**20)
    ort = case("mnist-cnn", "onnxruntime", 64, 5.0, peak_memory_bytes=32 * 2**20)
    eager["extra_info"] |= {"gflops_achieved": 20.0, "pct_of_peak": 12.5, "iqr_over_median": 0.3,
                            "unstable": True, "peak_memory_method": "process RSS high-water mark (VmHWM)"}
    ort["extra_info"] |= {"gflops_achieved": 40.0, "pct_of_peak": 25.0, "iqr_over_median": 0.05,
                          "unstable": False, "peak_memory_method": "NVML device memory used"}
    outcomes = [outcome("mnist-cnn", "eager", 64), outcome("mnist-cnn", "onnxruntime", 64),
                outcome("mnist-cnn", "torchscript", 64, status="skipped", reason="torchscript: no model.ts")]
    return {"benchmarks": [eager, ort], "bench": {"schema_version": SCHEMA_VERSION, "outcomes": outcomes}}


@pytest.fixture
def table():
    return run_table(parse_run(_data()).rows, "cpu")


def test_cells_hold_the_figures_and_notes_say_why(table):
    names = [c.name for c in table.columns]
    eager, ort, skipped = (dict(zip(names, row.cells, strict=True)) for row in table.rows)
    figures = (eager["GFLOP/s"], eager["% of GEMM"], eager["IQR/median"], eager["load MiB"])
    assert figures == (20.0, 12.5, 0.3, 64.0)
    assert eager["memory"] == "RSS" and ort["memory"] == "NVML"
    assert eager["speedup vs eager"] == 1.0 and ort["speedup vs eager"] == pytest.approx(2.0)
    assert eager["parity"] == "reference" and ort["parity"] == "pass" and ort["max abs diff"] == 1e-6
    assert table.rows[0].note.startswith("unstable: IQR/median 0.30")
    # Ten rounds back no p99: no figure, and the note says what to raise.
    assert eager["rounds"] == 10 and eager["p99 ms"] is None
    assert table.rows[1].note == "p99 needs ≥ 100 rounds, this row had 10 (--min-rounds, --max-time)"
    assert skipped["p50 ms"] == "skipped" and table.rows[2].note == "skipped: torchscript: no model.ts"
    assert table.rows[2].style == "yellow"


def test_every_format_has_the_same_columns(table):
    header = [c.name for c in table.columns] + ["note"]
    console = Console(width=300, record=True, file=io.StringIO())
    console.print(to_rich(table))
    rich_text = console.export_text()
    assert all(name in rich_text for name in header)
    markdown = render_text([table], "markdown").splitlines()
    assert markdown[2] == "| " + " | ".join(header) + " |"
    rows = list(csv.reader(io.StringIO(render_text([table], "csv").split("\n", 1)[1])))
    assert rows[0] == header and len(rows) == 4
    (data,) = json.loads(render_text([table], "json"))["tables"]
    assert data["columns"] == header[:-1] and data["rows"][0]["GFLOP/s"] == 20.0
    assert data["rows"][2]["note"] == "skipped: torchscript: no model.ts"


def test_a_parity_failure_is_marked_failed_in_red():
    data = _data()
    data["benchmarks"][1]["extra_info"]["parity"]["passed"] = False
    table = run_table(parse_run(data).rows, "cpu")
    cells = dict(zip([c.name for c in table.columns], table.rows[1].cells, strict=True))
    assert cells["parity"] == "FAIL" and table.rows[1].style == "red"
    assert table.rows[1].note.startswith("parity FAILED")


def test_memory_method_short_names():
    cuda = "torch CUDA allocator peak (max_memory_allocated above baseline)"
    assert memory_method_short(cuda) == "CUDA alloc"
    assert memory_method_short("") == "?"


def test_rows_of_different_precision_or_timing_scope_are_called_out():
    data = _data()
    data["benchmarks"][0]["extra_info"]["precision"] = {"precision": "fp32", "cudnn_benchmark": False}
    data["benchmarks"][1]["extra_info"]["precision"] = {"precision": "tf32", "cudnn_benchmark": False}
    data["benchmarks"][1]["extra_info"]["timing_scope"] = "host→device→host: CPU inputs copied in and out"
    notes = run_table(parse_run(data).rows, "cpu").notes
    assert any(n.startswith("MIXED precision: rows come from runs under fp32") for n in notes), notes
    assert "timing: 1 of 2 rows include host→device→host copies on every call (--include-transfer); " \
           "the others have device-resident inputs" in notes


def test_p99_is_shown_once_enough_rounds_back_it():
    data = _data()
    entry = data["benchmarks"][1]
    entry["stats"]["data"] = [0.005] * 120
    entry["extra_info"]["rounds"] = 120
    rows = parse_run(data).rows
    assert rows[1].backed_ms("p99") == rows[1].p99_ms and rows[0].backed_ms("p99") is None
    assert rows[0].backed_ms("p50") == rows[0].p50_ms  # a median needs no more than the rounds there are
