"""The dataset registry: one spec per dataset, read by training, models, export inputs and reports."""

import json

import pytest
from torch import nn
from typer.testing import CliRunner

from bench.cli import app
from train.data import registry as datasets
from train.data.registry import DatasetSpec, dataset_names, get_dataset
from train.errors import BenchError
from train.registry import ModelSpec, TensorSpec, model_names, models_for_dataset, register_model


def test_every_model_trains_on_a_registered_dataset_of_the_right_kind():
    assert dataset_names() == ("cora", "esc50", "mnist", "cifar100")  # the reports' order
    for dataset in dataset_names():
        spec = get_dataset(dataset)
        for model in models_for_dataset(dataset):
            assert model.num_classes == spec.num_classes, model.name
            assert model.is_graph == (spec.kind == "graph"), model.name
    assert sorted(m.name for d in dataset_names() for m in models_for_dataset(d)) == sorted(model_names())
    assert get_dataset("mnist").class_names == tuple("0123456789")


def test_unknown_dataset_lists_the_valid_ones():
    with pytest.raises(BenchError, match="unknown dataset 'imagenet'; choose one of: cora, esc50, mnist"):
        get_dataset("imagenet")


def test_a_spec_is_checked_when_built():
    with pytest.raises(ValueError, match="kind must be one of"):
        DatasetSpec("x", "X", "video", 2, lambda *a: None, "000")
    with pytest.raises(ValueError, match="3 class names, 2 classes"):
        DatasetSpec("x", "X", "samples", 2, lambda *a: None, "000", class_names=("a", "b", "c"))


def test_a_model_on_an_unregistered_dataset_is_refused():
    spec = ModelSpec("toy-mlp", "toy", 2, lambda: nn.Linear(4, 2), (TensorSpec("x", ("batch", 4)),))
    with pytest.raises(ValueError, match="has no DatasetSpec"):
        register_model(spec)


def test_a_new_dataset_needs_no_change_in_the_report_layer(monkeypatch, tmp_path):
    """A spec and a model are enough for `bench report` to show the dataset's training table and gaps."""
    from train import registry as models

    toy = DatasetSpec("toy", "Toy set", "samples", 2, lambda *a: None, "999", reported_result="report: 0.5")
    monkeypatch.setitem(datasets._DATASETS, "toy", toy)
    model = ModelSpec("toy-mlp", "toy", 2, lambda: nn.Linear(4, 2), (TensorSpec("x", ("batch", 4)),))
    monkeypatch.setitem(models._REGISTRY, "toy-mlp", model)
    (tmp_path / "results").mkdir()
    result = CliRunner().invoke(app, ["report", "--dataset", "toy", "--format", "json",
                                      "--results-dir", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    tables = {t["key"]: t for t in json.loads(result.output)["tables"]}
    training = tables["toy.training"]
    assert training["title"] == "Toy set: training" and "report: 0.5" in training["notes"]
    assert training["rows"][0]["Model"] == "toy-mlp" and "bench train toy --model toy-mlp" in \
        training["rows"][0]["note"]
    assert tables["benchmark.cpu"]["rows"][0]["model"] == "toy-mlp"
