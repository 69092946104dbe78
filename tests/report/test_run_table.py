"""The run table: one builder, two views (compact by default, --wide), the same columns in every format;
roofline, memory, stability, parity; CSV a reader takes as numbers."""

import csv
import io
import json
import re

import pytest
from rich.console import Console

from bench.records.reader import parse_run, read_run
from bench.records.schema import SCHEMA_VERSION
from bench.report.render import render_text, to_rich
from bench.report.tables import COMPACT_RUN_COLUMNS, RUN_COLUMNS, memory_method_short, run_table
from tests.records.test_results_golden import SCHEMA1_FILE
from tests.report_fixtures import case, outcome


def _data() -> dict:
    eager = case("mnist-cnn", "eager", 64, 10.0, peak_memory_bytes=64 * 2**20)
    ort = case("mnist-cnn", "onnxruntime", 64, 5.0, peak_memory_bytes=32 * 2**20)
    eager["extra_info"] |= {"gflops_achieved": 20.0, "pct_of_peak": 12.5, "iqr_over_median": 0.3,
                            "unstable": True, "peak_memory_method": "process RSS high-water mark (VmHWM)"}
    ort["extra_info"] |= {"gflops_achieved": 40.0, "pct_of_peak": 25.0, "iqr_over_median": 0.05,
                          "unstable": False, "peak_memory_method": "NVML device memory used",
                          "paired": {"reference": "eager", "rounds": 10, "speedup": 1.97, "ci_low": 1.81,
                                     "ci_high": 2.12, "confidence": 0.95}}
    outcomes = [outcome("mnist-cnn", "eager", 64), outcome("mnist-cnn", "onnxruntime", 64),
                outcome("mnist-cnn", "torchscript", 64, status="skipped", reason="torchscript: no model.ts")]
    return {"benchmarks": [eager, ort], "bench": {"schema_version": SCHEMA_VERSION, "outcomes": outcomes}}


@pytest.fixture
def table():
    return run_table(parse_run(_data()).rows, "cpu", wide=True)


def _cells(table, index: int) -> dict:
    return dict(zip([c.name for c in table.columns], table.rows[index].cells, strict=True))


def test_cells_hold_the_figures_and_notes_say_why(table):
    eager, ort, skipped = (_cells(table, i) for i in range(3))
    figures = (eager["GFLOP/s"], eager["% of GEMM"], eager["IQR/median"], eager["load MiB"])
    assert figures == (20.0, 12.5, 0.3, 64.0)
    assert eager["memory"] == "RSS" and ort["memory"] == "NVML"
    assert eager["speedup vs eager"] == 1.0 and ort["speedup vs eager"] == pytest.approx(1.97)
    assert ort["95 % CI"] == "1.81–2.12"
    assert eager["parity"] == "reference" and ort["parity"] == "pass" and ort["max abs diff"] == 1e-6
    assert table.rows[0].note.startswith("unstable: IQR/median 0.30")
    # Ten rounds back no p99: no figure, and the note says what to raise.
    assert eager["rounds"] == 10 and eager["p99 ms"] is None
    assert table.rows[1].note == "p99 needs ≥ 100 rounds, this row had 10 (--min-rounds, --max-time)"
    # A skipped row has no figure at all (a CSV reader finds numbers only); its status says what happened.
    assert skipped["status"] == "skipped" and skipped["p50 ms"] is None
    assert table.rows[2].note == "skipped: torchscript: no model.ts" and table.rows[2].style == "yellow"


def test_the_compact_view_keeps_what_a_choice_needs():
    rows = parse_run(_data()).rows
    compact = run_table(rows, "cpu")
    assert [c.name for c in compact.columns] == list(COMPACT_RUN_COLUMNS)
    eager, ort = _cells(compact, 0), _cells(compact, 1)
    assert (ort["p50 ms"], ort["speedup vs eager"], ort["95 % CI"]) == (pytest.approx(5.0), 1.97, "1.81–2.12")
    assert (eager["parity"], ort["parity"]) == ("reference", "pass")
    assert (eager["peak MiB"], ort["peak MiB"]) == (64, 32)
    # No p99 column here, so no note about p99; the unstable row still says so.
    assert compact.rows[1].note == "" and compact.rows[0].note.startswith("unstable")
    assert any(n.startswith("--wide: every column") for n in compact.notes)
    assert set(COMPACT_RUN_COLUMNS) <= {c.name for c in RUN_COLUMNS}  # --wide shows these too


def _rich_header(table) -> list[str]:
    """The header cells of `table` drawn boxed on a terminal wide enough for it."""
    console = Console(width=600, record=True, file=io.StringIO())
    console.print(to_rich(table, 600))
    line = next(line for line in console.export_text().splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def _csv(table) -> tuple[list[str], list[dict[str, str]]]:
    text = render_text([table], "csv")
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.parametrize("wide", [False, True], ids=["compact", "wide"])
def test_every_format_has_the_same_columns(wide):
    table = run_table(read_run(SCHEMA1_FILE).rows + parse_run(_data()).rows, "cpu", wide=wide)
    header = [c.name for c in table.columns] + ["note"]
    assert "parity" in header and ("size MiB" in header) == wide
    assert _rich_header(table) == header
    markdown = render_text([table], "markdown").splitlines()
    assert markdown[2] == "| " + " | ".join(header) + " |"
    assert _csv(table)[0] == header
    (data,) = json.loads(render_text([table], "json"))["tables"]
    assert data["columns"] == header[:-1]
    assert data["rows"][-1]["note"] == "skipped: torchscript: no model.ts"


@pytest.mark.parametrize("wide", [False, True], ids=["compact", "wide"])
def test_csv_reads_back_as_numbers(wide):
    """The csv module (or pandas with its defaults) gets floats from every figure column: no comment line,
    no thousands separators, no text in a figure column, an empty cell where there is no figure."""
    rows = read_run(SCHEMA1_FILE).rows + parse_run(_data()).rows
    table = run_table(rows, "cpu", wide=wide)
    text = render_text([table], "csv")
    assert not text.startswith("#") and text.count("\n") == len(table.rows) + 1
    header, records = _csv(table)
    figures = [c.name for c in table.columns if c.fmt]  # the columns that hold measured numbers
    assert "p50 ms" in figures and (not wide or "throughput/s" in figures)
    for record in records:
        for name in figures:
            assert record[name] == "" or isinstance(float(record[name]), float), (name, record[name])
        assert int(record["batch"]) > 0
    timed = [r for r in rows if r.status == "ok"]
    by_key = {(r["model"], r["runtime"], int(r["batch"])): r for r in records}
    for row in timed:
        shown = by_key[(row.model, row.runtime, row.batch)]
        assert float(shown["p50 ms"]) == pytest.approx(row.p50_ms, abs=5e-4)
        if wide:  # 12,129 in the terminal, 12129 here
            assert float(shown["throughput/s"]) == pytest.approx(row.throughput_per_s, abs=0.5)
    assert by_key[("mnist-cnn", "torchscript", 64)]["p50 ms"] == ""


def test_csv_of_several_tables_is_one_document_keyed_by_table():
    """`bench report` prints several tables: one header (their columns' union), a `table` column first."""
    cpu = run_table(read_run(SCHEMA1_FILE).rows, "cpu")
    other = run_table(parse_run(_data()).rows, "cpu", wide=True)
    header, *rows = list(csv.reader(io.StringIO(render_text([cpu, other], "csv"))))
    assert header[0] == "table" and len(header) == len(set(header))
    assert set(header[1:]) == {c.name for c in other.columns} | {"note"}
    assert [r[0] for r in rows] == [cpu.key] * len(cpu.rows) + [other.key] * len(other.rows)
    rounds = header.index("rounds")  # a --wide column only: empty in the compact table's rows
    assert all(r[rounds] == "" for r in rows[: len(cpu.rows)]) and all(r[rounds] for r in rows[-3:-1])


def test_a_parity_failure_is_marked_failed_in_red():
    data = _data()
    data["benchmarks"][1]["extra_info"]["parity"]["passed"] = False
    table = run_table(parse_run(data).rows, "cpu")
    cells = _cells(table, 1)
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
    for wide in (False, True):
        notes = run_table(parse_run(data).rows, "cpu", wide=wide).notes
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


def test_models_never_timed_are_not_run_with_the_command():
    table = run_table(parse_run(_data()).rows, "cpu", models=["mnist-cnn", "cora-gcn"], wide=True)
    cells = _cells(table, 3)
    assert (cells["model"], cells["runtime"], cells["status"], cells["unit"]) == \
        ("cora-gcn", "all", "not run", "nodes")
    assert cells["p50 ms"] is None
    assert re.fullmatch(r"not run: `bench run --models cora-gcn --device cpu`", table.rows[3].note)


def test_speedups_read_the_same_way_in_run_and_compare_tables():
    from bench.records.compare import compare
    from bench.report.comparison import comparison_table

    rows = parse_run(_data()).rows
    run = run_table(rows, "cpu")
    markdown = render_text([run], "markdown")
    assert "| 1.97× |" in markdown and "| 1.00× |" in markdown  # one direction (above 1: faster), one sign
    assert _csv(run)[1][1]["speedup vs eager"] == "1.97"  # a bare number for CSV readers
    run_file = parse_run(_data())
    compared = comparison_table(compare(run_file, run_file))
    text = render_text([compared], "markdown")
    assert "| 2.00× |" in text  # eager 10 ms ÷ onnxruntime 5 ms, the same notation and direction
    speedups = [c.name for c in compared.columns if c.name.startswith("speedup vs eager")]
    assert speedups and all(c.unit == "×" for c in compared.columns if c.name in speedups)


def test_trained_and_untrained_rows_side_by_side_say_which_is_which():
    gcn = case("cora-gcn", "eager", 2708, 20.0, unit="nodes")
    gcn["extra_info"]["weights"] = "checkpoint /r/checkpoints/cora-gcn.pt"
    esc = case("esc50-cnn", "eager", 1, 100.0)
    mixed = run_table(parse_run({"benchmarks": [gcn, esc],
                                 "bench": {"schema_version": SCHEMA_VERSION}}).rows, "cpu")
    assert [c.name for c in mixed.columns][-1] == "trained"
    assert [row.cells[-1] for row in mixed.rows] == ["yes", "no"]
    assert ("weights benchmarked: checkpoint /r/checkpoints/cora-gcn.pt (cora-gcn); untrained, seed 0 "
            "(esc50-cnn)") in mixed.notes
    alike = run_table(parse_run({"benchmarks": [esc],
                                 "bench": {"schema_version": SCHEMA_VERSION}}).rows, "cpu")
    assert "trained" not in alike.header()  # one kind of weights: said once, in the notes
    other = case("cora-mlp", "eager", 2708, 15.0, unit="nodes")
    other["extra_info"]["weights"] = "checkpoint /r/checkpoints/cora-mlp.pt"
    trained = run_table(parse_run({"benchmarks": [gcn, other],
                                   "bench": {"schema_version": SCHEMA_VERSION}}).rows, "cpu")
    assert "trained" not in trained.header()  # two checkpoints, both trained: nothing to tell apart


def test_page_faults_per_call_are_a_column_and_a_note_where_the_allocator_is_in_the_time():
    data = _data()
    data["benchmarks"][0]["extra_info"] |= {"page_faults_per_call": 7950.0, "allocator": "glibc defaults"}
    data["benchmarks"][1]["extra_info"] |= {"page_faults_per_call": 3.0, "allocator": "glibc defaults"}
    table = run_table(parse_run(data).rows, "cpu", wide=True)
    eager, ort = _cells(table, 0), _cells(table, 1)
    assert (eager["faults/call"], ort["faults/call"]) == (7950.0, 3.0)
    assert "7,950 page faults per call: freed memory faulted back in" in table.rows[0].note
    assert "page faults" not in table.rows[1].note  # below 256 (1 MiB of pages) it is not the story
    assert "host memory: glibc defaults (--allocator)" in table.notes
    compact = run_table(parse_run(data).rows, "cpu", wide=False)
    assert "faults/call" not in [c.name for c in compact.columns]
    assert "7,950 page faults per call" in compact.rows[0].note  # the reason an eager time is inflated
    data["benchmarks"][1]["extra_info"]["allocator"] = "glibc, freed memory kept"
    notes = run_table(parse_run(data).rows, "cpu").notes
    assert any(n.startswith("MIXED host memory: rows come from runs under glibc defaults and glibc, freed")
               for n in notes), notes


def test_rows_from_files_older_than_the_allocator_setting_make_the_host_memory_note_mixed():
    data = _data()
    data["benchmarks"][1]["extra_info"]["allocator"] = "glibc, freed memory kept"  # eager's file is older
    notes = run_table(parse_run(data).rows, "cpu").notes
    assert "MIXED host memory: rows come from runs under glibc, freed memory kept and not recorded (glibc " \
           "defaults); torch runtimes' times differ by it" in notes
    assert not any("host memory" in n for n in run_table(parse_run(_data()).rows, "cpu").notes)
