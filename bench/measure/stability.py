"""Stability of latency samples: warm up until call times settle, extend noisy sample sets; never prints.

Both functions take the clock as an argument so tests can drive them with a fake one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.measure.clock import Clock
from bench.measure.stats import percentile

SETTLED_CHANGE = 0.05  # warm-up ends when the median of the last k calls moves less than this (relative)
UNSTABLE_IQR = 0.10  # a row whose IQR/median exceeds this is unstable: take more rounds, then flag it


@dataclass(frozen=True)
class Warmup:
    """What `warm_until_stable` did: untimed calls made, whether the times settled, seconds spent."""

    calls: int
    settled: bool
    seconds: float


def warm_until_stable(fn: Callable[[], object], *, window: int = 5, change: float = SETTLED_CHANGE,
                      budget_s: float, clock: Clock = time.perf_counter) -> Warmup:
    """Call `fn` (which returns once the device is idle) until the median of the last `window` call
    times differs from the previous `window`'s by less than `change`, or `budget_s` seconds pass.
    These calls are warm-up: their times decide when to stop and are never reported."""
    if window < 1 or budget_s <= 0:
        raise ValueError(f"need window >= 1 and budget_s > 0, got window={window}, budget_s={budget_s}")
    times: list[float] = []
    started = clock()
    while True:
        before = clock()
        fn()
        after = clock()
        times.append(after - before)
        if len(times) >= 2 * window:
            recent, previous = _median(times[-window:]), _median(times[-2 * window:-window])
            if previous > 0 and abs(recent - previous) / previous < change:
                return Warmup(len(times), True, after - started)
        if after - started >= budget_s:
            return Warmup(len(times), False, after - started)


def iqr_over_median(samples: Sequence[float]) -> float:
    """(p75 - p25) / p50 of `samples`; 0 for a zero median (nothing to be unstable about)."""
    median = percentile(samples, 50)
    if median <= 0:
        return 0.0
    return (percentile(samples, 75) - percentile(samples, 25)) / median


def extend_until_stable(take_round: Callable[[], float], samples: list[float], *, budget_s: float,
                        threshold: float = UNSTABLE_IQR, clock: Clock = time.perf_counter) -> int:
    """While IQR/median of `samples` exceeds `threshold` and `budget_s` lasts, append `take_round()`
    (one round's seconds per call) to `samples`, in place; return how many rounds were added."""
    added = 0
    started = clock()
    while samples and iqr_over_median(samples) > threshold and clock() - started < budget_s:
        # Rounds go in batches of the current count (at least 5): one new sample barely moves an IQR.
        for _ in range(max(5, len(samples))):
            samples.append(take_round())
            added += 1
            if clock() - started >= budget_s:
                break
    return added


def _median(values: Sequence[float]) -> float:
    return percentile(values, 50)
