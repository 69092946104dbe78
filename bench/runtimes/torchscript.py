"""TorchScript: the exported ScriptModule, frozen and optimised at load by export/formats/torchscript."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from bench.measure.precision import FP32, PrecisionPolicy
from bench.runtimes.base import Runtime, Session, set_torch_threads
from bench.runtimes.registry import register_runtime
from bench.runtimes.torch_session import torch_session
from train.registry import ModelSpec


@register_runtime
class TorchScriptRuntime(Runtime):
    """`load_torchscript(model.ts, device)` of a file whose sha256 the manifest records (or --trust)."""

    name = "torchscript"
    export_format = "torchscript"

    def preload(self) -> None:
        import export.formats.torchscript  # noqa: F401 - torch.jit's own modules load with it

    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False, precision: PrecisionPolicy = FP32,
             options: Mapping[str, object] | None = None) -> Session:
        from export.formats.torchscript import LOAD_RECIPE, load_torchscript

        path = self.artifact_path(model_dir, device, trust=trust)  # code: only files the manifest vouches for
        set_torch_threads(threads)  # before freezing: optimize_for_inference may use them
        module = load_torchscript(path, device)
        return torch_session(module, runtime=self.name, backend="torch.jit", device=device, path=path,
                             recipe=f"{LOAD_RECIPE}; torch.inference_mode()", threads=threads)
