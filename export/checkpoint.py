"""Where an export's weights come from: a `bench train` checkpoint, or seeded untrained weights."""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch
from torch import nn

from export.util import first_line
from train.errors import BenchError
from train.registry import ModelSpec


def source_label(checkpoint: Path | None, seed: int) -> str:
    """'checkpoint <absolute path>' or 'untrained, seed N': what the manifest's `source` says."""
    if checkpoint is None:
        return f"untrained, seed {seed}"
    return f"checkpoint {Path(checkpoint).resolve()}"


def build_model(spec: ModelSpec, checkpoint: Path | None, seed: int) -> tuple[nn.Module, dict]:
    """(model in eval mode, its builder kwargs): `spec.build(seed)`, or the checkpoint's model and weights."""
    if checkpoint is None:
        return spec.build(seed=seed), {}
    state, kwargs = load_checkpoint_state(spec, Path(checkpoint))
    try:
        model = spec.build(seed=seed, **kwargs)
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise BenchError(f"checkpoint {checkpoint} does not fit model {spec.name}: {detail}") from exc
    return model.eval(), kwargs


def load_checkpoint_state(spec: ModelSpec, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict, model_kwargs) of a `bench train` checkpoint; BenchError if missing/corrupt/foreign."""
    if not path.is_file():
        raise BenchError(
            f"checkpoint {path} not found; train it with `bench train {spec.name}` or omit --checkpoint"
        )
    try:
        # weights_only: a checkpoint is data, never code to execute.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError, OSError) as exc:
        raise BenchError(f"checkpoint {path} is not a readable torch checkpoint: {_load_error(exc)}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise BenchError(
            f"checkpoint {path} has no 'state_dict' entry; expected a file written by `bench train`"
        )
    owner = payload.get("model")
    if owner != spec.name:
        raise BenchError(f"checkpoint {path} holds weights of model {owner!r}, not {spec.name!r}")
    kwargs = payload.get("model_kwargs") or {}  # builder overrides the run was trained with (e.g. channels)
    if not isinstance(kwargs, dict):
        raise BenchError(f"checkpoint {path} has a malformed 'model_kwargs' entry: {kwargs!r}")
    return payload["state_dict"], kwargs


def load_weights(spec: ModelSpec, path: Path, model_kwargs: dict | None = None) -> nn.Module:
    """The registry model (built with the manifest's `model_kwargs`) with an export's weights.pt loaded."""
    if not Path(path).is_file():
        raise BenchError(f"no weights file {path}; run `bench export {spec.name}` first")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = spec.build(seed=0, **(model_kwargs or {}))
    model.load_state_dict(state)
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


def _load_error(exc: BaseException) -> str:
    """The informative line of a torch.load failure: weights_only names the refused type deep in its text."""
    refused = re.search(r"WeightsUnpickler error: (.*)", str(exc))
    if refused:
        # e.g. "Unsupported global: GLOBAL torch.torch_version.TorchVersion was not an allowed global ..."
        return "weights_only refused it: " + refused.group(1).split(". ")[0].strip()
    return first_line(exc).split(". This is an internal miniz error")[0]  # torch's advice paragraph: noise
