"""ONNX export through torch.export (dynamo), with dynamic batch / node / edge axes and the checker."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.formats.base import ExportFormat, Inputs, Saved
from export.graph_aggregation import FORMULATION, passes_messages, scatter_free_aggregation
from export.util import first_line
from train.fileio import atomic_path
from train.registry import ModelSpec

OPSET = 18  # the dynamo exporter's native opset; ONNX Runtime >= 1.14 runs it on CPU and CUDA
OUTPUT_NAME = "logits"
DYNAMO_EXPORTER = "torch.export (dynamo)"
LEGACY_EXPORTER = "TorchScript-based (dynamo=False), torch.export failed"


@dataclass(frozen=True)
class OnnxExport:
    """What `save_onnx` produced: exporter used, opset in the file, and why it fell back (or "")."""

    exporter: str
    opset: int
    fallback_reason: str  # why torch.export failed, when the legacy exporter was used


def dynamic_axes(spec: ModelSpec) -> dict[str, dict[int, str]]:
    """Input name -> {axis: symbolic name} for every dynamic axis of `spec`'s inputs."""
    return {t.name: t.dynamic_dims() for t in spec.inputs if t.dynamic_dims()}


def dynamic_shapes(spec: ModelSpec) -> tuple[dict[int, torch.export.Dim], ...]:
    """torch.export dynamic shapes, one dict per input; inputs sharing a symbol share one Dim."""
    dims: dict[str, torch.export.Dim] = {}
    shapes = []
    for t in spec.inputs:
        # A named Dim (not Dim.AUTO) makes torch.export fail loudly if it would specialise the axis.
        shapes.append(
            {axis: dims.setdefault(sym, torch.export.Dim(sym)) for axis, sym in t.dynamic_dims().items()}
        )
    return tuple(shapes)


@contextlib.contextmanager
def quiet_onnx_tools() -> Iterator[None]:
    """ONNX tooling's log chatter off while it runs: onnx_ir's "attribute type is ambiguous" for empty
    attributes, and onnxruntime.quantization's advice and per-tensor shape dumps (it logs on the root
    logger); errors still show, and a failed export or quantisation raises as before."""
    loggers = [logging.getLogger(), logging.getLogger("onnx_ir"), logging.getLogger("onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def save_onnx(model: nn.Module, spec: ModelSpec, example: tuple[torch.Tensor, ...], path: Path) -> OnnxExport:
    """Export eval `model` to `path` with dynamic axes; the legacy exporter only if torch.export fails."""
    import onnx

    model = model.eval()
    try:
        with atomic_path(path) as tmp:
            _export_dynamo(model, spec, example, tmp)
        result = OnnxExport(DYNAMO_EXPORTER, 0, "")
    except Exception as exc:  # noqa: BLE001 - the reason is recorded in the manifest and shown in the table
        reason = first_line(exc)
        with atomic_path(path) as tmp:
            _export_legacy(model, spec, example, tmp)
        result = OnnxExport(LEGACY_EXPORTER, 0, reason)
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path), load_external_data=False)
    check_dynamic_axes(proto, spec)
    return OnnxExport(result.exporter, _opset(proto), result.fallback_reason)


def _export_dynamo(
    model: nn.Module, spec: ModelSpec, example: tuple[torch.Tensor, ...], target: Path
) -> None:
    """torch.onnx.export(dynamo=True) into `target`, weights inline (every model here is far below 2 GB)."""
    with warnings.catch_warnings():
        # torch.export's own pytree code trips its LeafSpec deprecation: noise for our users.
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
        program = torch.onnx.export(
            model,
            example,
            dynamo=True,
            dynamic_shapes=dynamic_shapes(spec),
            opset_version=OPSET,
            input_names=spec.input_names,
            output_names=[OUTPUT_NAME],
            verbose=False,
            optimize=True,
        )
    program.save(target, external_data=False)


def _export_legacy(
    model: nn.Module, spec: ModelSpec, example: tuple[torch.Tensor, ...], target: Path
) -> None:
    """The TorchScript-based exporter with `dynamic_axes`: the documented fallback."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model,
            example,
            str(target),
            dynamo=False,
            opset_version=OPSET,
            input_names=spec.input_names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes(spec),
            do_constant_folding=True,
        )


def check_dynamic_axes(proto, spec: ModelSpec) -> None:
    """Raise ValueError unless every dynamic axis of `spec` is symbolic in the ONNX graph's inputs."""
    graph_inputs = {i.name: i for i in proto.graph.input}
    for name, axes in dynamic_axes(spec).items():
        if name not in graph_inputs:
            raise ValueError(f"ONNX graph has no input {name!r} (inputs: {sorted(graph_inputs)})")
        dims = graph_inputs[name].type.tensor_type.shape.dim
        for axis, sym in axes.items():
            if not dims[axis].dim_param:
                raise ValueError(
                    f"ONNX input {name!r} axis {axis} ({sym}) was exported static: {dims[axis].dim_value}"
                )


def _opset(proto) -> int:
    """The default-domain opset the file declares."""
    return next(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx"))


def onnx_session(path: Path):
    """An ONNX Runtime CPU session on `path`, warnings off (parity runs on CPU; bench/runtimes does CUDA)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, input_names: list[str], inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """One inference: torch inputs fed by name, the first output back as a torch tensor."""
    feeds = {
        name: np.ascontiguousarray(t.detach().cpu().numpy())
        for name, t in zip(input_names, inputs, strict=True)
    }
    return torch.from_numpy(session.run(None, feeds)[0])


class OnnxFormat(ExportFormat):
    """model.onnx: torch.export (dynamo) at opset 18, dynamic batch/node/edge axes, checked in full."""

    name = "onnx"
    artifact = "model.onnx"
    is_code = False  # a protobuf graph: onnx.checker validates it before any session parses it
    load_needs = ("onnx", "onnxruntime", "numpy")
    reload_source = """
def run(path, names, cases):
    onnx.checker.check_model(path, full_check=True)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feeds = lambda case: {n: numpy.ascontiguousarray(t.numpy()) for n, t in zip(names, case)}
    return [torch.from_numpy(session.run(None, feeds(case))[0]) for case in cases]
"""

    def is_current(self, entry: dict) -> bool:
        """Made with this aggregation formulation (an older graph export scatters: slow or racy in ORT)."""
        return "graph_aggregation" in entry and entry["graph_aggregation"] in (None, FORMULATION)

    def save(self, model: nn.Module, spec: ModelSpec, example: Inputs, path: Path) -> Saved:
        aggregates = passes_messages(model)
        # PyG's scatter exports slow (ScatterElements) or racy (ScatterND add): see export.graph_aggregation.
        with scatter_free_aggregation() if aggregates else contextlib.nullcontext(), quiet_onnx_tools():
            ox = save_onnx(model, spec, example, path)
        return Saved(ox.exporter, {
            "graph_aggregation": FORMULATION if aggregates else None,
            "exporter_reason": ox.fallback_reason,
            "opset": ox.opset,
            "dynamic_axes": dynamic_axes(spec),
            "output_name": OUTPUT_NAME,
            "checker": "onnx.checker.check_model(full_check=True)",
        })

    def run(self, path: Path, spec: ModelSpec, cases: list[Inputs]) -> list[torch.Tensor]:
        session = onnx_session(path)
        return [run_onnx(session, spec.input_names, case) for case in cases]
