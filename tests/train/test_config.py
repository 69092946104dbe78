"""Training configs: packaged YAML files, validation, coercion and command-line overrides."""

from __future__ import annotations

import pytest

from train.config import configs_for, load_dataset_config, parse_sets
from train.data.registry import dataset_names
from train.errors import BenchError


@pytest.mark.parametrize("dataset", dataset_names())
def test_packaged_configs_load_and_name_registered_models(dataset):
    from train.registry import get_model

    for cfg in configs_for(dataset):
        assert get_model(cfg.model).dataset == dataset
        assert cfg.epochs > 0 and cfg.lr > 0 and cfg.batch_size > 0


def test_cora_config_mirrors_report():
    mlp, gcn, sage = configs_for("cora")
    assert (mlp.seed, mlp.epochs, mlp.lr, mlp.weight_decay, mlp.optimizer) == (42, 200, 0.01, 5e-4, "adam")
    assert mlp.model_kwargs == {"hidden": 256, "dropout": 0.5}
    assert gcn.num_neighbors == () and sage.num_neighbors == (10, 5) and sage.batch_size == 64


def test_yaml_float_written_without_dot_is_coerced():
    # PyYAML reads `5e-4` as a string; the typed config turns it into a float.
    (cfg,) = configs_for("cora", ["cora-gcn"], parse_sets(["weight_decay=5e-4", "lr=1e-2"]))
    assert cfg.weight_decay == 5e-4 and cfg.lr == 0.01


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(BenchError, match="unknown config key 'learning_rate'"):
        configs_for("cora", ["cora-gcn"], {"learning_rate": 0.1})


def test_unknown_key_in_yaml_file_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("models: [cora-gcn]\nepochs: 3\nbatchsize: 4\n")
    with pytest.raises(BenchError, match="'batchsize'"):
        load_dataset_config("cora", path)


@pytest.mark.parametrize("key,value,message", [
    ("epochs", 0, "epochs must be positive"),
    ("batch_size", -1, "batch_size must be positive"),
    ("lr", 0, "lr must be positive"),
    ("lr", -0.1, "lr must be positive"),
    ("optimizer", "adamw", "optimizer must be one of"),
    ("epochs", "ten", "epochs must be int"),
    ("epochs", 2.5, "epochs must be int"),
    ("val_fraction", 1.0, "val_fraction"),
    ("num_neighbors", [10, 0], "num_neighbors"),
])
def test_invalid_values_are_refused(key, value, message):
    with pytest.raises(BenchError, match=message):
        configs_for("cora", ["cora-gcn"], {key: value})


def test_config_is_frozen():
    (cfg,) = configs_for("cora", ["cora-gcn"])
    with pytest.raises(AttributeError):
        cfg.epochs = 3  # type: ignore[misc]


def test_set_parses_yaml_values_and_dotted_model_kwargs():
    sets = parse_sets(["num_neighbors=[5, 3]", "model_kwargs.hidden=64", "augment=false",
                       "target_accuracy=none"])
    (cfg,) = configs_for("cora", ["cora-sage"], sets)
    assert cfg.num_neighbors == (5, 3)
    assert cfg.model_kwargs == {"hidden": 64, "dropout": 0.5}  # merged, not replaced
    assert cfg.augment is False and cfg.target_accuracy is None


def test_set_without_equals_is_an_error():
    with pytest.raises(BenchError, match="key=value"):
        parse_sets(["epochs"])


def test_dotted_key_outside_model_kwargs_is_an_error():
    with pytest.raises(BenchError, match="only model_kwargs"):
        configs_for("cora", ["cora-gcn"], {"lr.x": 1})


def test_per_model_overrides_then_cli_wins():
    mlp, cnn, bn = configs_for("mnist")
    assert (mlp.optimizer, mlp.batch_size) == ("sgd", 64)
    assert (cnn.optimizer, cnn.lr, cnn.batch_size) == ("sgd-momentum", 0.01, 128)
    assert (bn.optimizer, bn.lr) == ("adam", 1e-3)
    (mlp,) = configs_for("mnist", ["mnist-mlp"], {"batch_size": 32})
    assert mlp.batch_size == 32


def test_to_dict_is_plain():
    (cfg,) = configs_for("cora", ["cora-sage"])
    plain = cfg.to_dict()
    assert plain["num_neighbors"] == [10, 5] and isinstance(plain["model_kwargs"], dict)


def test_unknown_dataset():
    with pytest.raises(BenchError, match="unknown dataset 'imagenet'"):
        configs_for("imagenet")
