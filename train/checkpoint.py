"""Checkpoints: plain dicts that load with `torch.load(path, weights_only=True)`."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

from train.errors import BenchError
from train.fileio import torch_save
from train.registry import get_model

CHECKPOINT_KEYS = ("model", "state_dict", "config", "metrics", "versions", "model_kwargs")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a checkpoint's numbers depend on."""
    import torch_geometric
    import torchaudio
    import torchvision

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torchaudio": torchaudio.__version__,
        "torch_geometric": torch_geometric.__version__,
        "cuda": torch.version.cuda or "",
    }
    # str(): torch.__version__ is a TorchVersion, which weights_only unpickling refuses.
    return {k: str(v) for k, v in versions.items()}


def checkpoint_path(results_dir: Path, model: str) -> Path:
    """`<results>/checkpoints/<model>.pt`, where `bench export` and `bench run` look."""
    return Path(results_dir) / "checkpoints" / f"{model}.pt"


def save_checkpoint(target: Path, model: str, state_dict: dict[str, torch.Tensor], config: dict[str, Any],
                    metrics: dict[str, Any], model_kwargs: dict[str, Any]) -> Path:
    """Atomically write a checkpoint; every value but the tensors is a plain str/int/float/list/dict."""
    payload = {
        "model": model,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "config": config,
        "metrics": metrics,
        "versions": library_versions(),
        "model_kwargs": model_kwargs,
    }
    return torch_save(target, payload)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict at `path` (weights_only: no code runs), checked for the expected keys."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BenchError(f"no checkpoint at {path}; run `bench train` first") from None
    except (RuntimeError, OSError, EOFError) as exc:
        raise BenchError(f"cannot read checkpoint {path}: {str(exc).splitlines()[0]}") from None
    absent = [k for k in CHECKPOINT_KEYS if k not in payload]
    if absent:
        raise BenchError(f"checkpoint {path} lacks {', '.join(absent)}; retrain with `bench train`")
    return payload


def model_from_checkpoint(path: Path) -> nn.Module:
    """The registered model rebuilt with the checkpoint's kwargs and weights, in eval mode."""
    payload = load_checkpoint(path)
    model = get_model(payload["model"]).build(seed=None, **payload["model_kwargs"])
    model.load_state_dict(payload["state_dict"])
    return model.eval()
