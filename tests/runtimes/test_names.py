"""Names users type: the natural guess for a runtime works, and a near miss gets 'did you mean'."""

from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.run.config import RunConfig


@pytest.mark.parametrize("typed", ["onnx", "ort", "onnxruntime"])
def test_onnx_and_ort_name_onnx_runtime(typed):
    assert RunConfig(runtimes=(typed,), models=("mnist-mlp",)).runtimes == ("onnxruntime",)


@pytest.mark.parametrize(("field", "typed", "meant"), [("models", "mnist-mpl", "mnist-mlp"),
                                                       ("models", "cora_gcn", "cora-gcn"),
                                                       ("runtimes", "torchscrpt", "torchscript")])
def test_a_near_miss_suggests_the_name(field, typed, meant):
    with pytest.raises(BenchError, match=rf"unknown \w+ '{typed}' \(did you mean {meant}\?\); choose one of"):
        RunConfig(**{field: (typed,)})


def test_a_name_far_from_any_gets_the_list_only():
    with pytest.raises(BenchError) as caught:
        RunConfig(runtimes=("tensorrt-llm",))
    assert "did you mean" not in str(caught.value) and "choose one of: eager" in str(caught.value)
