"""Cora scores its test split every epoch (one full-graph pass serves val and test): the record holds
last-epoch and best-over-epochs test accuracy beside the best-validation one, and report 6.a shows all
three; a dataset with a test loader of its own does not pay for a test pass per epoch."""

import json

from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import copy_shared


def test_cora_records_test_accuracy_per_epoch_and_the_report_shows_last_and_best(tmp_path):
    data = copy_shared("cora", tmp_path / "data")
    results = tmp_path / "results"
    trained = CliRunner().invoke(app, [
        "train", "cora", "--model", "cora-gcn", "--model", "cora-mlp", "--epochs", "4", "--data-dir",
        str(data), "--results-dir", str(results), "--no-download", "--format", "json"])
    assert trained.exit_code == 0, trained.output
    for model in ("cora-gcn", "cora-mlp"):
        record = json.loads((results / "training" / "cora" / f"{model}.json").read_text())
        (run,) = record["runs"]
        per_epoch = [epoch["test_acc"] for epoch in run["history"]]
        assert len(per_epoch) == 4 and all(0 <= acc <= 1 for acc in per_epoch)
        metrics = run["metrics"]
        assert metrics["final_test_acc"] == per_epoch[-1]  # the last epoch's weights, scored twice alike
        assert metrics["best_test_acc_any_epoch"] == max(per_epoch)
        assert per_epoch[metrics["best_test_epoch"] - 1] == max(per_epoch)
        assert record["summary"]["best_test_acc_any_epoch"]["mean"] == max(per_epoch)
    events = list((results / "runs" / "cora" / "cora-gcn").rglob("events.out.tfevents.*"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = EventAccumulator(str(events[0].parent)).Reload()
    assert [e.step for e in logged.Scalars("test/acc")] == [1, 2, 3, 4]

    report = CliRunner().invoke(app, ["report", "--results-dir", str(results), "--dataset", "cora",
                                      "--format", "json"])
    assert report.exit_code == 0, report.output
    (table,) = [t for t in json.loads(report.stdout)["tables"] if t["key"] == "cora.synthesis"]
    gcn = {r["Model"]: r for r in table["rows"]}["GCN"]
    record = json.loads((results / "training" / "cora" / "cora-gcn.json").read_text())
    assert gcn["test_acc last epoch"]["mean"] == record["runs"][0]["metrics"]["final_test_acc"]
    assert gcn["test_acc best epoch"]["mean"] == record["runs"][0]["metrics"]["best_test_acc_any_epoch"]


def test_a_batch_task_scores_no_test_split_per_epoch():
    from train.tasks import BatchTask, FullGraphTask, SampledGraphTask

    assert FullGraphTask.tests_every_epoch and SampledGraphTask.tests_every_epoch
    assert not BatchTask.tests_every_epoch  # MNIST's 10,000 test images would be a second pass per epoch


def test_the_epoch_evaluation_of_graphsage_projects_first_with_its_own_forwards_predictions(tmp_path):
    import torch
    from torch_geometric.nn import SAGEConv

    from train.data.cora import load_cora
    from train.registry import get_model
    from train.tasks import FullGraphTask

    data = load_cora(copy_shared("cora", tmp_path / "data"), download=False)
    model = get_model("cora-sage").build(seed=0)
    task = FullGraphTask(data, uses_edges=True, device=torch.device("cpu"), num_classes=7)
    scored = task.evaluate(model, ("val", "test"))
    with torch.no_grad():
        own = model.eval()(data.x, data.edge_index)
    for split in ("val", "test"):
        mask = data[f"{split}_mask"]
        assert torch.equal(scored[split].preds, own[mask].argmax(1))
    assert "projected" not in SAGEConv.forward.__qualname__  # PyG's own forward is back
