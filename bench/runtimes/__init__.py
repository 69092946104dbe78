"""Runtime adapters (eager, TorchScript, ONNX Runtime) behind one interface and one registry."""

from bench.runtimes.base import Runtime, RuntimeDetails, RuntimeUnavailable, Session
from bench.runtimes.registry import get_runtime, register_runtime, runtime_names

__all__ = [
    "Runtime",
    "RuntimeDetails",
    "RuntimeUnavailable",
    "Session",
    "get_runtime",
    "register_runtime",
    "runtime_names",
]
