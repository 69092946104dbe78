"""The latency tables on 80- and 120-column terminals: every figure whole on one line, no cell cut with "…",
no line past the edge; --wide shows every column and, when it cannot fit, runs past the edge with a note."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bench.cli import app
from bench.records.reader import read_run
from bench.records.schema import ResultRow
from bench.report.console import print_tables
from bench.report.render import to_rich
from bench.report.tables import COMPACT_RUN_COLUMNS, RUN_COLUMNS, run_table
from tests.records.test_results_golden import SCHEMA1_FILE

# Real `bench run` files: a CPU run of mnist-mlp and cora-mlp, and the README's H200 run (every model,
# cifar100-bottleneck the longest name, unstable rows with notes).
H200_FILE = Path(__file__).resolve().parents[2] / "results" / "example-h200-cuda-fp32.json"
# No paired rounds: they double the run's time, and the compact table's interval column is tested from rows.
FAST_CLI = ["--threads", "1", "--warmup", "1", "--max-time", "0.05", "--min-rounds", "3", "--no-memory",
            "--no-paired"]


def _render(tables, width: int, hint: str = "") -> str:
    """What `bench` prints for `tables` on a terminal `width` columns wide."""
    console = Console(width=width, record=True, file=io.StringIO())
    print_tables(tables, "rich", hint, console=console)
    return console.export_text()


def _assert_readable(text: str, rows, width: int) -> None:
    """No cell cut, no line past `width`, and each timed row's p50 and speedup whole on its model's line."""
    assert "…" not in text
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > width]
    assert not too_long, "\n".join(too_long)
    for row in rows:
        if row.status != "ok":
            continue
        p50 = f"{row.p50_ms:.3f}"
        found = [line for line in lines if line.lstrip("│ ").startswith(f"{row.model} ") and re.search(
            rf"(?<![\d.]){re.escape(p50)}(?![\d.])", line)]
        assert found, f"{row.model} {row.runtime} p50 {p50} is not whole on one line:\n{text}"


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("path", [SCHEMA1_FILE, H200_FILE], ids=["cpu-schema1", "h200-cuda"])
def test_the_default_run_table_reads_at_80_columns(path):
    run = read_run(path)
    device = run.rows[0].device
    text = _render([run_table(run.rows, device)], 80)
    _assert_readable(text, run.rows, 80)
    header = _words("\n".join(text.splitlines()[:4]))
    assert all(word in header for name in COMPACT_RUN_COLUMNS for word in name.split())
    # Row notes that find no room beside the table come under it, labelled by their row, whole.
    for row in run_table(run.rows, device).rows:
        if row.note:
            assert f"{row.cells[0]} " in text and row.note in _words(text)


def test_a_wide_terminal_keeps_the_boxed_table_with_its_note_column():
    run = read_run(H200_FILE)
    text = _render([run_table(run.rows, "cuda")], 200)
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [*COMPACT_RUN_COLUMNS, "note"]
    assert "│ torchscript │" in text and "│ ts " not in text  # room enough: no abbreviations


def test_wide_on_a_narrow_terminal_runs_past_the_edge_and_says_so():
    run = read_run(H200_FILE)
    text = _render([run_table(run.rows, "cuda", wide=True)], 80, hint="drop --wide")
    assert "…" not in text
    needed = re.search(r"this table needs (\d+) columns and the terminal has 80: its lines run past the "
                       r"edge rather than cut a figure \(drop --wide\)", _words(text))
    assert needed and max(len(line) for line in text.splitlines()) == int(needed.group(1)) > 80
    for row in run.rows:  # every figure still whole on its row's line
        line = next(line for line in text.splitlines() if line.startswith(f"{row.model} ")
                    and f" {row.p50_ms:.3f} " in line and f" {row.rounds} " in line)
        assert f"{row.throughput_per_s:,.0f}" in line and f"{row.artifact_bytes / 2**20:.2f}" in line


def test_a_long_note_wraps_and_the_figures_do_not():
    """Text wraps where figures never do: a long skip reason takes the wrapping, beside or under the table."""
    reason = "onnxruntime: " + "a reason long enough to need several lines of any note column " * 3
    skipped = ResultRow("cora-mlp", "onnxruntime", "cpu", 64, "samples", "skipped", reason.strip())
    rows = (*read_run(SCHEMA1_FILE).rows, skipped)
    table = run_table(rows, "cpu", notes=["a table note " * 30])
    for width in (64, 80, 100, 120, 160, 240):
        text = _render([table], width)
        _assert_readable(text, rows, width)
        assert f"skipped: {skipped.reason}" in _words(text.replace("│", " "))
    beside = _render([table], 240)
    assert "┃ note" in beside and max(map(len, beside.splitlines())) <= 240
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(to_rich(table))  # no width given: as wide as the table needs, boxed, full names
    assert "│ onnxruntime │" in console.export_text()


# --- the commands, as a user runs them --------------------------------------------------------------------


@pytest.fixture
def results(tmp_path) -> Path:
    """A results folder holding the two real runs: a CPU run and the H200 CUDA run."""
    folder = tmp_path / "results" / "benchmarks"
    folder.mkdir(parents=True)
    shutil.copy(SCHEMA1_FILE, folder / "20261204T172807Z_cpu.json")
    shutil.copy(H200_FILE, folder / "20261204T180000Z_cuda.json")
    return tmp_path / "results"


def _report(results: Path, columns: int, *args: str) -> str:
    result = CliRunner().invoke(app, ["report", "--results-dir", str(results), *args],
                                env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", [72, 80, 100, 120, 160])
def test_every_report_table_fits_or_says_how_wide_it_is(results, width):
    """Whatever the table: its lines stay within the terminal, or it names the width it needs and takes
    exactly that; never a cell cut with "…"."""
    from bench.report.synthesis import report_tables
    from tests.report_fixtures import make_results

    make_results(results.parent)  # training records, sweeps and gaps beside the two real runs
    for table in report_tables(results):
        text = _render([table], width)
        assert "…" not in text, table.key
        widest = max(len(line) for line in text.splitlines())
        needed = re.search(r"this table needs (\d+) columns", _words(text))
        assert widest == int(needed.group(1)) > width if needed else widest <= width, (table.key, widest)


@pytest.mark.parametrize("columns", [80, 120])
def test_bench_report_benchmark_tables_read_at_80_and_120_columns(results, columns):
    text = _report(results, columns)
    assert "…" not in text
    benchmark = text[text.index("Inference latency on cpu"):]
    assert "Inference latency on cuda" in benchmark and "Latency across devices: cpu vs cuda" in benchmark
    rows = read_run(SCHEMA1_FILE).rows + read_run(H200_FILE).rows
    _assert_readable(benchmark, rows, columns)


def test_bench_report_wide_shows_every_column(results):
    text = _report(results, 400, "--wide", "--dataset", "mnist")
    headers = [line for line in text.splitlines() if line.startswith("┃ model")]
    shown = [[cell.strip() for cell in line.strip("┃").split("┃")] for line in headers]
    assert [c.name for c in RUN_COLUMNS] + ["note"] in shown
    assert ["model", "runtime", "batch", "unit", "p50 ms cpu", "p50 ms cuda", "cuda speedup vs cpu"] in shown
    narrow = _report(results, 80, "--wide", "--dataset", "mnist")
    assert "…" not in narrow and "(drop --wide for the compact view, or --format markdown)" in _words(narrow)


def test_bench_run_at_80_columns(mnist_mlp_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    args = ["run", "--models", "mnist-mlp", "--runtimes", "eager,onnxruntime", "--batch-sizes", "1",
            "--results-dir", str(results), *FAST_CLI]
    ran = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert ran.exit_code == 0, ran.output
    (saved,) = (results / "benchmarks").glob("*.json")
    rows = read_run(saved).rows
    assert [r.runtime for r in rows] == ["eager", "onnxruntime"]
    _assert_readable(ran.stdout, rows, 80)
    assert "runtime: ort = onnxruntime" in ran.stdout  # the dense layout's legend


def test_the_training_table_reads_at_80_columns_with_the_common_seed_in_a_note(tmp_path):
    from bench.records.store import load_training
    from bench.report.synthesis import training_table
    from tests.report_fixtures import write_training

    for model in ("cora-mlp", "cora-gcn", "cora-sage"):
        write_training(tmp_path, "cora", model, epochs=200, metrics={"total_train_time_s": 35.4})
    table = training_table("cora", load_training(tmp_path, "cora"))
    assert "seeds" not in table.header() and "seed(s) of every model: 42" in table.notes
    text = _render([table], 80)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80, text

    write_training(tmp_path, "cora", "cora-gcn", test_accs=(0.8, 0.81))  # seeds 42, 43: not common
    assert "seeds" in training_table("cora", load_training(tmp_path, "cora")).header()
