"""`bench reproduce`: a report's experiment list, run in order as named variants, resumable, on fixtures in
the real formats (a quick pass: --epochs 1), then the report's tables; bad input is one line, exit 2."""

import json

from typer.testing import CliRunner

from bench.cli import app
from bench.run.reproduce import REPORTS, get_report
from tests.train_fixtures import copy_shared, make_cifar100, make_esc50


def _reproduce(*args: str):
    return CliRunner().invoke(app, ["reproduce", *args])


def _plan(report: str, results, *extra: str) -> dict[str, str]:
    listed = _reproduce(report, "--dry-run", "--results-dir", str(results), "--format", "json", *extra)
    assert listed.exit_code == 0, listed.output
    (table,) = json.loads(listed.stdout)["tables"]
    return {row["experiment"]: row["status"] for row in table["rows"]}


def test_cifar100s_finder_grid_and_final_run_end_to_end_on_a_fixture_and_resume(tmp_path):
    report = "cifar100"
    data, results = make_cifar100(tmp_path / "data"), tmp_path / "results"
    quick = ["--epochs", "1", "--set", "batch_size=4", "--device", "cpu", "--no-plots", "--no-tensorboard"]
    assert set(_plan(report, results, *quick).values()) == {"to run"}
    where = ["--data-dir", str(data), "--results-dir", str(results), "--format", "json"]
    ran = _reproduce(report, *where, *quick)
    assert ran.exit_code == 0, ran.output
    model = get_report(report).experiments[-1].model.partition("@")[0]
    assert (results / "lr_find" / f"{model}.json").is_file()
    (sweep,) = (results / "sweeps").glob(f"{model}-*.json")
    assert len(json.loads(sweep.read_text())["rows"]) == 24  # the report's whole grid
    final = json.loads((results / "training" / "cifar100" / f"{model}@final.json").read_text())
    assert final["status"] == "complete" and final["epochs_planned"] == 1
    keys = {t["key"] for t in json.loads(ran.stdout)["tables"]}
    assert {"cifar100.grid", "cifar100.training"} <= keys
    # Everything on file now: a rerun runs nothing, and the report's own (full-length) runs are still to do.
    assert set(_plan(report, results, *quick).values()) == {"done"}
    again = _reproduce(report, *where, *quick)
    assert again.exit_code == 0 and "0 experiment(s) run" in again.output
    assert json.loads((results / "sanity" / f"{model}.json").read_text())["overfit"]["epochs"] == 1
    assert json.loads((results / "baselines" / "cifar100.json").read_text())["dataset"] == "cifar100"
    drawn = CliRunner().invoke(app, ["report", "--dataset", report, "--plots", "--results-dir", str(results)])
    assert drawn.exit_code == 0, drawn.output
    for stem in (f"lr_find_{model}", f"overfit_{model}", f"sweep_{model}", "training_cifar100"):
        assert f"{stem}.svg" in drawn.output and (results / "reports" / f"{stem}.png").is_file(), stem
    full = _plan(report, results)
    assert full == {"baselines": "done", "sanity checks": "to run", "LR finder": "done",
                    "grid search": "to run", "final run": "to run"}


def test_esc50s_baselines_and_sanity_checks_on_a_fixture_are_saved(tmp_path):
    # The finder, grid and final run are the same commands as CIFAR-100's (above, end to end); the suite
    # runs report 001's first two here: each a process that loads ESC-50's fixture.
    data, results = make_esc50(tmp_path / "data"), tmp_path / "results"
    ran = _reproduce("esc50", "--only", "1,2", "--epochs", "1", "--set", "batch_size=4", "--device", "cpu",
                     "--no-tensorboard", "--data-dir", str(data), "--results-dir", str(results))
    assert ran.exit_code == 0, ran.output
    # Its figures: the overfit curve, the class distribution and log-mel examples from the fixture's audio.
    for stem in ("overfit_esc50-cnn", "esc50_classes", "esc50_log_mel"):
        for suffix in (".png", ".svg"):
            assert (results / "reports" / f"{stem}{suffix}").stat().st_size > 1000, stem
    baselines = json.loads((results / "baselines" / "esc50.json").read_text())
    assert baselines["dataset"] == "esc50" and baselines["config"]["model"] == "esc50-cnn"
    sanity = json.loads((results / "sanity" / "esc50-cnn.json").read_text())
    assert sanity["overfit"]["epochs"] == 1 and sanity["overfit"]["samples"] > 0
    plan = _plan("esc50", results, "--epochs", "1", "--set", "batch_size=4")
    assert plan == {"baselines": "done", "sanity checks": "done", "LR finder": "to run",
                    "grid search": "to run", "final run": "to run"}
    bad = _reproduce("esc50", "--only", "6", "--dry-run")
    assert bad.exit_code == 2 and "report 001 has experiments 1-5" in bad.output


def test_report_000_trains_three_seeds_of_each_cora_model(tmp_path):
    data, results = copy_shared("cora", tmp_path / "data"), tmp_path / "results"
    ran = _reproduce("000", "--epochs", "2", "--data-dir", str(data), "--results-dir", str(results),
                     "--device", "cpu", "--format", "json", "--no-plots", "--no-tensorboard")
    assert ran.exit_code == 0, ran.output
    for model in ("cora-mlp", "cora-gcn", "cora-sage"):
        record = json.loads((results / "training" / "cora" / f"{model}.json").read_text())
        assert [r["config"]["seed"] for r in record["runs"]] == [42, 43, 44]
    (synthesis,) = [t for t in json.loads(ran.stdout)["tables"] if t["key"] == "cora.synthesis"]
    assert {r["Model"]: r["test_acc"]["n"] for r in synthesis["rows"]} == {"MLP": 3, "GCN": 3, "GraphSAGE": 3}


def test_a_failing_experiment_stops_the_list_with_its_log_and_keeps_the_rest(tmp_path):
    results = tmp_path / "results"
    ran = _reproduce("cora", "--epochs", "1", "--data-dir", str(tmp_path / "empty"), "--results-dir",
                     str(results), "--device", "cpu", "--no-plots")
    assert ran.exit_code == 2
    (line,) = [x for x in ran.output.splitlines() if x.startswith("error:")]
    assert "MLP, 3 seeds failed" in line and "resumes from it" in line
    (log,) = (results / "reproduce").glob("cora-*.log")
    assert "Cora not found" in log.read_text() and str(log) in ran.output.replace("\n", "")


def test_every_report_has_its_experiments_and_an_unknown_one_is_one_line():
    assert [get_report(k).number for k in REPORTS] == ["000", "001", "002", "003", "004"]
    mnist = get_report("mnist-cnn").experiments
    assert [e.model for e in mnist[:5]] == ["mnist-cnn@sgd", "mnist-cnn-bn@sgd-bn", "mnist-cnn@adam",
                                            "mnist-cnn-bn@adam-bn", "mnist-cnn-bn@adam-bn-steplr"]
    assert len({e.model for e in get_report("002").experiments}) == 23  # every variant its own record
    result = _reproduce("005", "--dry-run")
    assert result.exit_code == 2 and "unknown report '005'" in result.output


def test_a_quick_pass_of_zero_epochs_is_one_line_exit_2():
    result = _reproduce("cora", "--epochs", "0", "--dry-run")
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and errors == ["error: --epochs must be at least 1, got 0"]


def test_report_002s_axes_are_side_by_side_tables_of_named_variants(tmp_path, shared_data):
    data, results = copy_shared("mnist", tmp_path / "data"), tmp_path / "results"
    # One setting trained (two variants side by side: tests/train's variant test); the others 'not run'.
    ran = _reproduce("mnist-mlp", "--only", "1", "--epochs", "1", "--set", "train_subset=512", "--set",
                     "eval_subset=256", "--device", "cpu", "--no-plots", "--no-tensorboard", "--format",
                     "json", "--data-dir", str(data), "--results-dir", str(results))
    assert ran.exit_code == 0, ran.output
    tables = {t["key"]: t for t in json.loads(ran.stdout)["tables"]}
    activation = tables["mnist.mlp.activation"]
    rows = {r["Activation"]: r for r in activation["rows"]}
    assert list(rows) == ["ReLU", "Tanh", "Sigmoid"]
    for trained in ("ReLU",):
        record = json.loads((results / "training" / "mnist" /
                             f"mnist-mlp@act-{trained.lower()}.json").read_text())
        assert record["runs"][0]["config"]["model_kwargs"]["activation"] == trained.lower()
        assert rows[trained]["test accuracy"]["mean"] == record["runs"][0]["metrics"]["test_acc"]
        assert rows[trained]["s/epoch"]["mean"] > 0
    assert rows["Tanh"]["test accuracy"] == rows["Sigmoid"]["test accuracy"] == "not run"
    assert "--name act-sigmoid" in rows["Sigmoid"]["note"]
    assert {"mnist.mlp.optimiser", "mnist.mlp.dropout", "mnist.mlp.depth_width_learning_rate",
            "mnist.mlp.batchnorm_initialisation"} <= set(tables)
    # Report 003's tables stay the CNN's: the MLP variants are not configurations of it.
    names = [r["Configuration"] for r in tables["mnist.configurations"]["rows"]]
    assert not any("act-" in name for name in names), names
