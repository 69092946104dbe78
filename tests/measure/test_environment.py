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
    assert env["cuda"]["available"] == torch.cuda.is_available()
    assert env["ram_gib"] > 0


def test_bench_env_prints_the_block():
    result = CliRunner().invoke(app, ["env"])
    assert result.exit_code == 0, result.output
    for label in ("CPU", "RAM", "torch", "ONNX Runtime providers", "GPU"):
        assert label in result.output
