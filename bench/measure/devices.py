"""Devices and CPU threads: resolve what the user asked for, or say clearly why it cannot run."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from bench.errors import BenchError

DEVICE_KINDS = ("cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """`cpu`, `cuda` or `cuda:N` as a torch.device; CUDA that is not there is a BenchError, never CPU."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise BenchError(f"unknown device {name!r}; choose one of: {', '.join(DEVICE_KINDS)}") from None
    if device.type not in DEVICE_KINDS:
        raise BenchError(f"unknown device {name!r}; choose one of: {', '.join(DEVICE_KINDS)}")
    if device.type == "cuda":
        _require_cuda(name, device)
    return device


def _require_cuda(name: str, device: torch.device) -> None:
    """Raise a one-line BenchError unless `device` is a CUDA device this process can use."""
    if not torch.cuda.is_available():
        build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise BenchError(
            f"--device {name} requested but CUDA is not available (torch {torch.__version__} is {build}, "
            f"and no usable GPU or driver was found); use --device cpu"
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise BenchError(f"--device {name} requested but only {count} CUDA device(s) are visible")


def cuda_index(device: torch.device) -> int:
    """The CUDA ordinal of `device` (the current device when it names none)."""
    return device.index if device.index is not None else torch.cuda.current_device()


def default_threads() -> int:
    """CPU threads for every runtime: the cores this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A callable that waits for all queued work on `device` (a no-op on CPU, where calls are synchronous)."""
    if device.type == "cuda":
        index = cuda_index(device)
        return lambda: torch.cuda.synchronize(index)
    return _no_wait


def _no_wait() -> None:
    """CPU kernels have finished when the call returns: nothing to wait for."""
