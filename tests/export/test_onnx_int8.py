"""onnx-int8: dynamic int8 for the MLPs and graph models, static QDQ per-channel for the CNNs calibrated on
real MNIST where the data dir has it (synthetic, labelled, for datasets bench cannot read offline), a
missing real calibration set one line, parity that catches a broken variant, and its runtime."""

from __future__ import annotations

import onnx
import pytest
import torch

from bench.runtimes import get_runtime
from export.cases import parity_cases, stack_outputs
from export.formats import get_format
from export.formats.onnx_int8 import DYNAMIC, STATIC, CalibrationMissing, calibration_inputs
from export.layout import load_manifest
from export.parity import compare_outputs, quantized_tolerance
from export.pipeline import export_model
from tests.train_fixtures import copy_shared
from train.data.paths import DATA_DIR_ENV
from train.registry import get_model


def _ops(path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_mlp_is_quantised_dynamically_reloads_elsewhere_and_shrinks(tmp_path):
    results = export_model(get_model("mnist-mlp"), tmp_path, seed=0, formats=("onnx", "onnx-int8"))
    assert all(r.ok for r in results), [r.reason for r in results]
    entry = load_manifest(tmp_path / "mnist-mlp")["formats"]["onnx-int8"]
    assert entry["quantization"] == DYNAMIC and entry["calibration"] == "none (dynamic)"
    int8, fp32 = tmp_path / "mnist-mlp" / "model.int8.onnx", tmp_path / "mnist-mlp" / "model.onnx"
    assert int8.stat().st_size < 0.4 * fp32.stat().st_size  # int8 weights: a quarter, plus scales
    assert {"DynamicQuantizeLinear", "MatMulInteger"} & _ops(int8)
    # Parity against eager under the int8 bound, here and in a clean interpreter (the pipeline's reload).
    parity = entry["parity"]
    # The bound is half the largest |logit|; dynamic int8 lands within a tenth of it (5 % of the scale).
    assert parity["passed"] and parity["max_abs"] < 0.1 * parity["atol"] and parity["rtol"] == 0.0


def test_cnn_is_calibrated_on_real_mnist_when_the_data_dir_has_it(shared_data, tmp_path, monkeypatch):
    data = copy_shared("mnist", tmp_path / "data")
    monkeypatch.setenv(DATA_DIR_ENV, str(data))
    results = export_model(get_model("mnist-cnn"), tmp_path / "exports", seed=0, formats=("onnx-int8",),
                           fresh_process=False)
    assert results[0].ok, results[0].reason
    entry = load_manifest(tmp_path / "exports" / "mnist-cnn")["formats"]["onnx-int8"]
    assert entry["quantization"] == STATIC
    assert entry["calibration"] == f"real: the first 128 MNIST training images from {data}"
    quantized = tmp_path / "exports" / "mnist-cnn" / "model.int8.onnx"
    assert {"QuantizeLinear", "DequantizeLinear"} <= _ops(quantized)


def test_a_missing_real_calibration_set_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "empty"))
    with pytest.raises(CalibrationMissing) as caught:
        export_model(get_model("mnist-cnn-bn"), tmp_path / "exports", seed=0, formats=("onnx-int8",),
                     fresh_process=False)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("int8 calibration for mnist-cnn-bn needs MNIST")
    assert str(tmp_path / "empty") in message


def test_datasets_bench_cannot_read_offline_calibrate_on_labelled_synthetic_inputs():
    batches, label = calibration_inputs(get_model("cifar100-bottleneck"))
    assert sum(b[0].shape[0] for b in batches) == 128
    assert label.startswith("synthetic: 128 seeded standard-normal inputs (no cifar100 calibration set")


def test_the_int8_bound_fails_a_variant_of_other_weights(tmp_path):
    spec = get_model("mnist-mlp")
    export_model(spec, tmp_path, seed=1, formats=("onnx-int8",), fresh_process=False)
    cases, label = parity_cases(spec)
    with torch.inference_mode():
        reference = stack_outputs([spec.build(seed=0).eval()(*case) for case in cases])
    variant = tmp_path / "mnist-mlp" / "model.int8.onnx"
    other = stack_outputs(get_format("onnx-int8").run(variant, spec, cases))
    atol, rtol = quantized_tolerance(reference)
    assert not compare_outputs(reference, other, atol=atol, rtol=rtol, checked_on=label).passed


def test_the_int8_runtime_runs_the_variant_on_the_cpu_only(tmp_path):
    spec = get_model("mnist-mlp")
    export_model(spec, tmp_path, seed=0, formats=("onnx-int8",), fresh_process=False)
    runtime = get_runtime("int8")
    assert runtime.name == "onnxruntime-int8" and runtime.quantized and not runtime.default
    assert runtime.unavailable_reason("cuda") == "onnxruntime-int8 does not run on cuda (it runs on: cpu)"
    session = runtime.load(spec, tmp_path / "mnist-mlp", torch.device("cpu"), 1)
    assert session.details.artifact.endswith("model.int8.onnx")
    assert session.run(spec.example_inputs(3)).shape == (3, 10)


def test_bench_run_times_the_int8_variant_and_refuses_a_missing_calibration_set(tmp_path, monkeypatch):
    import json

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)  # --data-dir sets it for the process: undone after

    from typer.testing import CliRunner

    from bench.cli import app

    tiny = ["--batch-sizes", "2", "--threads", "1", "--warmup", "1", "--max-time", "0.05",
            "--min-rounds", "2", "--no-memory", "--no-paired", "--format", "markdown",
            "--data-dir", str(tmp_path / "empty")]
    ran = CliRunner().invoke(app, ["run", "--models", "mnist-mlp", "--runtimes", "eager,onnxruntime-int8",
                                   "--results-dir", str(tmp_path / "ok"), *tiny])
    assert ran.exit_code == 0, ran.output
    (saved,) = (tmp_path / "ok" / "benchmarks").glob("*.json")
    rows = {b["extra_info"]["runtime"]: b["extra_info"] for b in json.loads(saved.read_text())["benchmarks"]}
    assert rows["onnxruntime-int8"]["parity"]["passed"] and rows["onnxruntime-int8"]["parity"]["rtol"] == 0.0
    refused = CliRunner().invoke(app, ["run", "--models", "mnist-cnn", "--runtimes", "eager,onnxruntime-int8",
                                       "--results-dir", str(tmp_path / "no"), *tiny])
    assert refused.exit_code == 2, refused.output
    errors = [line for line in refused.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "int8 calibration for mnist-cnn needs MNIST" in errors[0]


def test_a_model_the_quantiser_refuses_is_a_skipped_row_with_its_reason(tmp_path, monkeypatch):
    import json

    import onnxruntime.quantization as quantization
    from typer.testing import CliRunner

    from bench.cli import app

    def refuse(*args, **kwargs):
        raise NotImplementedError("Quantization of operator 'Gemm' with these attributes is not supported")

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(quantization, "quantize_dynamic", refuse)  # the export runs in this process
    ran = CliRunner().invoke(app, [
        "run", "--models", "mnist-mlp", "--runtimes", "eager,onnxruntime,onnxruntime-int8", "--batch-sizes",
        "2", "--threads", "1", "--warmup", "1", "--max-time", "0.05", "--min-rounds", "2", "--no-memory",
        "--no-paired", "--format", "json", "--results-dir", str(tmp_path), "--data-dir", str(tmp_path / "d")])
    assert ran.exit_code == 0, ran.output
    (saved,) = (tmp_path / "benchmarks").glob("*.json")
    run = json.loads(saved.read_text())
    assert sorted(b["extra_info"]["runtime"] for b in run["benchmarks"]) == ["eager", "onnxruntime"]
    (skipped,) = [o for o in run["bench"]["outcomes"] if o["runtime"] == "onnxruntime-int8"]
    assert skipped["status"] == "skipped"
    assert skipped["reason"].startswith("onnxruntime-int8: export failed: NotImplementedError: Quantization "
                                      "of operator 'Gemm'")
