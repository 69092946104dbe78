"""LR finder, grid search, sanity checks and baselines (report 001's tooling), on tiny inputs."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.utils.data import Subset, TensorDataset
from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import copy_shared, make_esc50
from train.config import configs_for
from train.data.registry import load_data
from train.data.splits import TransformSubset
from train.errors import BenchError
from train.lr_find import lr_find, lr_schedule, steepest_descent
from train.runner import RunOptions, prepare
from train.sanity import baselines, initial_loss, labels_of, overfit, overfit_config
from train.sweep import grid_configs, parse_grid, run_sweep

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def cora_dir(tmp_path_factory):
    return copy_shared("cora", tmp_path_factory.mktemp("data"))


def test_lr_schedule_is_log_spaced():
    rates = lr_schedule(1e-4, 1.0, 5)
    assert rates == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])


def test_steepest_descent_by_hand():
    lrs = [10.0 ** (i / 4 - 5) for i in range(21)]
    # flat, then a drop between points 11 and 12, then flat again
    losses = [2.0] * 12 + [1.0] * 9
    assert steepest_descent(lrs, losses, skip=2) == lrs[11]


def test_lr_find_runs_and_stops_on_divergence(cora_dir):
    (cfg,) = configs_for("cora", ["cora-mlp"])
    _, model, task = prepare(cfg, load_data(cfg, cora_dir, download=False), CPU)
    result = lr_find(model, task, cfg, start_lr=1e-4, end_lr=1e4, iterations=60)
    assert result.stopped_early and len(result.lrs) < 60
    assert result.lrs == sorted(result.lrs) and result.min_loss_lr is not None


def test_parse_grid_forms_and_aliases():
    grid = parse_grid(["lr=5e-3,1e-2", "wd=[1e-5, 1e-4]", "channels=[[32,64,128],[48,96,192]]"])
    assert grid == {"lr": ["5e-3", "1e-2"], "weight_decay": ["1e-5", "1e-4"],
                    "model_kwargs.channels": [[32, 64, 128], [48, 96, 192]]}
    with pytest.raises(BenchError, match="key=v1"):
        parse_grid(["lr"])


def test_grid_configs_cover_every_combination_with_typed_values():
    (base,) = configs_for("esc50")
    points = grid_configs(base, parse_grid(["lr=5e-3,1e-2,2e-2", "wd=1e-5,1e-4", "kernel_size=3,5"]))
    assert len(points) == 12
    name, values, cfg = points[0]
    assert values == {"lr": 0.005, "weight_decay": 1e-05, "model_kwargs.kernel_size": 3}
    assert name == "lr=0.005,weight_decay=1e-05,kernel_size=3"
    assert cfg.model_kwargs == {"channels": [32, 64, 128], "kernel_size": 3}
    with pytest.raises(BenchError, match="unknown config key 'momentm'"):
        grid_configs(base, parse_grid(["momentm=0.5"]))


def test_run_sweep_ranks_by_val_accuracy(tmp_path, cora_dir):
    (base,) = configs_for("cora", ["cora-mlp"], {"epochs": 2})
    options = RunOptions(cora_dir, tmp_path, tensorboard=False, download=False)
    result = run_sweep(base, parse_grid(["lr=0.0001,0.01"]), options)
    assert [r.val_acc for r in result.rows] == sorted((r.val_acc for r in result.rows), reverse=True)
    saved = json.loads(result.path.read_text())
    assert len(saved["rows"]) == 2 and saved["selected_by"] == "val_acc"
    assert not (tmp_path / "checkpoints").exists()  # sweeps never overwrite the trained checkpoints


def test_initial_loss_near_ln_classes(cora_dir):
    (cfg,) = configs_for("cora", ["cora-gcn"])
    report = initial_loss(cfg, load_data(cfg, cora_dir, download=False), CPU)
    assert report["expected_loss"] == pytest.approx(math.log(7))
    assert abs(report["initial_loss"] - math.log(7)) < 0.1 and report["grads_ok"]


def test_esc50_initial_loss_and_overfit_tiny_subset(tmp_path):
    data_dir = make_esc50(tmp_path)
    (cfg,) = configs_for("esc50", sets={"model_kwargs.channels": [4, 8, 16]})
    first = initial_loss(cfg, load_data(cfg, data_dir, download=False), CPU)
    assert abs(first["initial_loss"] - math.log(50)) < 0.5  # ≈ 3.912, as the report checks
    small = overfit_config(cfg, samples=4, epochs=40, lr=1e-2, weight_decay=1e-4)
    fit = overfit(small, load_data(small, data_dir, download=False), CPU)
    assert fit["samples"] == 4 and fit["final_train_loss"] < 0.5 * fit["first_train_loss"]


def test_baselines_by_hand():
    result = baselines(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1]), num_classes=3)
    assert result["majority_class"] == 0 and result["majority_test_acc"] == pytest.approx(0.25)
    assert result["uniform_expected_acc"] == pytest.approx(1 / 3)


def test_labels_of_never_runs_transforms():
    base = TensorDataset(torch.zeros(5, 2), torch.tensor([4, 3, 2, 1, 0]))

    def boom(x):
        raise AssertionError("transform ran")

    assert labels_of(Subset(base, [0, 2])).tolist() == [4, 2]
    assert labels_of(TransformSubset(base, [1, 3], boom)).tolist() == [3, 1]


def test_tool_commands_end_to_end(tmp_path, cora_dir):
    runner = CliRunner()
    common = ["--data-dir", str(cora_dir), "--results-dir", str(tmp_path)]
    found = runner.invoke(app, ["lr-find", "cora-mlp", "--iterations", "20", *common])
    assert found.exit_code == 0, found.output
    assert (tmp_path / "lr_find" / "cora-mlp.json").is_file()
    swept = runner.invoke(app, ["sweep", "cora-mlp", "--grid", "lr=0.01,0.02", "--epochs", "1",
                                "--no-tensorboard", *common])
    assert swept.exit_code == 0, swept.output
    assert "★" in swept.output
    checked = runner.invoke(app, ["sanity", "cora-mlp", "--epochs", "5", *common])
    assert checked.exit_code == 0, checked.output
    assert "1.946" in checked.output  # ln(7)
    base = runner.invoke(app, ["baselines", "cora", *common])
    assert base.exit_code == 0 and "majority" in base.output
