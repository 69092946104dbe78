"""Summary statistics of raw latency samples (seconds in, seconds out); pure functions, no printing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Summary:
    """Statistics of one sample set, all in the samples' unit (seconds for latencies)."""

    count: int
    mean: float
    std: float  # sample standard deviation (n - 1); 0 for a single sample
    min: float
    max: float
    p50: float
    p90: float
    p99: float
    iqr: float  # p75 - p25

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON."""
        return asdict(self)


def percentile(samples: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by linear interpolation between order statistics (numpy's default)."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(samples: Sequence[float]) -> Summary:
    """Mean, std, min, max, p50/p90/p99 and IQR of `samples` (at least one)."""
    if not samples:
        raise ValueError("cannot summarise an empty sample set")
    n = len(samples)
    mean = math.fsum(samples) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in samples) / (n - 1)) if n > 1 else 0.0
    return Summary(
        count=n,
        mean=mean,
        std=std,
        min=min(samples),
        max=max(samples),
        p50=percentile(samples, 50),
        p90=percentile(samples, 90),
        p99=percentile(samples, 99),
        iqr=percentile(samples, 75) - percentile(samples, 25),
    )


def throughput(items: int, seconds: float) -> float:
    """Items per second for `items` processed in `seconds` (> 0)."""
    if seconds <= 0:
        raise ValueError(f"throughput needs a positive duration, got {seconds}")
    return items / seconds
