"""Checkpoints round-trip through `torch.load(weights_only=True)` with plain values only."""

from __future__ import annotations

import pytest
import torch

from train.checkpoint import CHECKPOINT_KEYS, load_checkpoint, model_from_checkpoint, save_checkpoint
from train.config import configs_for
from train.errors import BenchError
from train.registry import get_model


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool, torch.Tensor))


def test_round_trip_weights_only(tmp_path):
    (cfg,) = configs_for("esc50", sets={"model_kwargs": {"channels": [8, 16, 32], "kernel_size": 3}})
    spec = get_model(cfg.model)
    model = spec.build(seed=3, **cfg.model_kwargs)
    path = save_checkpoint(tmp_path / "checkpoints" / "esc50-cnn.pt", cfg.model, model.state_dict(),
                           cfg.to_dict(), {"test_acc": 0.5, "seeds": [42]}, cfg.to_dict()["model_kwargs"])
    raw = torch.load(path, weights_only=True)
    assert set(CHECKPOINT_KEYS) <= set(raw) and _plain(raw)
    assert raw["model_kwargs"] == {"channels": [8, 16, 32], "kernel_size": 3}
    assert raw["versions"]["torch"] == torch.__version__
    rebuilt = model_from_checkpoint(path)
    x = spec.example_inputs(2)
    with torch.no_grad():
        assert torch.equal(rebuilt(*x), model.eval()(*x))


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(BenchError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(1)}, foreign)
    with pytest.raises(BenchError, match="lacks"):
        load_checkpoint(foreign)
