"""`bench export` after `bench train`: the trained checkpoint, where `bench run` looks for it, is what gets
exported, and the output says which weights each model has."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bench.cli import app
from bench.run.artifacts import checkpoint_for
from export.pipeline import is_export_current
from train.checkpoint import checkpoint_path, save_checkpoint
from train.registry import get_model

runner = CliRunner()


def _trained(results):
    """results/checkpoints/mnist-mlp.pt as `bench train` writes it (weights of another seed than 0)."""
    spec = get_model("mnist-mlp")
    return save_checkpoint(checkpoint_path(results, spec.name), spec.name, spec.build(seed=7).state_dict(),
                           config={"model": spec.name, "seed": 7}, metrics={"test_acc": 0.9}, model_kwargs={})


def test_export_takes_the_trained_checkpoint_and_says_so(tmp_path):
    results = tmp_path / "results"
    checkpoint = _trained(results)
    exported = runner.invoke(app, ["export", "mnist-mlp", "--out", str(results / "exports"),
                                   "--format", "json"])
    assert exported.exit_code == 0, exported.output
    manifest = json.loads((results / "exports" / "mnist-mlp" / "manifest.json").read_text())
    assert manifest["source"] == f"checkpoint {checkpoint.resolve()}"
    assert f"exporting mnist-mlp from checkpoint {checkpoint.resolve()}" in exported.stderr
    [table] = json.loads(exported.stdout)["tables"]
    assert f"weights from trained checkpoints: mnist-mlp: checkpoint {checkpoint.resolve()}" in table["notes"]
    # `bench run` finds this export current: it will not export again from other weights.
    spec = get_model("mnist-mlp")
    assert is_export_current(spec, results / "exports", checkpoint_for(spec, results / "checkpoints"), 0)


def test_untrained_and_a_named_checkpoint_contradict(tmp_path):
    checkpoint = _trained(tmp_path / "results")
    result = runner.invoke(app, ["export", "mnist-mlp", "--out", str(tmp_path / "results" / "exports"),
                                 "--untrained", "--checkpoint", str(checkpoint)])
    assert result.exit_code == 2 and "--checkpoint and --untrained" in result.output
    assert not (tmp_path / "results" / "exports").exists()
