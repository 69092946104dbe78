"""The runtime registry: one instance per name, filled by the `register_runtime` class decorator."""

from __future__ import annotations

from typing import TypeVar

from bench.errors import BenchError
from bench.runtimes.base import Runtime

_RUNTIMES: dict[str, Runtime] = {}

R = TypeVar("R", bound=type[Runtime])


def register_runtime(cls: R) -> R:
    """Register an instance of `cls` under `cls.name`; a duplicate name is a programming error."""
    if cls.name in _RUNTIMES:
        raise ValueError(f"runtime {cls.name!r} is already registered")
    _RUNTIMES[cls.name] = cls()
    return cls


def runtime_names() -> list[str]:
    """All registered runtime names, eager first (it is the baseline every speedup is against)."""
    return sorted(_RUNTIMES, key=lambda name: (name != "eager", name))


def get_runtime(name: str) -> Runtime:
    """The runtime called `name`; an unknown name is a BenchError listing the valid ones."""
    try:
        return _RUNTIMES[name]
    except KeyError:
        raise BenchError(f"unknown runtime {name!r}; choose one of: {', '.join(runtime_names())}") from None
