"""`bench env` and the environment block recorded with results."""

import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.measure.environment import collect_environment


def test_environment_names_the_versions_that_shape_numbers():
    env = collect_environment(threads=3)
    assert env["threads_used"] == 3
    assert env["packages"]["torch"].startswith(torch.__version__.split("+")[0])
    assert "CPUExecutionProvider" in env["onnxruntime_providers_available"]
    assert env["ram_gib"] > 0
    peak = env["hardware_peak"]["cpu"]
    assert peak["inputs"]["cores_used"] <= 3 and peak["inputs"]["fma_units_per_core"] == "2 (assumed)"


def test_without_a_gpu_the_block_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    env = collect_environment(threads=1)
    assert env["cuda"]["available"] is False and "gpus" not in env["cuda"]
    assert "cuda" not in env["hardware_peak"]
    from bench.report.tables import environment_rows

    assert ("GPU", "none (CUDA not available)") in environment_rows(env)


def test_bench_env_prints_the_block():
    result = CliRunner().invoke(app, ["env"])
    assert result.exit_code == 0, result.output
    for label in ("CPU", "RAM", "torch", "ONNX Runtime providers", "GPU"):
        assert label in result.output
