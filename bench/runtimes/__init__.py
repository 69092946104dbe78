"""Runtime adapters behind one interface and one registry; importing this package registers every runtime.

Adding a runtime is one module here with one `@register_runtime` class: every module of this package is
imported below, so none can be forgotten (tests/runtimes checks each Runtime subclass is registered).
"""

import importlib
import pkgutil

from bench.runtimes.base import Runtime, RuntimeDetails, RuntimeUnavailable, Session
from bench.runtimes.registry import default_runtime_names, get_runtime, register_runtime, runtime_names

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "Runtime",
    "RuntimeDetails",
    "RuntimeUnavailable",
    "Session",
    "default_runtime_names",
    "get_runtime",
    "register_runtime",
    "runtime_names",
]
