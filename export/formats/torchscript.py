"""TorchScript export (scripted, or traced where a scripted module does not reload) and the frozen load."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from export.formats.base import ExportFormat, Inputs, Saved
from export.util import first_line
from train.errors import BenchError
from train.fileio import write_with
from train.registry import ModelSpec

# What `load_torchscript` does, recorded in every manifest. Freezing happens at load, in memory: a
# file saved after freeze + optimize_for_inference does not reload for conv models (the MKLDNN
# prepacked constants serialise without their 'value' attribute), so the file holds the plain
# scripted eval module.
LOAD_RECIPE = (
    "torch.jit.load(model.ts, map_location=device) · eval() · torch.jit.freeze · "
    "torch.jit.optimize_for_inference (in memory, at load)"
)


@dataclass(frozen=True)
class TorchScriptExport:
    """What `save_torchscript` produced: how the module was captured and why."""

    method: str  # "scripted" | "traced"
    exporter: str  # short: "torch.jit.script" or "torch.jit.trace (...)"
    reason: str  # why it traced rather than scripted ("" when scripted)
    trace_warnings: tuple[str, ...]  # TracerWarnings raised while tracing (empty when scripted)


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence torch 2.11's 'torch.jit.* is deprecated' warning, and only that one, inside the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
        yield


def save_torchscript(model: nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> TorchScriptExport:
    """Script `model` (eval mode) and write it to `path`; trace it on `example` if the script won't reload."""
    model = model.eval()
    with quiet_jit():
        try:
            module = torch.jit.script(model)
            _check_reloads(module)
            result = TorchScriptExport("scripted", "torch.jit.script", "", ())
        except Exception as exc:  # noqa: BLE001 - any scripting failure is a reason to trace; it is recorded
            reason = first_line(exc)
            module, trace_warnings = _trace(model, example)
            result = TorchScriptExport(
                "traced",
                "torch.jit.trace (scripted module unusable)",
                f"torch.jit.script: {reason}",
                trace_warnings,
            )
        write_with(path, lambda fh: torch.jit.save(module, fh))
    return result


def load_torchscript(path: Path, device: torch.device | str) -> torch.jit.ScriptModule:
    """Load `path` onto `device`, frozen and optimised for inference, ready to call (see LOAD_RECIPE)."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"no TorchScript file at {path}; run `bench export` first")
    with quiet_jit():
        try:
            module = torch.jit.load(str(path), map_location=torch.device(device))
        except RuntimeError as exc:
            raise BenchError(
                f"cannot load TorchScript {path}: "
                f"{first_line(exc).split('. This is an internal miniz error')[0]}; re-run `bench export`"
            ) from exc
        return torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))


def _check_reloads(module: torch.jit.ScriptModule) -> None:
    """Save and load `module` in memory: some scripted PyG layers compile but fail to load (PyG #8867)."""
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    torch.jit.load(buffer)


def _trace(
    model: nn.Module, example: tuple[torch.Tensor, ...]
) -> tuple[torch.jit.ScriptModule, tuple[str, ...]]:
    """Trace `model` on `example`, made device-agnostic; returns the module and any TracerWarnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, example)
    messages = tuple(str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning))
    make_device_agnostic(traced)
    return traced, messages


def make_device_agnostic(traced: torch.jit.ScriptModule) -> None:
    """Replace each device constant the tracer baked in with the device of the method's first tensor input.

    Tracing records `device=edge_index.device` (PyG's self-loops, GCN's edge weights) as a constant
    `cpu`, so a CPU trace would fail on CUDA inputs; `prim::device(input)` restores what the code meant.
    """
    for module in (traced, *traced.modules()):
        graph = getattr(module, "graph", None)
        if graph is None:
            continue
        constants = [
            n
            for n in graph.nodes()
            if n.kind() == "prim::Constant" and n.output().type().kind() == "DeviceObjType"
        ]
        if not constants:
            continue
        tensor_inputs = [v for v in graph.inputs() if v.type().kind() == "TensorType"]
        if not tensor_inputs:
            raise RuntimeError("traced graph pins a device but has no tensor input to take it from")
        for const in constants:
            device = graph.create("prim::device", [tensor_inputs[0]])
            device.output().setType(const.output().type())
            device.insertBefore(const)
            const.output().replaceAllUsesWith(device.output())
            const.destroy()


def device_constants(module: torch.jit.ScriptModule) -> int:
    """How many device constants remain in `module`'s graphs (0 after `make_device_agnostic`)."""
    count = 0
    for sub in (module, *module.modules()):
        graph = getattr(sub, "graph", None)
        if graph is not None:
            count += sum(
                1
                for n in graph.nodes()
                if n.kind() == "prim::Constant" and n.output().type().kind() == "DeviceObjType"
            )
    return count


class TorchScriptFormat(ExportFormat):
    """model.ts: scripted (traced where a script will not reload), frozen and optimised when loaded."""

    name = "torchscript"
    artifact = "model.ts"
    is_code = True  # a TorchScript archive holds code that runs when it is loaded
    load_needs = ()
    # LOAD_RECIPE by hand: the clean interpreter may not import this project (tests check both agree).
    reload_source = """
def run(path, names, cases):
    module = torch.jit.load(path, map_location="cpu")
    module = torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))
    with torch.inference_mode():
        return [module(*case).clone() for case in cases]
"""

    def save(self, model: nn.Module, spec: ModelSpec, example: Inputs, path: Path) -> Saved:
        ts = save_torchscript(model, example, path)
        return Saved(ts.exporter, {
            "method": ts.method,
            "exporter_reason": ts.reason,
            "trace_warnings": list(ts.trace_warnings),
            "opset": None,
            "load_recipe": LOAD_RECIPE,
        })

    def run(self, path: Path, spec: ModelSpec, cases: list[Inputs]) -> list[torch.Tensor]:
        module = load_torchscript(path, "cpu")
        with torch.inference_mode():
            return [module(*case) for case in cases]
