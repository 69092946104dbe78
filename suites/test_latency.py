"""Latency of every model × runtime × size on one device, timed by pytest-benchmark.

Each case loads its runtime's artifact, binds seeded inputs on the device once, checks the output
against eager on those same inputs, warms up, then lets pytest-benchmark time the bound call.
A runtime or provider that cannot run here is a skip with its reason, never a substitute.
"""

from __future__ import annotations

import pytest

from bench.results import latency_info
from bench.runtimes import RuntimeUnavailable, get_runtime
from bench.selection import Case
from train.registry import get_model


def test_latency(benchmark, case: Case, suite, request: pytest.FixtureRequest) -> None:
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
    call = session.bind(inputs)
    size = f"{case.size} nodes" if case.is_graph else f"batch {case.size}"
    checked_on = f"{size}, seed {config.seed}, on {session.details.device}"
    parity = compare_outputs(suite.reference(spec, case.size), session.run(inputs),
                             atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL, checked_on=checked_on)
    # First calls pay for kernel selection, allocation and JIT profiling: never time them. `bench run`
    # turns pytest-benchmark's own warm-up on; run alone without it, warm up here instead.
    if request.config.getoption("benchmark_warmup"):
        calls = request.config.getoption("benchmark_warmup_iterations")
        warmup = f"pytest-benchmark warm-up, up to {calls} calls"
    else:
        for _ in range(config.warmup):
            call()
        warmup = f"{config.warmup} untimed calls before pytest-benchmark"

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
    })
    benchmark(call)
    if benchmark.stats is not None:  # None under --benchmark-disable: nothing was timed
        benchmark.extra_info.update(
            latency_info(benchmark.stats.stats.data, items=case.size, iterations=benchmark.stats.iterations)
        )
