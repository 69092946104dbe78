"""The suite's timing sequence for one bound call, around a pytest-benchmark fixture; never prints.

fixed warm-up → warm-up until stable → pytest-benchmark's rounds → extra rounds while IQR/median > 0.10.
Shared by suites/test_latency.py and the fidelity test, so the test checks the path `bench run` takes.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.measure.clock import Clock
from bench.measure.stability import Warmup, extend_until_stable, warm_until_stable


@dataclass(frozen=True)
class Timed:
    """What the sequence did: pytest-benchmark's samples (seconds per call, extra rounds appended)."""

    samples: list[float]  # the fixture's own list: its JSON stats are computed from it at session end
    iterations: int  # calls per round, as pytest-benchmark calibrated
    extra_rounds: int
    warmup: str  # how the case was warmed up, for extra_info
    warmup_settled: bool


def time_call(benchmark, call: Callable[[], object], *, fixed_warmup: int, budget_s: float,
              benchmark_warmup: bool, clock: Clock = time.perf_counter) -> Timed | None:
    """Warm `call` up (`fixed_warmup` calls, fewer past `budget_s`; then until stable; none at all when
    `fixed_warmup` is 0), time it with `benchmark`, extend noisy samples within `budget_s` (garbage
    collector off, as pytest-benchmark runs its rounds); None when the fixture timed nothing
    (--benchmark-disable). `call` returns once the device is idle, so pytest-benchmark's host clock
    around it times the work, not the launch."""
    # First calls pay for kernel selection, allocation and JIT profiling: never time them. The fixed count
    # stops early past `budget_s` (a 3 s call needs no ten warm-ups; pytest-benchmark warms up after it).
    started, fixed = clock(), 0
    while fixed < fixed_warmup and (fixed == 0 or clock() - started < budget_s):
        call()
        fixed += 1
    if fixed_warmup == 0:  # --warmup 0 asks for none: the first calls are timed, cold
        settled = Warmup(0, False, 0.0)
        warmup = "none (--warmup 0)"
    else:
        # A fixed count is too few for some runtimes: keep going until call times settle (bounded).
        settled = warm_until_stable(call, budget_s=budget_s, clock=clock)
        warmup = (f"{fixed} untimed calls, then {settled.calls} more until the median of the last 5 "
                  f"moved < 5 %" if settled.settled else f"{fixed} untimed calls, then {settled.calls} "
                  f"more (times not settled within {budget_s:g} s)")
    if benchmark_warmup:
        warmup += "; then pytest-benchmark's own warm-up"
    benchmark(call)
    if benchmark.stats is None:
        return None
    samples, iterations = benchmark.stats.stats.data, benchmark.stats.iterations

    def take_round() -> float:
        """One more round the way pytest-benchmark times one: `iterations` calls, seconds per call."""
        start = clock()  # pytest-benchmark's default timer is time.perf_counter too
        for _ in range(iterations):
            call()
        return (clock() - start) / iterations

    # Appended to pytest-benchmark's own samples, so the JSON's stats and our p50 agree; with the garbage
    # collector off, as `bench run` has pytest-benchmark time its rounds (--benchmark-disable-gc).
    collecting = gc.isenabled()
    gc.disable()
    try:
        extra = extend_until_stable(take_round, samples, budget_s=budget_s, clock=clock)
    finally:
        if collecting:
            gc.enable()
    return Timed(samples, iterations, extra, warmup, settled.settled)
