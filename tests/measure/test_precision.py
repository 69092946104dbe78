"""The precision policy: one setting for every runtime, for torch and ONNX Runtime, tolerance to match."""

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError
from bench.measure.precision import PrecisionPolicy, torch_flags
from bench.run.config import RunConfig
from export.parity import DEFAULT_ATOL, TF32_ATOL, tolerance


@pytest.fixture
def restore_torch_flags():
    before = torch_flags()
    yield
    torch.backends.cuda.matmul.allow_tf32 = before["matmul_allow_tf32"]
    torch.backends.cudnn.allow_tf32 = before["cudnn_allow_tf32"]
    torch.backends.cudnn.benchmark = before["cudnn_benchmark"]


@pytest.mark.parametrize(("policy", "flags", "ort"), [
    (PrecisionPolicy("fp32"), (False, False, False),
     {"use_tf32": "0", "cudnn_conv_algo_search": "HEURISTIC"}),
    (PrecisionPolicy("tf32", cudnn_benchmark=True), (True, True, True),
     {"use_tf32": "1", "cudnn_conv_algo_search": "EXHAUSTIVE"}),
])
def test_one_policy_sets_torch_and_onnxruntime_alike(restore_torch_flags, policy, flags, ort):
    policy.apply_to_torch()
    assert tuple(torch_flags().values()) == flags
    assert policy.ort_cuda_options() == ort
    recorded = policy.as_dict()
    assert recorded["precision"] == policy.precision and recorded["onnxruntime_cuda"] == ort


def test_tolerance_follows_the_policy_and_unknown_ones_are_refused():
    assert tolerance("fp32")[0] == DEFAULT_ATOL and tolerance("tf32")[0] == TF32_ATOL > DEFAULT_ATOL
    with pytest.raises(ValueError):
        PrecisionPolicy("fp16")
    with pytest.raises(BenchError, match="--precision must be one of fp32, tf32, got 'fp16'"):
        RunConfig(precision="fp16")


def test_a_tf32_run_records_the_policy_and_checks_parity_at_its_tolerance(mnist_mlp_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    args = ["run", "--models", "mnist-mlp", "--batch-sizes", "1", "--runtimes", "eager,onnxruntime",
            "--results-dir", str(results), "--threads", "1", "--warmup", "1", "--max-time", "0.01",
            "--min-rounds", "2", "--no-memory", "--precision", "tf32", "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (saved,) = (results / "benchmarks").glob("*.json")
    data = json.loads(saved.read_text())
    for entry in data["benchmarks"]:
        extra = entry["extra_info"]
        assert extra["precision"]["precision"] == "tf32" and extra["parity"]["atol"] == TF32_ATOL
    assert data["bench"]["config"]["precision"] == "tf32"
