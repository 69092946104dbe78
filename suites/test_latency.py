"""Latency of every model × runtime × size on one device, timed by pytest-benchmark.

Each case loads its runtime's artifact, binds seeded inputs on the device once, checks the output
against eager on those same inputs, warms up, then lets pytest-benchmark time the bound call.
A runtime or provider that cannot run here is a skip with its reason, never a substitute.
"""

from __future__ import annotations

import time

import pytest

from bench.measure.allocator import faults_per_call
from bench.measure.fidelity import independent_timing
from bench.measure.harness import time_call
from bench.records.schema import (
    RowKey,
    case_info,
    first_result_info,
    latency_info,
    memory_info,
    roofline_info,
    stability_info,
    warmup_info,
)
from bench.run.memory_worker import measure_in_subprocess
from bench.run.selection import Case
from bench.runtimes import RuntimeUnavailable, get_runtime
from train.registry import get_model


def test_latency(benchmark, case: Case, suite, matmul_peak, hardware_peak,
                 request: pytest.FixtureRequest) -> None:
    from export.parity import compare_outputs, quantized_tolerance, tolerance

    config = suite.config
    spec, runtime = get_model(case.model), get_runtime(case.runtime)
    artifacts = suite.artifacts(spec)
    try:
        session, load_s, reused = suite.load_timed(spec, runtime)
    except RuntimeUnavailable as exc:
        pytest.skip(str(exc))

    inputs = suite.inputs(spec, case.size)
    timed_call = suite.timed_call(session, inputs)
    call, fetch, timing_scope = timed_call.call, timed_call.fetch, timed_call.scope
    size = f"{case.size} nodes" if case.is_graph else f"batch {case.size}"
    checked_on = f"{size}, seed {config.seed}, on {session.details.device}, output of the timed call"
    atol, rtol = tolerance(config.precision)
    reference = suite.reference(spec, case.size)
    if runtime.quantized:  # int8: judged by accuracy (bench accuracy); parity catches only gross errors
        atol, rtol = quantized_tolerance(reference)
    # The first call, timed alone (a deployment's first answer: lazy initialisation, a recompile for a new
    # size); the very call that is timed is the one checked: its output copied back untimed.
    started = time.perf_counter()
    first = call()
    first_call_s = time.perf_counter() - started
    parity = compare_outputs(reference, fetch(first), atol=atol, rtol=rtol, checked_on=checked_on)
    benchmark.group = case.group
    key = RowKey(case.model, case.runtime, case.device, case.size)
    benchmark.extra_info.update(case_info(key, case.unit, parity=parity.as_dict(),
                                          details=session.details.as_dict(), weights=artifacts.weights,
                                          timing_scope=timing_scope, precision=config.policy.as_dict()))
    export_s, exporter = artifacts.made.get(runtime.export_format or "", (None, "none: weights.pt only"))
    if suite.inputs_label(spec, case.size):
        benchmark.extra_info["inputs"] = suite.inputs_label(spec, case.size)
    benchmark.extra_info.update(first_result_info(
        export_s=export_s, export_what=exporter if export_s is None else f"{exporter} (manifest)",
        load_s=load_s, compile_s=session.details.prepare_s, first_call_s=first_call_s, reused_session=reused))
    benchmark_warmup = bool(request.config.getoption("benchmark_warmup"))
    timed = time_call(benchmark, call, fixed_warmup=config.warmup, budget_s=config.stability_budget_s,
                      benchmark_warmup=benchmark_warmup)
    if timed is None:  # --benchmark-disable: nothing was timed
        return
    report = session.report()  # after the rounds: e.g. recompiles they caused
    if report:
        benchmark.extra_info["runtime_report"] = report
    info = latency_info(timed.samples, items=case.size, iterations=timed.iterations)
    benchmark.extra_info.update(info)
    benchmark.extra_info.update(warmup_info(timed.warmup, timed.warmup_settled))
    benchmark.extra_info.update(stability_info(timed.samples, timed.extra_rounds))
    # Counted on calls of their own after the rounds (the timed call is left as it is): the allocator's
    # share of the time shows here (bench.measure.allocator).
    faults = faults_per_call(call, info["p50_ms"] / 1e3)
    if faults is not None:
        benchmark.extra_info["page_faults_per_call"] = round(faults, 1)
    benchmark.extra_info["allocator"] = suite.allocator
    flops = suite.flops(spec, case.size)
    if not runtime.quantized:  # int8 arithmetic measured against fp32 peaks would read as >100 %
        benchmark.extra_info.update(roofline_info(flops, info["p50_ms"] / 1e3, matmul_peak, hardware_peak))
    if config.memory:
        figure = measure_in_subprocess(case.model, case.runtime, str(suite.device), case.size,
                                       artifacts.model_dir, config.threads, trust=config.trust,
                                       precision=config.policy, options=config.options_for(case.runtime),
                                       data_dir=config.data_dir, seed=config.seed)
        benchmark.extra_info.update(memory_info(figure))
    if config.verify_timing and suite.device.type == "cpu":
        raw = runtime.raw_call(artifacts.model_dir / runtime.artifact, inputs, config.threads)
        check, method = raw if raw is not None else (call, "the loaded module's bound call")
        second = independent_timing(check, method, min_run_time_s=config.max_time_s, threads=config.threads)
        benchmark.extra_info["independent_timing"] = second.as_dict(info["p50_ms"] / 1e3)
    if runtime.quantized:  # its speed is bought with precision: the row shows what accuracy it kept
        benchmark.extra_info["accuracy"] = suite.accuracy(spec, runtime)
    if not parity.passed:
        # After timing, so the row keeps its figures; a failed row gets no speedup, fails compare and the run.
        pytest.fail(f"parity failed on {checked_on}: max abs {parity.max_abs:.3g} > atol {atol:g} + "
                    f"rtol {rtol:g}·|eager|, argmax agreement {parity.argmax_agreement:.1%}", pytrace=False)
