"""Latency of every model × runtime × size on one device, timed by pytest-benchmark.

Each case loads its runtime's artifact, binds seeded inputs on the device once, checks the output
against eager on those same inputs, warms up, then lets pytest-benchmark time the bound call.
A runtime or provider that cannot run here is a skip with its reason, never a substitute.
"""

from __future__ import annotations

import time

import pytest

from bench.memory_worker import measure_in_subprocess
from bench.results import latency_info, memory_info, roofline_info, stability_info
from bench.runtimes import RuntimeUnavailable, get_runtime
from bench.selection import Case
from bench.stability import extend_until_stable, warm_until_stable
from train.registry import get_model


def test_latency(benchmark, case: Case, suite, matmul_peak, request: pytest.FixtureRequest) -> None:
    from export.parity import DEFAULT_ATOL, DEFAULT_RTOL, compare_outputs

    config = suite.config
    spec, runtime = get_model(case.model), get_runtime(case.runtime)
    artifacts = suite.artifacts(spec)
    reason = artifacts.unavailable_reason(runtime.export_format)
    if reason:
        pytest.skip(f"{runtime.name}: {reason}")
    try:
        session = runtime.load(spec, artifacts.model_dir, config.device, config.threads, trust=config.trust)
    except RuntimeUnavailable as exc:
        pytest.skip(str(exc))

    inputs = suite.inputs(spec, case.size)
    if config.include_transfer:
        # Host→device→host every call: CPU inputs in, output copied back to the CPU (a synchronising copy).
        def call() -> None:
            session.run(inputs)
        timing_scope = "host→device→host: CPU inputs copied in and output copied back on every call"
    else:
        call = session.bind(inputs)
        timing_scope = "device-resident inputs bound once; output left on the device; synchronised per call"
    size = f"{case.size} nodes" if case.is_graph else f"batch {case.size}"
    checked_on = f"{size}, seed {config.seed}, on {session.details.device}"
    parity = compare_outputs(suite.reference(spec, case.size), session.run(inputs),
                             atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL, checked_on=checked_on)
    # First calls pay for kernel selection, allocation and JIT profiling: never time them. A fixed count
    # first (pytest-benchmark's warm-up count when `bench run` turns it on, else --bench-warmup) ...
    benchmark_warmup = request.config.getoption("benchmark_warmup")
    fixed = request.config.getoption("benchmark_warmup_iterations") if benchmark_warmup else config.warmup
    for _ in range(fixed):
        call()
    # ... then until call times settle (bounded): a fixed count is too few for some runtimes.
    settled = warm_until_stable(call, budget_s=config.stability_budget_s)
    warmup = (f"{fixed} untimed calls, then {settled.calls} more until the median of the last 5 moved < 5 %"
              if settled.settled else f"{fixed} untimed calls, then {settled.calls} more (times not settled "
              f"within {config.stability_budget_s:g} s)")
    if benchmark_warmup:
        warmup += "; then pytest-benchmark's own warm-up"

    benchmark.group = case.group
    benchmark.extra_info.update({
        "model": case.model, "runtime": case.runtime, "device": case.device,
        "batch": case.size, "unit": case.unit,
        "parity": parity.as_dict(),
        "artifact_bytes": session.details.artifact_bytes,
        "threads": session.details.threads,
        "interop_threads": session.details.interop_threads,
        "providers": list(session.details.providers),
        "runtime_device": session.details.device,
        "recipe": session.details.recipe,
        "weights": artifacts.weights,
        "warmup": warmup,
        "warmup_settled": settled.settled,
        "timing_scope": timing_scope,
    })
    benchmark(call)
    if benchmark.stats is None:  # None under --benchmark-disable: nothing was timed
        return
    samples, iterations = benchmark.stats.stats.data, benchmark.stats.iterations

    def take_round() -> float:
        """One more round the way pytest-benchmark times it: `iterations` calls, seconds per call."""
        start = time.perf_counter()
        for _ in range(iterations):
            call()
        return (time.perf_counter() - start) / iterations

    # Noisy rows get more rounds, appended to pytest-benchmark's own samples (its stats are computed from
    # them when the JSON is written, so p50 and the JSON's stats agree).
    extra = extend_until_stable(take_round, samples, budget_s=config.stability_budget_s)
    info = latency_info(samples, items=case.size, iterations=iterations)
    benchmark.extra_info.update(info)
    benchmark.extra_info.update(stability_info(samples, extra))
    flops = suite.flops(spec, case.size)
    benchmark.extra_info.update(roofline_info(flops, info["p50_ms"] / 1e3, matmul_peak))
    if config.memory:
        figure = measure_in_subprocess(case.model, case.runtime, str(config.device), case.size,
                                       artifacts.model_dir, config.threads)
        benchmark.extra_info.update(memory_info(figure))
