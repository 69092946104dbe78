"""Named variants: two variants of one model trained one after the other both survive, each with its own
checkpoint, record and TensorBoard run, and bench export / run / accuracy address each by <model>@<name>."""

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import copy_shared
from train.checkpoint import load_checkpoint, train_command
from train.config import as_variants, auto_variant_name, configs_for, parse_sets
from train.errors import BenchError
from train.registry import get_model


def _train(*args: str):
    return CliRunner().invoke(app, ["train", *args])


def test_two_variants_of_one_model_survive_each_other_and_are_addressable(tmp_path):
    data = copy_shared("cora", tmp_path / "data")
    results = tmp_path / "results"
    common = ["cora", "--model", "cora-mlp", "--epochs", "2", "--data-dir", str(data), "--results-dir",
              str(results), "--no-download", "--format", "json"]
    adam = _train(*common, "--set", "optimizer=adam", "--name", "adam")
    assert adam.exit_code == 0, adam.output
    sgd = _train(*common, "--set", "optimizer=sgd", "--set", "lr=0.1", "--name", "auto")
    assert sgd.exit_code == 0, sgd.output

    for variant, optimizer in (("cora-mlp@adam", "adam"), ("cora-mlp@optimizer-sgd_lr-0.1_epochs-2", "sgd")):
        checkpoint = load_checkpoint(results / "checkpoints" / f"{variant}.pt")
        assert checkpoint["config"]["model"] == variant and checkpoint["config"]["optimizer"] == optimizer
        record = json.loads((results / "training" / "cora" / f"{variant}.json").read_text())
        assert record["model"] == variant and record["runs"][0]["config"]["optimizer"] == optimizer
        assert len(list((results / "training" / "cora" / "runs").glob(f"{variant}-*"))) == 1  # its run folder
        assert any((results / "runs" / "cora" / variant).rglob("events.out.tfevents.*"))  # its TensorBoard
    assert not (results / "checkpoints" / "cora-mlp.pt").exists()  # the model's own slot is untouched

    report = CliRunner().invoke(app, ["report", "--results-dir", str(results), "--format", "json"])
    assert report.exit_code == 0, report.output
    (synthesis,) = [t for t in json.loads(report.stdout)["tables"] if t["key"] == "cora.synthesis"]
    listed = {row["Model"]: row for row in synthesis["rows"]}
    variants = ["cora-mlp@adam", "cora-mlp@optimizer-sgd_lr-0.1_epochs-2"]
    assert list(listed)[:3] == ["MLP", *(f"MLP [{v.partition('@')[2]}]" for v in variants)]  # beside MLP
    for variant in variants:
        recorded = load_checkpoint(results / "checkpoints" / f"{variant}.pt")["metrics"]["test_acc"]
        shown = listed[f"MLP [{variant.partition('@')[2]}]"]["test_acc"]["mean"]
        assert shown == pytest.approx(recorded, abs=1e-9)

    measured = CliRunner().invoke(app, [
        "accuracy", "--models", "cora-mlp@adam,cora-mlp@optimizer-sgd_lr-0.1_epochs-2",
        "--runtimes", "eager,onnxruntime",
        "--data-dir", str(data), "--results-dir", str(results), "--no-download", "--format", "json",
        "--threads", "1"])
    assert measured.exit_code == 0, measured.output
    rows = json.loads(measured.stdout)["tables"][0]["rows"]
    for variant in ("cora-mlp@adam", "cora-mlp@optimizer-sgd_lr-0.1_epochs-2"):
        recorded = load_checkpoint(results / "checkpoints" / f"{variant}.pt")["metrics"]["test_acc"]
        mine = [r for r in rows if r["model"] == variant]
        assert [r["runtime"] for r in mine] == ["eager", "onnxruntime"]
        assert all(r["test_acc"] == pytest.approx(recorded, abs=1e-9) for r in mine)

    ran = CliRunner().invoke(app, [
        "run", "--models", "cora-mlp@adam", "--runtimes", "eager,onnxruntime", "--threads", "1", "--warmup",
        "1", "--max-time", "0.05", "--min-rounds", "2", "--no-memory", "--no-paired", "--data-dir",
        str(data), "--results-dir", str(results), "--format", "json"])
    assert ran.exit_code == 0, ran.output
    saved = max((results / "benchmarks").glob("*.json"))
    benchmarks = json.loads(saved.read_text())["benchmarks"]
    assert {b["extra_info"]["model"] for b in benchmarks} == {"cora-mlp@adam"}
    assert all(b["extra_info"]["weights"].startswith("checkpoint") for b in benchmarks)
    manifest = json.loads((results / "exports" / "cora-mlp@adam" / "manifest.json").read_text())
    assert "cora-mlp@adam.pt" in manifest["source"]


def test_a_variant_keeps_its_models_config_and_names_its_training_command():
    (cfg,) = as_variants(configs_for("cora", ["cora-gcn"]), "wide", {})
    assert cfg.model == "cora-gcn@wide"
    assert cfg.lr == configs_for("cora", ["cora-gcn"])[0].lr  # the YAML's own settings for cora-gcn
    assert configs_for("cora", ["cora-gcn@wide"])[0] == cfg  # addressing it directly is the same
    assert train_command("cora-gcn@wide") == "`bench train cora --model cora-gcn --name wide`"
    assert train_command("esc50-wave@aug") == "`bench train esc50 --model esc50-cnn --name aug`"
    spec = get_model("mnist-cnn@adam")
    assert (spec.base_name, spec.variant, spec.dataset, spec.default) == ("mnist-cnn", "adam", "mnist", False)


@pytest.mark.parametrize("name,message", [("Adam", "variant name 'Adam'"), ("a/b", "variant name 'a/b'"),
                                          ("", "variant name ''"), ("x" * 65, "must be 1-64")])
def test_a_variant_name_that_cannot_be_a_file_name_is_one_line_exit_2(name, message, tmp_path):
    result = _train("cora", "--model", "cora-mlp", "--name", name, "--results-dir", str(tmp_path))
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "checkpoints").exists()


def test_auto_names_need_overrides():
    overrides = parse_sets(["model_kwargs.layers=2", "optimizer=adam"])
    assert auto_variant_name(overrides) == "layers-2_optimizer-adam"
    with pytest.raises(BenchError, match="there are none"):
        auto_variant_name({})


def test_an_auto_name_without_overrides_is_one_line_exit_2(tmp_path):
    result = _train("cora", "--model", "cora-mlp", "--name", "auto", "--results-dir", str(tmp_path))
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "there are none" in errors[0]
    assert not (tmp_path / "checkpoints").exists()
