"""Training: Ctrl-C keeps the finished epochs apart from the model's files; the same seed on CPU gives the
same metrics."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import copy_shared
from train.config import configs_for
from train.runner import RunOptions, SilentObserver, TrainingInterrupted, train_models


@pytest.fixture(scope="module")
def cora_dir(tmp_path_factory):
    return copy_shared("cora", tmp_path_factory.mktemp("data"))


class CtrlCAfter(SilentObserver):
    """Raises KeyboardInterrupt (what SIGINT does in Python) once `epochs` epochs have finished."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def epoch_done(self, cfg, stats) -> None:
        if stats.epoch == self.epochs:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_best_checkpoint_and_valid_metrics_of_finished_epochs(tmp_path, cora_dir):
    results = tmp_path / "results"
    configs = configs_for("cora", ["cora-gcn"], {"epochs": 5})
    options = RunOptions(data_dir=cora_dir, results_dir=results, device="cpu", tensorboard=False,
                         download=False)
    with pytest.raises(TrainingInterrupted) as caught:
        train_models(configs, options, CtrlCAfter(2))

    assert caught.value.exit_code == 130
    (report,) = caught.value.reports
    run_dir = report.run_dir
    assert str(caught.value).startswith("interrupted: cora-gcn stopped after 2 of 5 epoch(s); its partial "
                                        "checkpoint and metrics are kept, marked interrupted, in "
                                        f"{run_dir}; ")
    record = json.loads((run_dir / "metrics.json").read_text())  # valid JSON
    assert [e["epoch"] for e in record["runs"][0]["history"]] == [1, 2]
    assert record["runs"][0]["metrics"]["interrupted_after_epoch"] == 2
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["metrics"]["best_epoch"] in (1, 2)
    assert not (results / "checkpoints").exists()  # never promoted: `bench run` finds no partial weights
    assert not (results / "training" / "cora" / "cora-gcn.json").exists()
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]


def test_cli_says_where_the_interrupted_run_went(tmp_path, cora_dir, monkeypatch):
    """Two models, Ctrl-C in the second: the first is promoted, the summary shows both (the second
    marked), and the last line says where the partial run is."""
    import train.loop

    real_fit = train.loop.fit

    def fit_then_ctrl_c(model, task, cfg, device, on_epoch=None):
        if cfg.model != "cora-gcn":
            return real_fit(model, task, cfg, device, on_epoch)
        return real_fit(model, task, cfg, device, lambda stats: _ctrl_c_at(stats, 1, on_epoch))

    monkeypatch.setattr("train.runner.fit", fit_then_ctrl_c)
    result = CliRunner().invoke(app, ["train", "cora", "-m", "cora-mlp", "-m", "cora-gcn", "--epochs", "3",
                                      "--data-dir", str(cora_dir), "--results-dir", str(tmp_path),
                                      "--no-tensorboard", "--format", "markdown"])
    assert result.exit_code == 130, result.output
    last = result.output.strip().splitlines()[-1]
    (kept,) = (tmp_path / "training" / "cora" / "runs").glob("cora-gcn-*/checkpoint.pt")
    assert last == ("error: interrupted: cora-gcn stopped after 1 of 3 epoch(s); its partial checkpoint and "
                    f"metrics are kept, marked interrupted, in {kept.parent}; no complete checkpoint of "
                    f"cora-gcn exists, so `bench run` uses untrained weights (copy {kept} to "
                    f"{tmp_path / 'checkpoints' / 'cora-gcn.pt'} to use the partial weights anyway)")
    assert "| cora-mlp | " in result.output and "| cora-gcn (interrupted at epoch 1/3) | " in result.output
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["cora-mlp.pt"]


def _ctrl_c_at(stats, epoch, on_epoch) -> None:
    if on_epoch is not None:
        on_epoch(stats)
    if stats.epoch == epoch:
        raise KeyboardInterrupt


# Measurements of this machine, not results of the seed: times and the training loop's memory.
TIMES = ("total_train_time_s", "train_loop_time", "data_time_s", "time_to_target_s", "time_per_epoch_s",
         "time_to_target_wall_s", "peak_rss_bytes")


def _metrics_without_times(results) -> dict:
    out = {}
    for model in ("cora-mlp", "cora-gcn", "cora-sage"):
        record = json.loads((results / "training" / "cora" / f"{model}.json").read_text())
        run = record["runs"][0]
        history = [{k: v for k, v in e.items() if not k.endswith("_s")} for e in run["history"]]
        out[model] = ({k: v for k, v in run["metrics"].items() if k not in TIMES}, history)
    return out


def test_same_seed_on_cpu_gives_identical_metrics(tmp_path, cora_dir):
    runs = []
    for name in ("a", "b"):
        results = tmp_path / name
        result = CliRunner().invoke(app, ["train", "cora", "--epochs", "5", "--device", "cpu", "--data-dir",
                                          str(cora_dir), "--results-dir", str(results), "--no-tensorboard"])
        assert result.exit_code == 0, result.output
        runs.append(_metrics_without_times(results))
    assert runs[0] == runs[1]
    for metrics, _history in runs[0].values():
        assert metrics["seed"] == 42 and metrics["deterministic_algorithms"] is False
        assert metrics["test_acc"] > 0
