"""The runtime registry: names, duplicates refused, unknown names explained."""

import pytest

from bench.errors import BenchError
from bench.runtimes import Runtime, get_runtime, register_runtime, runtime_names


def test_builtin_runtimes_eager_first():
    assert runtime_names() == ["eager", "onnxruntime", "torchscript"]
    assert get_runtime("onnxruntime").artifact == "model.onnx"


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):

        @register_runtime
        class AnotherEager(Runtime):
            name = "eager"
            artifact = "weights.pt"
            export_format = None

            def load(self, spec, model_dir, device, threads):
                raise NotImplementedError


def test_unknown_runtime_lists_the_valid_names():
    expected = "unknown runtime 'tensorrt'; choose one of: eager, onnxruntime, torchscript"
    with pytest.raises(BenchError, match=expected):
        get_runtime("tensorrt")
