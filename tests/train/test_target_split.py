"""Time to a target accuracy, two definitions: validation accuracy on compute time (the default, no test
peeking) and report 003's, test accuracy on the loop's wall time (evaluation included)."""

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import copy_shared


def _train_mlp_to_half(tmp_path, epochs: int, *extra: str) -> dict:
    """The run record of a small mnist-mlp training with target accuracy 0.5."""
    data = copy_shared("mnist", tmp_path / "data")
    results = tmp_path / "results"
    result = CliRunner().invoke(app, [
        "train", "mnist", "-m", "mnist-mlp", "--data-dir", str(data), "--results-dir", str(results),
        "--epochs", str(epochs), "--set", "train_subset=1024", "--set", "eval_subset=500", "--set",
        "target_accuracy=0.5", *extra, "--no-tensorboard"])
    assert result.exit_code == 0, result.output
    (run,) = json.loads((results / "training" / "mnist" / "mnist-mlp.json").read_text())["runs"]
    return run


def test_report_003s_definition_watches_test_accuracy_and_records_wall_time(tmp_path):
    run = _train_mlp_to_half(tmp_path, 3, "--set", "target_split=test")
    metrics, history = run["metrics"], run["history"]
    assert metrics["target_split"] == "test"
    reached = next(e["epoch"] for e in history if e["test_acc"] >= 0.5)  # test scored every epoch
    assert metrics["epochs_to_target"] == reached
    assert metrics["time_to_target_wall_s"] >= metrics["time_to_target_s"] > 0


def test_the_default_watches_validation_and_a_batch_task_scores_no_test_per_epoch(tmp_path):
    run = _train_mlp_to_half(tmp_path, 2)
    assert run["metrics"]["target_split"] == "val"
    assert all(e["test_acc"] is None for e in run["history"])
    reached = next(e["epoch"] for e in run["history"] if e["val_acc"] >= 0.5)
    assert run["metrics"]["epochs_to_target"] == reached


@pytest.mark.parametrize("value", ["train", "TEST", "1"])
def test_an_unknown_target_split_is_one_line_exit_2(value, tmp_path):
    result = CliRunner().invoke(app, ["train", "mnist", "--set", f"target_split={value}", "--results-dir",
                                      str(tmp_path)])
    assert result.exit_code == 2 and "target_split must be val or test" in result.output
