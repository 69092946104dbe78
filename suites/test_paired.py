"""Paired speedups: every runtime of one model × size timed in interleaved rounds against eager.

Rows timed one after another put machine drift into their ratio; here each round times every runtime
back to back (bench.measure.paired), and each runtime's speedup over eager is the geometric mean of the
per-round ratios with a 95 % bootstrap interval. It runs after every row (this file sorts after
test_latency.py), loads the runtimes the rows could load, and records into the JSON's rows.
"""

from __future__ import annotations

import gc
import time

import pytest

from bench.errors import BenchError
from bench.measure.paired import MIN_ROUNDS, calls_per_round, interleaved_rounds, paired_speedup, warm_calls
from bench.records.schema import REFERENCE_RUNTIME
from bench.run.selection import PairedCase
from bench.runtimes import get_runtime
from train.registry import get_model


def test_paired(paired_case: PairedCase, suite, record_paired) -> None:
    config, spec = suite.config, get_model(paired_case.model)
    inputs = suite.inputs(spec, paired_case.size)
    calls, skipped = {}, []
    for name in paired_case.runtimes:
        try:
            calls[name] = suite.timed_call(suite.load(spec, get_runtime(name)), inputs).call
        except BenchError as exc:  # unavailable, or a load that failed (its own row says why): left out
            skipped.append(f"{name} ({exc})")
    if REFERENCE_RUNTIME not in calls or len(calls) < 2:
        pytest.skip(f"fewer than two runtimes load: {', '.join(skipped) or REFERENCE_RUNTIME + ' missing'}")
    single = {}
    for name, call in calls.items():
        # A fresh session (TorchScript's profiling executor above all) needs more than a few calls to reach
        # its steady plan: call it for the stability budget (at least twice).
        started, count = time.perf_counter(), 0
        while count < 2 or time.perf_counter() - started < config.stability_budget_s:
            call()
            count += 1
        single[name] = (time.perf_counter() - started) / count
    repeat = calls_per_round(single)
    collecting = gc.isenabled()
    gc.disable()  # as in every row's rounds: a collection inside one runtime's turn is noise
    try:
        times = interleaved_rounds(calls, repeat, min_rounds=max(config.min_rounds, MIN_ROUNDS),
                                   budget_s=config.max_time_s, clock=time.perf_counter,
                                   warm=warm_calls(single))
    finally:
        if collecting:
            gc.enable()
    for name in calls:
        if name == REFERENCE_RUNTIME:
            continue
        result = paired_speedup(times[REFERENCE_RUNTIME], times[name], runtime=name,
                                reference=REFERENCE_RUNTIME)
        record_paired({"model": paired_case.model, "device": paired_case.device, "batch": paired_case.size,
                       "calls_per_round": {name: repeat[name], REFERENCE_RUNTIME: repeat[REFERENCE_RUNTIME]},
                       **result.as_dict()})
