"""The real `bench run` JSON feeds `bench report`; `bench run --format markdown --tensorboard` end to end."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from bench.cli import app
from bench.report.tables import RUN_COLUMNS

FAST_CLI = ["--threads", "1", "--warmup", "1", "--max-time", "0.01", "--min-rounds", "2"]


def test_run_markdown_and_tensorboard_then_report_reads_the_json(mnist_mlp_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    runner = CliRunner()
    ran = runner.invoke(app, ["run", "--models", "mnist-mlp", "--batch-sizes", "1", "--results-dir",
                              str(results), "--format", "markdown", "--tensorboard", "--wide", *FAST_CLI])
    assert ran.exit_code == 0, ran.output
    header = "| " + " | ".join(c.name for c in RUN_COLUMNS) + " |"
    assert any(line.startswith(header) for line in ran.stdout.splitlines())  # --wide: every column
    lines = [line for line in ran.stdout.splitlines() if line.startswith("| mnist-mlp ")]
    assert sorted(line.split(" | ")[1] for line in lines) == ["eager", "onnxruntime", "torchscript"]
    [logged] = list((results / "runs" / "bench").iterdir())
    assert f"TensorBoard: {logged}" in ran.stderr
    assert any(p.name.startswith("events.out.tfevents") for p in logged.iterdir())

    reported = runner.invoke(app, ["report", "--results-dir", str(results), "--dataset", "mnist",
                                   "--format", "json", "--wide"])
    assert reported.exit_code == 0, reported.output
    tables = {t["key"]: t for t in json.loads(reported.stdout)["tables"]}
    rows = [r for r in tables["benchmark.cpu"]["rows"] if r["model"] == "mnist-mlp"]
    assert sorted(r["runtime"] for r in rows) == ["eager", "onnxruntime", "torchscript"]
    assert all(r["p50 ms"] > 0 and r["p99 ms"] >= r["p50 ms"] for r in rows)
    assert tables["environment"]["rows"][0]["item"] == "OS"


def test_train_prints_its_table_as_markdown(tmp_path):
    from tests.train_fixtures import copy_shared

    data = copy_shared("cora", tmp_path / "data")
    trained = CliRunner().invoke(app, ["train", "cora", "-m", "cora-gcn", "--epochs", "2", "--no-tensorboard",
                                       "--data-dir", str(data), "--results-dir", str(tmp_path / "results"),
                                       "--no-download", "--format", "markdown"])
    assert trained.exit_code == 0, trained.output
    lines = [line for line in trained.stdout.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| Model | val_acc | test_acc | test_macro_f1 |")
    assert len(lines) == 3 and lines[2].startswith("| cora-gcn | 0.")
