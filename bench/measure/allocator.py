"""How the benchmark process allocates host memory, and how many page faults a call costs.

PyTorch's CPU allocator is the C library's malloc. glibc serves large blocks with mmap and gives them back
on free (and trims its heaps), so every call of a model with large activations faults its pages in again:
measured here, eager GCN on full Cora took 7,950 minor faults per call (31 MB of fresh pages) and 18 ms,
against 0 faults and 10 ms with freed memory kept, and the fault count drifted from 3,200 to 8,000 between
runs of one process. ONNX Runtime allocates from its own arena and pays none of this, so with glibc's
defaults a "runtime" comparison is partly an allocator comparison, and a noisy one.

`retain` (the default where glibc is there) keeps freed memory in the process (mmap off, heap trimming
off), as a caching allocator does (jemalloc and tcmalloc, which PyTorch's CPU performance guides
recommend); `system` leaves the C library's defaults. Every row records its faults per call either way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import sys
from collections.abc import Callable

from bench.errors import BenchError

RETAIN = "retain"
SYSTEM = "system"
ALLOCATORS = (RETAIN, SYSTEM)
# glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD -1, M_MMAP_MAX -4.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_NEVER_TRIM = -1  # mallopt(3): a trim threshold of -1 disables trimming altogether
# Allocators that users preload in place of malloc: glibc's settings do not reach them.
_PRELOADED = ("jemalloc", "tcmalloc", "mimalloc")
FAULT_PROBE_S = 0.1  # seconds of calls the fault count is taken over (at least one call)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The process's glibc (its mallopt), or None on another C library or platform (looked up once)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl has mallopt as a stub
        return libc if hasattr(libc, "mallopt") else None
    except (OSError, AttributeError):
        return None


def default_allocator() -> str:
    """`retain` where glibc's mallopt can set it, else `system`."""
    return RETAIN if _glibc() is not None else SYSTEM


def check_allocator(name: str) -> str:
    """`name` if it is an allocator setting this process can apply; BenchError naming the fix otherwise."""
    if name not in ALLOCATORS:
        raise BenchError(f"--allocator must be one of {', '.join(ALLOCATORS)}, got {name!r}")
    if name == RETAIN and _glibc() is None:
        raise BenchError(f"--allocator {RETAIN} needs glibc's mallopt, which {sys.platform} does not have; "
                         f"use --allocator {SYSTEM} (or preload jemalloc/tcmalloc)")
    return name


def preloaded_allocator() -> str | None:
    """The malloc replacement named in LD_PRELOAD (jemalloc, tcmalloc, mimalloc), if any."""
    preload = os.environ.get("LD_PRELOAD", "")
    return next((part for part in preload.replace(":", " ").split() if any(n in part for n in _PRELOADED)),
                None)


def apply_allocator(name: str) -> str:
    """Set this process's malloc as `name` asks, before any timing; what is in effect, in words."""
    check_allocator(name)
    preloaded = preloaded_allocator()
    if preloaded:
        return f"{preloaded} (LD_PRELOAD; --allocator {name} does not reach it)"
    if name == SYSTEM:
        return "the C library's defaults (glibc: large blocks mmapped and returned on free)"
    libc = _glibc()
    if not (libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)):
        raise BenchError("glibc refused the allocator settings (mallopt); use --allocator system")
    return "glibc, freed memory kept in the process (mmap off, trimming off)"


def minor_faults() -> int | None:
    """Minor page faults of this process so far (every thread), or None where getrusage is missing."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults_per_call(call: Callable[[], object], seconds_per_call: float,
                    target_s: float = FAULT_PROBE_S) -> float | None:
    """Minor page faults per call of `call` over about `target_s` of calls (at least one), after it is
    warm; None where the count is not available."""
    calls = max(1, math.ceil(target_s / max(seconds_per_call, 1e-9)))
    before = minor_faults()
    if before is None:
        return None
    for _ in range(calls):
        call()
    return (minor_faults() - before) / calls
