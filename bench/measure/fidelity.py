"""An independent timing of a row, to check the harness: torch's own Timer around a plain call.

The harness (pytest-benchmark rounds, our warm-up and extra rounds) is what `bench run` trusts; this is a
second opinion taken right after, in the same process, by code that shares none of it:
torch.utils.benchmark.Timer's blocked_autorange around a call the runtime builds with its own library
alone (Runtime.raw_call; for torch runtimes, the loaded module's bound call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class IndependentTiming:
    """Timer's median seconds per call, and what was timed."""

    median_s: float
    method: str

    def as_dict(self, harness_p50_s: float) -> dict:
        """JSON fields, with the harness p50 ÷ this median."""
        return {**asdict(self), "median_ms": self.median_s * 1e3,
                "harness_over_independent": harness_p50_s / self.median_s}


def timer_median(call: Callable[[], object], min_run_time_s: float, threads: int) -> float:
    """torch.utils.benchmark.Timer's median seconds per call of `call` (it warms up and blocks itself) with
    torch at `threads` threads: Timer sets torch to 1 thread unless told, which halves a 2-thread row."""
    from torch.utils.benchmark import Timer

    timer = Timer(stmt="call()", globals={"call": call}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_run_time_s).median


def independent_timing(call: Callable[[], object], method: str, min_run_time_s: float,
                       threads: int) -> IndependentTiming:
    """Timer's median for `call`, described by `method`, torch at the row's `threads`."""
    median = timer_median(call, min_run_time_s, threads)
    return IndependentTiming(median, f"torch.utils.benchmark.Timer around {method}")
