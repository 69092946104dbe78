"""Paired timing: the runtimes of one case timed in interleaved rounds, and the speedup with its confidence.

Rows timed one after another, minutes apart, put any drift of the machine (a neighbour's job, a clock
change, thermal state) into "speedup vs eager". Here every round times each runtime back to back (in an
order rotated each round), so drift hits both sides of a round alike; the speedup is the geometric mean of
the per-round ratios, with a 95 % bootstrap interval over rounds. Numbers in, numbers out; never prints.

Switching runtimes has a cost that rows timed alone never pay: the previous runtime's thread pool keeps
spinning for a while (ONNX Runtime's intra-op threads, OpenMP's), and its weights evicted the caches.
Measured here on a 2-core machine, eager cora-mlp read 40 ms right after an ONNX Runtime turn against
14 ms alone. So each turn starts after a quiet gap (QUIET_S, no work: the other pools go idle) and one
untimed call (caches refilled), and then times its calls; with that the same machine read 14.0 ms.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.measure.clock import Clock

ROUND_TARGET_S = 0.03  # each runtime's timed part of a round lasts about this long (sub-ms calls repeat)
QUIET_S = 0.05  # idle time before each turn, so the previous runtime's spinning threads go quiet
WARM_TURN_S = 0.005  # untimed calls at the start of each turn: about this long (at least one call)...
# ...for calls shorter than this. A switch also costs a slow call something (cifar100 at batch 64, 100 ms:
# eager's first call after the others re-faults its freed activation pages); past this it is noise, and
# a warm call per turn would double the rounds' time.
WARM_BELOW_S = 0.2
MIN_ROUNDS = 10  # fewer rounds give a bootstrap interval that means little
CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class PairedSpeedup:
    """A runtime against the reference over the same rounds: speedup (reference time ÷ this time) and its
    95 % bootstrap interval; the per-round ratios it came from."""

    runtime: str
    reference: str
    rounds: int
    speedup: float
    ci_low: float
    ci_high: float
    ratios: tuple[float, ...]

    def as_dict(self) -> dict:
        """JSON-ready fields."""
        return {"runtime": self.runtime, "reference": self.reference, "rounds": self.rounds,
                "speedup": self.speedup, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "confidence": CONFIDENCE, "ratios": list(self.ratios)}


def warm_calls(single_call_s: Mapping[str, float], warm_s: float = WARM_TURN_S) -> dict[str, int]:
    """Untimed calls at the start of each runtime's turn: about `warm_s` of them (at least one) for calls
    under WARM_BELOW_S, none for slower ones."""
    return {name: 0 if seconds >= WARM_BELOW_S else max(1, math.ceil(warm_s / max(seconds, 1e-9)))
            for name, seconds in single_call_s.items()}


def calls_per_round(single_call_s: Mapping[str, float], target_s: float = ROUND_TARGET_S) -> dict[str, int]:
    """How many calls each runtime makes per round so that its part lasts about `target_s` (at least 1)."""
    return {name: max(1, math.ceil(target_s / max(seconds, 1e-9))) for name, seconds in single_call_s.items()}


def interleaved_rounds(calls: Mapping[str, Callable[[], object]], repeat: Mapping[str, int], *,
                       min_rounds: int, budget_s: float, clock: Clock = time.perf_counter,
                       max_rounds: int = 1000, quiet_s: float = QUIET_S,
                       sleep: Callable[[float], None] = time.sleep,
                       warm: Mapping[str, int] | None = None) -> dict[str, list[float]]:
    """Seconds per call of each runtime in each round. Every round runs every runtime `repeat[name]` times
    back to back, the order rotated by one each round, each turn after `quiet_s` idle and `warm[name]`
    untimed calls; rounds continue until at least `min_rounds` are done and `budget_s` has passed (at
    most `max_rounds`). Each call returns once the device is idle."""
    if min_rounds < 2 or budget_s < 0:
        raise ValueError(f"need min_rounds >= 2 and budget_s >= 0, got {min_rounds}, {budget_s}")
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    started = clock()
    rounds = 0
    while rounds < max_rounds and (rounds < min_rounds or clock() - started < budget_s):
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            call, n = calls[name], repeat[name]
            if quiet_s > 0:
                sleep(quiet_s)
            for _ in range(warm.get(name, 0) if warm is not None else 0):
                call()
            begin = clock()
            for _ in range(n):
                call()
            times[name].append((clock() - begin) / n)
        rounds += 1
    return times


def paired_speedup(reference_s: list[float], runtime_s: list[float], *, runtime: str, reference: str,
                   resamples: int = RESAMPLES, seed: int = 0) -> PairedSpeedup:
    """Geometric mean of per-round ratios reference ÷ runtime, with a percentile bootstrap interval over
    rounds (seeded: the same rounds give the same interval)."""
    if len(reference_s) != len(runtime_s) or len(reference_s) < 2:
        raise ValueError("paired rounds need two equally long series of at least 2 rounds")
    logs = [math.log(r / t) for r, t in zip(reference_s, runtime_s, strict=True)]
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(logs, k=len(logs))) / len(logs) for _ in range(resamples))
    tail = (1 - CONFIDENCE) / 2
    low, high = means[int(tail * resamples)], means[min(resamples - 1, int((1 - tail) * resamples))]
    return PairedSpeedup(runtime, reference, len(logs), math.exp(sum(logs) / len(logs)), math.exp(low),
                         math.exp(high), tuple(math.exp(v) for v in logs))
