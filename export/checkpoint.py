"""Where an export's weights come from: a `bench train` checkpoint, or seeded untrained weights."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from export.util import first_line
from train.checkpoint import fit_model, read_checkpoint
from train.errors import BenchError
from train.registry import ModelSpec


def source_label(checkpoint: Path | None, seed: int) -> str:
    """'checkpoint <absolute path>' or 'untrained, seed N': what the manifest's `source` says."""
    if checkpoint is None:
        return f"untrained, seed {seed}"
    return f"checkpoint {Path(checkpoint).resolve()}"


def build_model(spec: ModelSpec, checkpoint: Path | None, seed: int) -> tuple[nn.Module, dict]:
    """(model in eval mode, its builder kwargs): `spec.build(seed)`, or the checkpoint's model and weights.

    A checkpoint bench cannot use raises `train.checkpoint.CheckpointError` (a BenchError): one line naming
    the file, what is wrong with it and what to run; `.path` and `.problem` let a caller exporting several
    models fail only this one."""
    if checkpoint is None:
        return spec.build(seed=seed), {}
    payload = read_checkpoint(Path(checkpoint), spec.name, required=_REQUIRED)
    return fit_model(Path(checkpoint), payload, seed, spec), dict(payload.get("model_kwargs") or {})


# What an export needs of a checkpoint: whose weights, and the weights (model_kwargs when the run set any).
_REQUIRED = ("model", "state_dict")


def load_checkpoint_state(spec: ModelSpec, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict, model_kwargs) of a `bench train` checkpoint; CheckpointError if unusable or foreign."""
    payload = read_checkpoint(Path(path), spec.name, required=_REQUIRED)
    return payload["state_dict"], dict(payload.get("model_kwargs") or {})


def load_weights(spec: ModelSpec, path: Path, model_kwargs: dict | None = None) -> nn.Module:
    """The registry model (built with the manifest's `model_kwargs`) with an export's weights.pt loaded."""
    if not Path(path).is_file():
        raise BenchError(f"no weights file {path}; run `bench export {spec.name}` first")
    rerun = f"re-run `bench export {spec.name}`"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = spec.build(seed=0, **(model_kwargs or {}))
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - a damaged weights.pt can fail anywhere in torch.load
        raise BenchError(f"{path} does not load into {spec.name} ({first_line(exc)[:200]}); {rerun}") \
            from None
    return model.eval()


def export_problem(model: nn.Module) -> str:
    """Why `model` cannot be exported faithfully, or "" when it can.

    A PyG conv built with cached=True keeps the first graph's normalised adjacency; a trace or export
    then bakes that one graph in and silently gives wrong outputs on any other graph.
    """
    cached = [
        name or type(model).__name__
        for name, m in model.named_modules()
        if getattr(m, "cached", False) is True
    ]
    if cached:
        return f"{', '.join(cached)} built with cached=True: exports would bake in one graph's normalisation"
    return ""
