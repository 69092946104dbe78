"""Device resolution never falls back; the run's axes are validated against the registries."""

import pytest
import torch

from bench.errors import BenchError
from bench.measure.devices import default_threads, resolve_device
from bench.run.selection import build_cases, parse_batch_sizes, parse_models, parse_runtimes
from train.registry import CORA_NUM_NODES


def test_cpu_resolves_and_threads_are_positive():
    assert resolve_device("cpu") == torch.device("cpu")
    assert default_threads() >= 1


def test_cuda_without_cuda_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BenchError) as info:
        resolve_device("cuda")
    message = str(info.value)
    assert message.startswith("--device cuda requested but CUDA is not available (torch ")
    assert message.endswith("; use --device cpu")
    assert "\n" not in message


def test_unknown_device_names_the_valid_ones():
    with pytest.raises(BenchError, match="choose one of: cpu, cuda"):
        resolve_device("tpu")


def test_unknown_model_and_runtime_list_valid_names():
    with pytest.raises(BenchError, match="unknown model 'nope'; choose one of: .*mnist-mlp"):
        parse_models("mnist-mlp,nope")
    with pytest.raises(BenchError, match="unknown runtime .tvm.; choose one of: eager, aoti, compile"):
        parse_runtimes("tvm")


@pytest.mark.parametrize("text", ["0", "-1", "a", "1,x"])
def test_batch_sizes_must_be_positive_integers(text):
    with pytest.raises(BenchError, match="positive integers"):
        parse_batch_sizes(text)


def test_graph_models_get_one_full_cora_case_whatever_the_batch_sizes():
    cases = build_cases(["mnist-mlp", "cora-gcn"], ["eager"], "cpu", (1, 64))
    assert [(c.model, c.size) for c in cases] == [("mnist-mlp", 1), ("mnist-mlp", 64),
                                                  ("cora-gcn", CORA_NUM_NODES)]
    assert cases[2].id == f"cora-gcn-eager-cpu-n{CORA_NUM_NODES}"
    assert cases[0].group == "mnist-mlp|cpu|1"
