"""TorchScript: the exported ScriptModule, frozen and optimised at load by export/formats/torchscript."""

from __future__ import annotations

from pathlib import Path

import torch

from bench.runtimes.base import Runtime, RuntimeDetails, Session, set_torch_threads
from bench.runtimes.registry import register_runtime
from bench.runtimes.torch_session import TorchSession
from train.registry import ModelSpec


@register_runtime
class TorchScriptRuntime(Runtime):
    """`load_torchscript(model.ts, device)` of a file whose sha256 the manifest records (or --trust)."""

    name = "torchscript"
    export_format = "torchscript"

    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False) -> Session:
        from export.formats.torchscript import LOAD_RECIPE, load_torchscript

        path = self.artifact_path(model_dir, device, trust=trust)  # code: only files the manifest vouches for
        intra, inter = set_torch_threads(threads)
        module = load_torchscript(path, device)
        details = RuntimeDetails(
            runtime=self.name,
            device=str(device),
            threads=intra,
            interop_threads=inter,
            providers=(f"torch.jit {torch.__version__} ({device.type})",),
            recipe=f"{LOAD_RECIPE}; torch.inference_mode()",
            artifact=str(path),
            artifact_bytes=path.stat().st_size,
        )
        return TorchSession(module, device, details)
