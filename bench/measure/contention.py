"""How much CPU other processes took while a run was timing: the number that says a run was contended."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

import psutil

# Shares above this mean timings (multi-threaded ones most) waited for CPUs other work held.
CONTENDED_SHARE = 0.10


@dataclass(frozen=True)
class CpuSnapshot:
    """System-wide busy CPU seconds, and those of this process and its finished children, at one instant."""

    wall_s: float
    busy_s: float  # all CPUs, every process (user, nice, system, irq, softirq, steal)
    ours_s: float  # this process plus its reaped children (the benchmark subprocess, once waited for)


def snapshot() -> CpuSnapshot:
    """Take a snapshot now."""
    times = psutil.cpu_times()
    busy = sum(getattr(times, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        ours += usage.ru_utime + usage.ru_stime
    return CpuSnapshot(time.monotonic(), busy, ours)


def foreign_share(before: CpuSnapshot, after: CpuSnapshot, cpus: int | None = None) -> float:
    """Fraction (0-1) of all CPUs' time between the snapshots spent by other processes (take `after`
    once the subprocess has been waited for, so its CPU time counts as ours)."""
    capacity = (after.wall_s - before.wall_s) * (cpus or psutil.cpu_count() or 1)
    if capacity <= 0:
        return 0.0
    foreign = (after.busy_s - before.busy_s) - (after.ours_s - before.ours_s)
    return min(max(foreign / capacity, 0.0), 1.0)
