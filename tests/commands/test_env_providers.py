"""`bench env` and the report's environment table: an ONNX Runtime provider that needs a GPU the machine
lacks is listed as installed but unable to run."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import torch
from typer.testing import CliRunner

from bench.cli import app

NO_GPU = "installed, no GPU: cannot run"
GPU_ONLY = ("TensorrtExecutionProvider", "CUDAExecutionProvider")  # what onnxruntime-gpu offers everywhere

DATA = Path(__file__).resolve().parents[1] / "records" / "data"
runner = CliRunner()


def _providers(tables: list[dict]) -> str:
    [env] = [t for t in tables if t["key"] == "environment"]
    return next(r["value"] for r in env["rows"] if r["item"] == "ONNX Runtime providers")


def test_env_marks_gpu_providers_only_without_a_gpu():
    result = runner.invoke(app, ["env", "--format", "json"])
    assert result.exit_code == 0, result.output
    text = _providers(json.loads(result.stdout)["tables"])
    listed = re.findall(r"(\w+ExecutionProvider)( \([^)]*\))?", text)
    assert listed
    gpu = torch.cuda.is_available()
    for name, mark in listed:
        if name in GPU_ONLY or name == "CPUExecutionProvider":
            assert mark == ("" if gpu or name == "CPUExecutionProvider" else f" ({NO_GPU})"), (name, mark)


def test_report_marks_the_providers_of_a_run_recorded_without_a_gpu(tmp_path):
    # A real run of onnxruntime-gpu on a machine without a GPU: TensorRT and CUDA offered, neither usable.
    run = tmp_path / "results" / "benchmarks" / "20261204T100000Z_cpu.json"
    run.parent.mkdir(parents=True)
    run.write_bytes(gzip.decompress((DATA / "run_complete_cpu.json.gz").read_bytes()))
    recorded = json.loads(run.read_text())["machine_info"]["bench"]
    assert not recorded["cuda"]["available"] and "CUDAExecutionProvider" in recorded[
        "onnxruntime_providers_available"]
    result = runner.invoke(app, ["report", "--results-dir", str(tmp_path / "results"), "--dataset", "mnist",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    providers = _providers(json.loads(result.stdout)["tables"])
    assert f"CUDAExecutionProvider ({NO_GPU})" in providers
    assert f"TensorrtExecutionProvider ({NO_GPU})" in providers
    assert "CPUExecutionProvider (" not in providers
