"""Device choice: a CUDA request without CUDA is an error, never a silent CPU run."""

from __future__ import annotations

import torch

from train.errors import BenchError


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available else cpu; 'cuda' without a GPU raises BenchError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise BenchError(f"unknown device {name!r}; use auto, cpu or cuda") from None


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so a clock read afterwards includes it (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
