"""`bench report` from a fixture results folder: every format, gaps as 'not run' with their command."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.records.store import load_benchmarks
from bench.report.render import render_text, to_markdown
from bench.report.tabular import Column, Row, Stat, TableData, cell_text
from tests.report_fixtures import case, make_results, write_benchmark, write_sweep, write_training

runner = CliRunner()


@pytest.fixture
def results(tmp_path):
    return make_results(tmp_path)


def _report(results, *args: str):
    result = runner.invoke(app, ["report", "--results-dir", str(results), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _tables(results, dataset: str = "all") -> dict:
    text = _report(results, "--dataset", dataset, "--format", "json")
    return {t["key"]: t for t in json.loads(text)["tables"]}


def _split_cells(line: str) -> list[str]:
    """A markdown table line's cells (escaped pipes stay inside their cell)."""
    assert line.startswith("| ") and line.endswith(" |"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def _markdown_tables(text: str) -> list[list[list[str]]]:
    """Every block of consecutive `|` lines, as rows of cells."""
    blocks, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(_split_cells(line))
        elif current:
            blocks.append(current)
            current = []
    return blocks


def test_markdown_is_a_github_table_per_section(results):
    text = _report(results, "--format", "markdown")
    blocks = _markdown_tables(text)
    assert len(blocks) == len(_tables(results))
    for block in blocks:
        header, separator, *rows = block
        assert all(re.fullmatch(r":?---:?", cell) for cell in separator)
        assert all(len(row) == len(header) == len(separator) for row in rows)
        assert rows, "a table without rows"
    assert "**Cora: synthesis (report 000, table 6.a)**" in text


def test_cora_synthesis_numbers_and_gaps(results):
    table = _tables(results, "cora")["cora.synthesis"]
    rows = {r["Model"]: r for r in table["rows"]}
    assert table["columns"][:7] == ["Model", "test_acc", "test_acc last epoch", "test_acc best epoch",
                                    "test_macro_f1", "total_train_time_s", "train_loop_time (s)"]
    gcn = rows["GCN"]
    assert gcn["test_acc"]["mean"] == pytest.approx(0.808) and gcn["test_acc"]["n"] == 2
    assert gcn["forward_ms p50 eager/cpu"] == pytest.approx(4.0)
    assert gcn["forward_ms p50 onnxruntime/cpu"] == pytest.approx(2.0)
    assert gcn["forward_ms p50 torchscript/cpu"] == "skipped"
    assert "torchscript/cpu skipped: torchscript: export failed: test" in gcn["note"]
    mlp = rows["MLP"]
    assert mlp["test_acc"]["mean"] == pytest.approx(0.575)
    assert mlp["forward_ms p50 eager/cpu"] == pytest.approx(0.8)
    assert mlp["forward_ms p50 onnxruntime/cpu"] == "not run"
    assert "`bench run --models cora-mlp --runtimes onnxruntime,torchscript --device cpu`" in mlp["note"]
    sage = rows["GraphSAGE"]
    assert sage["test_acc"] == "not run" and sage["forward_ms p50 eager/cpu"] == "not run"
    assert "`bench train cora --model cora-sage`" in sage["note"]
    assert "`bench run --models cora-sage --device cpu`" in sage["note"]


def test_markdown_row_shows_mean_std_and_not_run(results):
    text = _report(results, "--dataset", "cora", "--format", "markdown")
    gcn = next(line for line in text.splitlines() if line.startswith("| GCN "))
    # best-val, last-epoch, best-epoch (these records predate per-epoch test scores) test acc; macro F1
    assert _split_cells(gcn)[1:5] == ["0.8080 ± 0.0071", "0.8030 ± 0.0071", "—", "0.7880 ± 0.0071"]
    sage = next(line for line in text.splitlines() if line.startswith("| GraphSAGE "))
    assert _split_cells(sage)[1] == "not run"


def test_csv_is_one_document_with_a_table_column(results):
    """Several tables stack under one header row, each row keyed by its table: a CSV reader's defaults."""
    text = _report(results, "--format", "csv")
    assert not text.startswith("#")
    header, *rows = list(csv.reader(io.StringIO(text)))
    tables = _tables(results)
    assert header[0] == "table" and header.count("table") == 1
    assert [r[0] for r in rows] == [key for key, t in tables.items() for _ in t["rows"]]
    assert all(len(r) == len(header) for r in rows)
    for key, table in tables.items():
        assert set(table["columns"]) <= set(header), key
    cora = {r[header.index("Model")]: r for r in rows if r[0] == "cora.synthesis"}
    assert cora["GraphSAGE"][header.index("test_acc")] == "not run"
    assert "bench train cora --model cora-sage" in cora["GraphSAGE"][header.index("note")]


def test_json_keeps_raw_numbers(results):
    tables = _tables(results)
    assert list(tables)[0] == "environment"
    env = {r["item"]: r["value"] for r in tables["environment"]["rows"]}
    assert env["CPU"] == "Test CPU" and "20261123T110000Z_cpu.json" in tables["environment"]["title"]
    bench = {(r["model"], r["runtime"], r["batch"]): r for r in tables["benchmark.cpu"]["rows"]}
    assert bench[("mnist-mlp", "onnxruntime", 64)]["speedup vs eager"] == pytest.approx(4.0)
    not_run = bench[("cifar100-bottleneck", "all", None)]
    assert not_run["p50 ms"] is None and not_run["note"].startswith("not run: `bench run --models cifar100")


def test_newest_file_wins_per_case_and_older_cases_stay(results):
    rows = {r.key: r for r in load_benchmarks(results).rows}
    assert rows[("mnist-mlp", "eager", "cpu", 64)].p50_ms == pytest.approx(0.4)  # newer file
    assert rows[("mnist-mlp", "eager", "cpu", 64)].source.name == "20261123T110000Z_cpu.json"
    assert rows[("mnist-mlp", "onnxruntime", "cpu", 1)].p50_ms == pytest.approx(0.02)  # only in the older


def test_mnist_configurations_and_time_to_target(results):
    tables = _tables(results, "mnist")
    configs = {r["Configuration"]: r for r in tables["mnist.configurations"]["rows"]}
    assert list(configs)[:5] == ["SGD", "SGD + BN", "Adam", "Adam + BN", "Adam + BN + StepLR"]
    step = configs["Adam + BN + StepLR"]
    assert step["test accuracy"]["mean"] == pytest.approx(0.994) and step["LR scheduler"].startswith("StepLR")
    # a named variant: the five configurations stay on file side by side
    assert configs["SGD"]["test accuracy"] == "not run"
    assert "`bench train mnist --model mnist-cnn --name sgd`" in configs["SGD"]["note"]
    assert configs["mnist-mlp · SGD lr 0.01"]["BatchNorm"] == "no"
    assert step["BatchNorm"] == "yes"
    from bench.report.synthesis import _describe

    # A named variant of the BatchNorm model is BatchNorm too (`bench reproduce mnist-cnn` trains those).
    assert _describe({"model": "mnist-cnn-bn@sgd-bn", "optimizer": "sgd-momentum", "lr": 0.01})[1] == "yes"
    target = {r["Configuration"]: r for r in tables["mnist.time_to_target"]["rows"]}
    assert target["Adam + BN + StepLR"]["time to 97% val (s)"]["mean"] == pytest.approx(12.5)
    assert target["mnist-mlp · SGD lr 0.01"]["time to 97% val (s)"] == "not measured"
    assert "target_accuracy=0.97" in target["mnist-mlp · SGD lr 0.01"]["note"]


def test_grid_tables_from_sweeps_and_gaps(results):
    tables = _tables(results)
    grid = tables["esc50.grid"]
    assert grid["columns"][:4] == ["Run", "lr", "weight_decay", "kernel_size"]
    first = grid["rows"][0]
    assert (first["Run"], first["lr"], first["kernel_size"], first["weight_decay"]) == ("1", 0.02, 5, 1e-5)
    assert [r["val_acc"] for r in grid["rows"]] == sorted((r["val_acc"] for r in grid["rows"]), reverse=True)
    cifar = tables["cifar100.grid"]["rows"][0]
    assert cifar["val_acc"] == "not run" and "bench sweep cifar100-bottleneck --grid lr=0.002,0.005,0.01" in \
        cifar["note"]
    assert tables["esc50.training"]["rows"][0]["test_acc"] == "not run"


def test_rich_output_names_every_table(results):
    text = _report(results, "--dataset", "cora")
    assert "Cora: synthesis" in text and "Inference latency on cpu" in text and "not run" in text
    assert "note" in text and "GraphSAGE" in text


def test_empty_results_dir_is_all_not_run(tmp_path):
    (tmp_path / "results").mkdir()
    tables = _tables(tmp_path / "results")
    assert tables["environment"]["title"].startswith("Environment (this machine")
    cora = tables["cora.synthesis"]["rows"]
    assert all(r["test_acc"] == "not run" for r in cora)
    assert {r["model"] for r in tables["benchmark.cpu"]["rows"]} >= {"cora-gcn", "mnist-cnn"}


@pytest.mark.parametrize("args,message", [
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--format", "html"], "unknown format 'html'"),
])
def test_bad_options_are_one_line_exit_2(results, args, message):
    result = runner.invoke(app, ["report", "--results-dir", str(results), *args])
    assert result.exit_code == 2 and message in result.output
    assert result.output.strip().count("\n") == 0


def test_missing_results_dir_and_corrupt_file_are_errors(tmp_path):
    result = runner.invoke(app, ["report", "--results-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no results directory" in result.output
    bad = tmp_path / "results" / "training" / "cora" / "cora-gcn.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    result = runner.invoke(app, ["report", "--results-dir", str(tmp_path / "results")])
    assert result.exit_code == 2 and "cora-gcn.json is not valid JSON" in result.output


def test_markdown_escapes_pipes_and_newlines():
    table = TableData("t", "a | b", (Column("x", align="left"), Column("y", ".2f")),
                      (Row(("p|q", 1.234), "line one\nline two"), Row(("r", None))))
    text = to_markdown(table)
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert all(len(_split_cells(line)) == 3 for line in lines)
    assert "p\\|q" in text and "line one line two" in text and "| — |" in text


def test_cells_format_stats_and_numbers():
    assert cell_text(Stat(0.8, 0.01, 3), ".4f") == "0.8000 ± 0.0100"
    assert cell_text(Stat(0.8, 0.0, 1), ".4f") == "0.8000"
    assert cell_text(1234.5, ",.0f") == "1,234" or cell_text(1234.5, ",.0f") == "1,235"
    assert cell_text(None) == "—" and cell_text("not run") == "not run"
    with pytest.raises(ValueError, match="a row has 1 cells"):
        TableData("t", "t", (Column("a"), Column("b")), (Row(("x",)),))
    assert render_text([], "json") == '{\n  "tables": []\n}\n'


def test_graph_rows_use_full_size_and_a_cuda_file_adds_columns(results):
    write_benchmark(results, "20261123T120000Z", [case("cora-gcn", "eager", 2708, 1.5, device="cuda",
                                                      unit="nodes")], device="cuda")
    write_training(results, "cora", "cora-sage", (0.74,))
    table = _tables(results, "cora")["cora.synthesis"]
    assert "forward_ms p50 eager/cuda" in table["columns"]
    rows = {r["Model"]: r for r in table["rows"]}
    assert rows["GCN"]["forward_ms p50 eager/cuda"] == pytest.approx(1.5)
    assert rows["GraphSAGE"]["test_acc"]["mean"] == pytest.approx(0.74)
    assert not any("no CUDA run is on file" in n for n in table["notes"])


def test_a_sweep_of_any_dataset_gets_its_table(results):
    assert "cora.grid" not in _tables(results, "cora")  # the Cora report ran no grid: no gap to show
    write_sweep(results, "cora", "cora-gcn")
    grid = _tables(results, "cora")["cora.grid"]
    assert grid["title"] == "Cora: grid search (cora-gcn)" and len(grid["rows"]) == 4


def test_json_survives_a_diverged_run():
    row = Row((float("nan"), Stat(0.5, float("inf"), 2)))
    table = TableData("t", "t", (Column("loss", ".4f"), Column("acc", ".4f")), (row,))
    assert json.loads(render_text([table], "json"))["tables"][0]["rows"][0] == {
        "loss": "nan", "acc": {"mean": 0.5, "std": "inf", "n": 2}}


def test_cpu_and_cuda_files_from_two_machines_are_shown_side_by_side(tmp_path):
    """A CPU run from one machine and a CUDA run from another: one table, each machine named."""
    from tests.report_fixtures import ENVIRONMENT

    results = tmp_path / "results"
    write_benchmark(results, "20261201T000000Z", [case("mnist-cnn", "eager", 64, 20.0),
                                                  case("mnist-cnn", "torchscript", 64, 10.0)])
    gpu_env = ENVIRONMENT | {"cpu": "Intel Xeon", "cuda": {"available": True, "gpus": ["NVIDIA H200"]}}
    write_benchmark(results, "20261202T000000Z",
                    [case("mnist-cnn", "eager", 64, 0.5, device="cuda"),
                     case("mnist-cnn", "torchscript", 64, 0.4, device="cuda")], device="cuda",
                    environment=gpu_env)
    data = json.loads(_report(results, "--format", "json", "--dataset", "mnist"))
    table = next(t for t in data["tables"] if t["key"] == "benchmark.cross_device")
    rows = {r["runtime"]: r for r in table["rows"]}
    assert rows["eager"]["p50 ms cpu"] == pytest.approx(20.0)
    assert rows["eager"]["p50 ms cuda"] == pytest.approx(0.5)
    assert rows["eager"]["cuda speedup vs cpu"] == pytest.approx(40.0)
    assert rows["torchscript"]["cuda speedup vs cpu"] == pytest.approx(25.0)
    assert "cpu: Test CPU, 2 threads" in table["notes"] and "cuda: NVIDIA H200" in table["notes"]


def test_named_variants_fill_report_003s_configurations_side_by_side(tmp_path):
    from bench.records.store import load_training
    from bench.report.synthesis import mnist_configuration_table
    from tests.report_fixtures import write_training

    sgd = {"optimizer": "sgd-momentum", "lr": 0.01}
    write_training(tmp_path, "mnist", "mnist-cnn@sgd", test_accs=(0.985,), config=sgd)
    write_training(tmp_path, "mnist", "mnist-cnn@adam", test_accs=(0.992,), config={"lr": 0.001})
    write_training(tmp_path, "mnist", "mnist-cnn-bn@sgd-bn", test_accs=(0.990,), config=sgd)
    table = mnist_configuration_table(load_training(tmp_path, "mnist"))
    rows = {r.cells[0]: r.cells for r in table.rows}
    acc = [c.name for c in table.columns].index("test accuracy")
    assert rows["SGD"][acc].mean == pytest.approx(0.985) and rows["Adam"][acc].mean == pytest.approx(0.992)
    assert rows["SGD + BN"][acc].mean == pytest.approx(0.990)
    assert rows["Adam + BN"][acc] == "not run"


def test_report_003s_batch_size_runs_have_their_own_table(tmp_path):
    from bench.records.store import load_training
    from bench.report.synthesis import mnist_configuration_table, report_tables
    from tests.report_fixtures import write_training

    for size, acc in ((512, 0.97), (64, 0.99), (256, 0.98)):
        write_training(tmp_path, "mnist", f"mnist-cnn@batch{size}", test_accs=(acc,), epochs=5,
                       config={"batch_size": size, "lr": 0.001}, metrics={"time_per_epoch_s": size / 100})
    tables = {t.key: t for t in report_tables(tmp_path, "mnist")}
    table = tables["mnist.batch_sizes"]
    assert [r.cells[0] for r in table.rows] == [64, 256, 512]
    assert [r.cells[1].mean for r in table.rows] == pytest.approx([0.99, 0.98, 0.97])
    assert [r.cells[3].mean for r in table.rows] == pytest.approx([0.64, 2.56, 5.12])
    # ... and not again among the configurations' other records
    listed = [r.cells[0] for r in mnist_configuration_table(load_training(tmp_path, "mnist")).rows]
    assert not any("batch" in str(name) for name in listed)
