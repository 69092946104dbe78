"""Paired timing: interleaved rounds keep machine drift out of the speedup; the interval is honest."""

import math

import pytest

from bench.measure.paired import calls_per_round, interleaved_rounds, paired_speedup


class DriftingMachine:
    """A fake clock; each call costs its base seconds times the machine's current slowdown."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slowdown = 1.0
        self.calls = 0

    def clock(self) -> float:
        return self.now

    def call(self, base_s: float, slow_after: int | None = None, factor: float = 3.0):
        def run() -> None:
            self.calls += 1
            if slow_after is not None and self.calls > slow_after:
                self.slowdown = factor  # a neighbour's job starts: everything gets slower
            self.now += base_s * self.slowdown
        return run


def test_a_slowdown_mid_run_does_not_bias_the_paired_ratio():
    machine = DriftingMachine()
    calls = {"eager": machine.call(2e-3, slow_after=40), "onnxruntime": machine.call(1e-3)}
    times = interleaved_rounds(calls, {"eager": 1, "onnxruntime": 1}, min_rounds=40, budget_s=0,
                               clock=machine.clock, quiet_s=0)
    result = paired_speedup(times["eager"], times["onnxruntime"], runtime="onnxruntime", reference="eager")
    assert machine.slowdown == 3.0  # the drift did happen
    assert result.rounds == 40 and result.speedup == pytest.approx(2.0)
    assert result.ci_low == pytest.approx(2.0) and result.ci_high == pytest.approx(2.0)
    # Timed one after the other, as separate rows, the same drift would read as a 6x speedup.
    sequential = DriftingMachine()
    eager, ort = sequential.call(2e-3), sequential.call(1e-3, slow_after=0)
    first = interleaved_rounds({"eager": eager}, {"eager": 1}, min_rounds=20, budget_s=0,
                               clock=sequential.clock, quiet_s=0)["eager"]
    second = interleaved_rounds({"ort": ort}, {"ort": 1}, min_rounds=20, budget_s=0,
                                clock=sequential.clock, quiet_s=0)["ort"]
    assert (sum(first) / 20) / (sum(second) / 20) == pytest.approx(2.0 / 3.0)


def test_round_order_rotates_and_each_runtime_repeats_to_fill_its_round():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "abc"}
    times = interleaved_rounds(calls, {"a": 1, "b": 2, "c": 1}, min_rounds=3, budget_s=0,
                               clock=iter(range(1000)).__next__, sleep=lambda s: order.append("-"))
    assert "".join(order) == "-a-bb-c" + "-bb-c-a" + "-c-a-bb"  # a quiet gap before every turn
    assert all(len(series) == 3 for series in times.values())


def test_a_switch_cost_is_kept_out_of_the_turn_by_the_quiet_gap_and_the_warm_call():
    """A runtime whose first call after another runtime is slow (spinning pools, cold caches) is timed
    warm: its untimed call absorbs the cost."""
    machine = DriftingMachine()
    last = {"name": None}

    def runtime(name: str, base_s: float):
        def run() -> None:
            cold = last["name"] not in (None, name)
            machine.now += base_s * (3.0 if cold else 1.0)
            last["name"] = name
        return run

    calls = {"eager": runtime("eager", 2e-3), "onnxruntime": runtime("onnxruntime", 1e-3)}
    cold = interleaved_rounds(calls, {"eager": 1, "onnxruntime": 1}, min_rounds=10, budget_s=0,
                              clock=machine.clock, quiet_s=0)
    assert cold["eager"][1] == pytest.approx(6e-3)  # every turn pays the switch
    warm = interleaved_rounds(calls, {"eager": 1, "onnxruntime": 1}, min_rounds=10, budget_s=0,
                              clock=machine.clock, quiet_s=0, warm={"eager": 1, "onnxruntime": 1})
    assert warm["eager"] == pytest.approx([2e-3] * 10) and warm["onnxruntime"] == pytest.approx([1e-3] * 10)


def test_noise_widens_the_interval_around_the_true_ratio():
    import random

    rng = random.Random(1)
    reference = [1.0 * (1 + rng.uniform(-0.2, 0.2)) for _ in range(30)]
    runtime = [0.5 * (1 + rng.uniform(-0.2, 0.2)) for _ in range(30)]
    result = paired_speedup(reference, runtime, runtime="x", reference="eager")
    assert result.ci_low < 2.0 < result.ci_high and result.ci_low < result.speedup < result.ci_high
    assert math.isclose(result.speedup, math.exp(sum(math.log(r) for r in result.ratios) / 30))
    again = paired_speedup(reference, runtime, runtime="x", reference="eager")
    assert (again.ci_low, again.ci_high) == (result.ci_low, result.ci_high)  # seeded


def test_calls_per_round_fill_the_round_target():
    assert calls_per_round({"fast": 1e-4, "slow": 2.0}) == {"fast": 300, "slow": 1}
    with pytest.raises(ValueError):
        paired_speedup([1.0], [1.0], runtime="x", reference="eager")



def test_slow_calls_get_no_warm_call_per_turn():
    from bench.measure.paired import warm_calls

    assert warm_calls({"fast": 1e-4, "medium": 0.1, "slow": 1.4}) == {"fast": 50, "medium": 1, "slow": 0}
