"""Eager PyTorch: the registry's module with the exported state_dict loaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from bench.errors import BenchError
from bench.measure.precision import FP32, PrecisionPolicy
from bench.runtimes.base import Runtime, Session, set_torch_threads
from bench.runtimes.registry import register_runtime
from bench.runtimes.torch_session import torch_session
from export.layout import MANIFEST_FILE, load_manifest
from train.registry import ModelSpec


@register_runtime
class EagerRuntime(Runtime):
    """`spec.build()` + `load_state_dict(weights.pt)`, run under torch.inference_mode."""

    name = "eager"
    export_format = None  # weights.pt: the state dict every exported format was made from

    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False, precision: PrecisionPolicy = FP32,
             options: Mapping[str, object] | None = None) -> Session:
        path = self.artifact_path(model_dir, device, trust=trust)
        set_torch_threads(threads)  # before loading: torch.load may use them
        model = load_eager_module(spec, model_dir, path)
        recipe = f"{EAGER_RECIPE}; torch.inference_mode()"
        return torch_session(model.to(device).eval(), runtime=self.name, backend="torch", device=device,
                             recipe=recipe, path=path, threads=threads)


# How the eager module is made from weights.pt; the compile runtime compiles this same module.
EAGER_RECIPE = "spec.build() + load_state_dict(weights.pt); eval()"


def load_eager_module(spec: ModelSpec, model_dir: Path, path: Path) -> torch.nn.Module:
    """`spec`'s module, built as the weights were exported (the manifest's model_kwargs), with the state
    dict at `path` loaded, on the CPU; a BenchError when the weights do not fit it."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = spec.build(seed=0, **_model_kwargs(model_dir))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise BenchError(f"{path} does not fit {spec.name}: {first}; re-run `bench export`") from exc
    return model.eval()


def _model_kwargs(model_dir: Path) -> dict:
    """Builder overrides the weights were exported with (a checkpoint trained with channels=48,…)."""
    if not (Path(model_dir) / MANIFEST_FILE).is_file():
        return {}  # a bare weights.pt: the registry's default architecture
    return dict(load_manifest(model_dir).get("model_kwargs") or {})
