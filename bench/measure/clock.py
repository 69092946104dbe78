"""The clock primitives: a synchronised call, and the plain timed loop (warm-up, then one sample per call).

`bench run` times rows with measure.harness (pytest-benchmark's rounds around a synchronised call); this
loop times what is not a row: the roofline's matmul peak. Both read the clock only after synchronising.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

Clock = Callable[[], float]  # seconds, monotonic
Synchronizer = Callable[[], None]  # blocks until the device has finished all queued work
T = TypeVar("T")


def synchronized(fn: Callable[[], T], synchronize: Synchronizer) -> Callable[[], T]:
    """Wrap `fn` so it returns (its result) only once the device is idle: a host clock around it then times
    real work."""

    def call() -> T:
        result = fn()
        # GPU launches return before the kernels run; without this wait a clock sees only launch time.
        synchronize()
        return result

    return call


def time_calls(
    fn: Callable[[], object],
    *,
    repeats: int,
    warmup: int = 10,
    synchronize: Synchronizer,
    clock: Clock = time.perf_counter,
) -> list[float]:
    """Seconds per call of `fn` for `repeats` calls, after `warmup` untimed calls (the reports use 10)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        # First calls pay for kernel selection, allocation and compilation: run them, time nothing.
        fn()
    synchronize()  # warm-up work still queued must not be billed to the first timed call
    samples = []
    for _ in range(repeats):
        start = clock()
        fn()
        synchronize()
        samples.append(clock() - start)
    return samples
