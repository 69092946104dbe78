"""Eager PyTorch: the registry's module with the exported state_dict loaded."""

from __future__ import annotations

from pathlib import Path

import torch

from bench.errors import BenchError
from bench.runtimes.base import Runtime, RuntimeDetails, Session, set_torch_threads
from bench.runtimes.registry import register_runtime
from bench.runtimes.torch_session import TorchSession
from export.layout import MANIFEST_FILE, load_manifest
from train.registry import ModelSpec


@register_runtime
class EagerRuntime(Runtime):
    """`spec.build()` + `load_state_dict(weights.pt)`, run under torch.inference_mode."""

    name = "eager"
    export_format = None  # weights.pt: the state dict every exported format was made from

    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False) -> Session:
        path = self.artifact_path(model_dir, device, trust=trust)
        intra, inter = set_torch_threads(threads)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = spec.build(seed=0, **_model_kwargs(model_dir))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise BenchError(f"{path} does not fit {spec.name}: {first}; re-run `bench export`") from exc
        model = model.to(device).eval()
        details = RuntimeDetails(
            runtime=self.name,
            device=str(device),
            threads=intra,
            interop_threads=inter,
            providers=(f"torch {torch.__version__} ({device.type})",),
            recipe="spec.build() + load_state_dict(weights.pt); eval(); torch.inference_mode()",
            artifact=str(path),
            artifact_bytes=path.stat().st_size,
        )
        return TorchSession(model, device, details)


def _model_kwargs(model_dir: Path) -> dict:
    """Builder overrides the weights were exported with (a checkpoint trained with channels=48,…)."""
    if not (Path(model_dir) / MANIFEST_FILE).is_file():
        return {}  # a bare weights.pt: the registry's default architecture
    return dict(load_manifest(model_dir).get("model_kwargs") or {})
