"""`bench train` end to end through Typer's CliRunner, in tmp_path, on tiny epochs."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import copy_shared, make_cifar100, make_esc50

runner = CliRunner()


def _train(*args: str):
    return runner.invoke(app, ["train", *args])


def _load(results, model: str) -> dict:
    return torch.load(results / "checkpoints" / f"{model}.pt", weights_only=True)


@pytest.fixture(scope="module")
def cora_dir(tmp_path_factory):
    return copy_shared("cora", tmp_path_factory.mktemp("data"))


def test_train_cora_three_models(tmp_path, cora_dir):
    results = tmp_path / "results"
    result = _train("cora", "--data-dir", str(cora_dir), "--results-dir", str(results), "--epochs", "3")
    assert result.exit_code == 0, result.output
    for column in ("test_acc", "test_macro_f1", "total_train_time_s", "train_loop_time"):
        assert column in result.output
    for model in ("cora-mlp", "cora-gcn", "cora-sage"):
        ckpt = _load(results, model)
        assert ckpt["model"] == model and ckpt["config"]["epochs"] == 3 and ckpt["config"]["seed"] == 42
        assert ckpt["model_kwargs"] == {"hidden": 256, "dropout": 0.5}
        assert 0 <= ckpt["metrics"]["test_acc"] <= 1 and ckpt["metrics"]["best_epoch"] in (1, 2, 3)
        record = json.loads((results / "training" / "cora" / f"{model}.json").read_text())
        assert len(record["runs"][0]["history"]) == 3
        runs = list((results / "runs" / "cora" / model).iterdir())
        assert len(runs) == 1 and any(p.name.startswith("events.out.tfevents") for p in runs[0].iterdir())
    sage = _load(results, "cora-sage")
    assert sage["config"]["num_neighbors"] == [10, 5] and sage["config"]["batch_size"] == 64


def test_train_several_seeds_reports_mean_and_std(tmp_path, cora_dir):
    results = tmp_path / "results"
    result = _train("cora", "-m", "cora-gcn", "--data-dir", str(cora_dir), "--results-dir", str(results),
                    "--epochs", "2", "--seeds", "2", "--no-tensorboard", "--lr", "0.02")
    assert result.exit_code == 0, result.output
    assert "±" in result.output
    record = json.loads((results / "training" / "cora" / "cora-gcn.json").read_text())
    assert [r["config"]["seed"] for r in record["runs"]] == [42, 43]
    assert record["summary"]["test_acc"]["n"] == 2 and record["runs"][0]["config"]["lr"] == 0.02
    assert not (results / "runs").exists()


def test_train_esc50_fixture(tmp_path):
    data = make_esc50(tmp_path / "data")
    results = tmp_path / "results"
    result = _train("esc50", "--data-dir", str(data), "--results-dir", str(results), "--epochs", "2",
                    "--set", "batch_size=4", "--no-download")
    assert result.exit_code == 0, result.output
    ckpt = _load(results, "esc50-cnn")
    assert ckpt["model_kwargs"] == {"channels": [32, 64, 128], "kernel_size": 5}
    assert ckpt["metrics"]["graph"] == "traced"


def test_train_cifar100_fixture(tmp_path):
    data = make_cifar100(tmp_path / "data", train=40, test=20)
    results = tmp_path / "results"
    result = _train("cifar100", "--data-dir", str(data), "--results-dir", str(results), "--epochs", "1",
                    "--set", "batch_size=8", "--no-tensorboard", "--no-download")
    assert result.exit_code == 0, result.output
    assert _load(results, "cifar100-bottleneck")["model_kwargs"] == {"blocks": [3, 3, 3], "width": 16}


def test_train_mnist_subset_reports_time_to_target(tmp_path):
    data = copy_shared("mnist", tmp_path / "data")
    results = tmp_path / "results"
    result = _train("mnist", "-m", "mnist-mlp", "--data-dir", str(data), "--results-dir", str(results),
                    "--epochs", "2", "--set", "train_subset=1024", "--set", "eval_subset=500",
                    "--set", "target_accuracy=0.5", "--no-tensorboard")
    assert result.exit_code == 0, result.output
    assert "time to 50% val" in result.output
    metrics = _load(results, "mnist-mlp")["metrics"]
    assert metrics["epochs_to_target"] in (1, 2) and metrics["time_to_target_s"] > 0


@pytest.mark.parametrize("args,message", [
    (["cora", "--set", "learning_rate=1"], "unknown config key 'learning_rate'"),
    (["cora", "--epochs", "0"], "epochs must be positive"),
    (["cora", "-m", "mnist-cnn"], "trains on mnist, not cora"),
    (["imagenet"], "unknown dataset 'imagenet'"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    result = _train(*args, "--data-dir", str(tmp_path), "--results-dir", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.strip().count("\n") == 0


def test_missing_dataset_offline_names_layout_and_flag(tmp_path):
    result = _train("cora", "--data-dir", str(tmp_path / "none"), "--results-dir", str(tmp_path / "r"),
                    "--no-download")
    assert result.exit_code == 2
    assert "Cora not found" in result.output and "cora/raw" in result.output and "--data-dir" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_request_without_cuda_is_an_error(tmp_path, cora_dir):
    result = _train("cora", "--data-dir", str(cora_dir), "--results-dir", str(tmp_path), "--device", "cuda")
    assert result.exit_code == 2 and "CUDA is not available" in result.output
