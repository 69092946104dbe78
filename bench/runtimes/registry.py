"""The runtime registry: one instance per name, filled by the `register_runtime` class decorator."""

from __future__ import annotations

from typing import TypeVar

from bench.errors import BenchError
from bench.runtimes.base import Runtime
from train.errors import did_you_mean

_RUNTIMES: dict[str, Runtime] = {}
_ALIASES: dict[str, str] = {}  # another name -> the runtime's name (e.g. onnx -> onnxruntime)

R = TypeVar("R", bound=type[Runtime])


def register_runtime(cls: R) -> R:
    """Register an instance of `cls` under `cls.name`; a duplicate name is a programming error."""
    for name in (cls.name, *cls.aliases):
        if name in _RUNTIMES or name in _ALIASES:
            raise ValueError(f"runtime name {name!r} is already registered")
    _RUNTIMES[cls.name] = cls()
    _ALIASES.update(dict.fromkeys(cls.aliases, cls.name))
    return cls


def runtime_names() -> list[str]:
    """All registered runtime names, eager first (it is the baseline every speedup is against)."""
    return sorted(_RUNTIMES, key=lambda name: (name != "eager", name))


def default_runtime_names() -> list[str]:
    """The runtimes a run that names none covers: every registered one but those that compile for minutes
    (`Runtime.default` False), which `--runtimes` names explicitly (or `all`)."""
    return [name for name in runtime_names() if _RUNTIMES[name].default]


def get_runtime(name: str) -> Runtime:
    """The runtime called `name` (or one of its aliases); an unknown name is a BenchError listing the valid
    ones, with the closest first when there is one."""
    name = _ALIASES.get(name, name)
    try:
        return _RUNTIMES[name]
    except KeyError:
        raise BenchError(f"unknown runtime {name!r}{did_you_mean(name, [*_RUNTIMES, *_ALIASES])}; "
                         f"choose one of: {', '.join(runtime_names())}") from None
