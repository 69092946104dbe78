"""model.int8.onnx: the ONNX export quantised to int8 by ONNX Runtime's quantiser: static QDQ per-channel for
models with convolutions (calibrated on the model's real training images when the data dir has them, else
on seeded synthetic inputs, and the manifest says which), dynamic for the MLPs and graph models."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import torch
from torch import nn

from export.formats.base import ExportFormat, Inputs, Saved
from export.formats.onnx_model import OnnxFormat, onnx_session, quiet_onnx_tools, run_onnx, save_onnx
from export.graph_aggregation import FORMULATION, passes_messages, scatter_free_aggregation
from train.errors import BenchError
from train.fileio import atomic_path
from train.registry import ModelSpec

CALIBRATION_SAMPLES = 128  # inputs the static quantiser observes (ORT's MinMax calibration)
CALIBRATION_BATCH = 16
CALIBRATION_SEED = 7
DYNAMIC = "dynamic: int8 weights, activations quantised per call (quantize_dynamic, QInt8)"
STATIC = "static QDQ, per-channel int8 weights, int8 activations (quantize_static, MinMax calibration)"


def has_convolutions(model: nn.Module) -> bool:
    """Whether `model` convolves (static QDQ pays off there; dynamic quantisation covers matmuls only)."""
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def calibration_inputs(spec: ModelSpec) -> tuple[list[Inputs], str]:
    """Batches the static quantiser observes, and what they are: the model's real training images from the
    data dir where bench can read them offline (MNIST), else seeded synthetic inputs, labelled as such."""
    from train.data.paths import default_data_dir

    data_dir = default_data_dir()
    if spec.dataset == "mnist":
        from train.data.mnist import load_mnist_tensors, normalise

        try:
            images = load_mnist_tensors(data_dir, download=False)[0][:CALIBRATION_SAMPLES]
        except BenchError as exc:
            raise CalibrationMissing(f"int8 calibration for {spec.name} needs MNIST's training images: "
                                     f"{exc}") from None
        batches = normalise(images).split(CALIBRATION_BATCH)
        return [(b,) for b in batches], (f"real: the first {len(images)} MNIST training images "
                                         f"from {data_dir}")
    # ESC-50 and CIFAR-100 have no offline copy here: synthetic, and every record says so.
    batches = [spec.example_inputs(CALIBRATION_BATCH, seed=CALIBRATION_SEED + i)
               for i in range(CALIBRATION_SAMPLES // CALIBRATION_BATCH)]
    return batches, (f"synthetic: {CALIBRATION_SAMPLES} seeded standard-normal inputs (no {spec.dataset} "
                     "calibration set bench reads; scales may not fit real data)")


class CalibrationMissing(BenchError):
    """A static quantisation's real calibration set is not in the data dir: one line, exit 2."""


class OnnxInt8Format(ExportFormat):
    """model.int8.onnx from the same export as model.onnx, quantised by onnxruntime.quantization."""

    name = "onnx-int8"
    artifact = "model.int8.onnx"
    default = False  # a variant people ask for: `--runtimes onnxruntime-int8` or `--formats onnx-int8`
    quantized = True
    is_code = False
    load_needs = OnnxFormat.load_needs
    reload_source = OnnxFormat.reload_source

    def is_current(self, entry: dict) -> bool:
        """Made with this graph formulation (as model.onnx)."""
        return OnnxFormat().is_current(entry)

    def save(self, model: nn.Module, spec: ModelSpec, example: Inputs, path: Path) -> Saved:
        """Export fp32 ONNX to a scratch folder, quantise it into `path` (atomically)."""
        from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

        aggregates = passes_messages(model)
        static = has_convolutions(model)
        calibration, label = calibration_inputs(spec) if static else ([], "none (dynamic)")
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / "model.onnx"
            with scatter_free_aggregation() if aggregates else contextlib.nullcontext(), quiet_onnx_tools():
                save_onnx(model, spec, example, source)
            _clear_value_info(source)  # the quantiser's shape inference chokes on the exporter's value_info
            with atomic_path(path) as tmp, quiet_onnx_tools():
                if static:
                    quantize_static(str(source), str(tmp), _Reader(spec, calibration),
                                    quant_format=QuantFormat.QDQ, per_channel=True,
                                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
                else:
                    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
            source_bytes = source.stat().st_size
        return Saved("torch.export (dynamo) + onnxruntime.quantization", {
            "quantization": STATIC if static else DYNAMIC,
            "calibration": label,
            "fp32_onnx_bytes": source_bytes,
            "graph_aggregation": FORMULATION if aggregates else None,
        })

    def run(self, path: Path, spec: ModelSpec, cases: list[Inputs]) -> list[torch.Tensor]:
        session = onnx_session(path)
        return [run_onnx(session, spec.input_names, case) for case in cases]


def _clear_value_info(path: Path) -> None:
    """Drop the graph's intermediate value_info (shapes the quantiser re-infers) and save in place."""
    import onnx

    proto = onnx.load(str(path))
    del proto.graph.value_info[:]
    onnx.save(proto, str(path))


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader over the calibration batches."""

    def __init__(self, spec: ModelSpec, batches: list[Inputs]):
        self._feeds = iter([{name: t.numpy() for name, t in zip(spec.input_names, batch, strict=True)}
                            for batch in batches])

    def get_next(self) -> dict | None:
        return next(self._feeds, None)
