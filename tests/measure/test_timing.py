"""Timing with a fake clock and a fake asynchronous device: waits happen before the clock is read."""

import pytest
import torch

from bench.measure.clock import synchronized, time_calls
from bench.measure.harness import time_call
from bench.runtimes.base import RuntimeDetails
from bench.runtimes.torch_session import TorchSession


class FakeGpu:
    """Kernels queue work that only advances the clock when someone synchronises (like CUDA)."""

    def __init__(self, costs):
        self.costs = list(costs)
        self.now = 0.0
        self.pending = 0.0
        self.log = []

    def clock(self) -> float:
        self.log.append("clock")
        return self.now

    def launch(self, *args):
        self.log.append("launch")
        self.pending += self.costs.pop(0)  # returns at once: the work is only queued

    def synchronize(self):
        self.log.append("sync")
        self.now += self.pending
        self.pending = 0.0


def test_measure_times_only_post_warmup_calls_and_waits_for_the_device():
    gpu = FakeGpu([100.0, 100.0, 1.0, 2.0, 3.0])  # two slow warm-up calls, then three timed
    samples = time_calls(gpu.launch, warmup=2, repeats=3, synchronize=gpu.synchronize, clock=gpu.clock)
    assert samples == [1.0, 2.0, 3.0]
    # No clock read during warm-up; the warm-up queue is drained before the first timed call.
    assert gpu.log[:4] == ["launch", "launch", "sync", "clock"]
    assert gpu.log[3:] == ["clock", "launch", "sync", "clock"] * 3


def test_without_a_synchroniser_the_clock_sees_only_launches():
    # The negative control: this is the wrong number the synchroniser exists to prevent.
    gpu = FakeGpu([5.0])
    assert time_calls(gpu.launch, warmup=0, repeats=1, synchronize=lambda: None, clock=gpu.clock) == [0.0]


def test_synchronized_call_waits_before_returning_so_an_outer_clock_is_right():
    gpu = FakeGpu([7.0])
    call = synchronized(gpu.launch, gpu.synchronize)
    start = gpu.clock()
    call()  # what pytest-benchmark's timer wraps
    assert gpu.clock() - start == 7.0
    assert gpu.log == ["clock", "launch", "sync", "clock"]


def test_bound_torch_session_call_synchronises_after_the_forward():
    gpu = FakeGpu([4.0, 4.0])

    def module(x):
        gpu.launch()
        return x

    details = RuntimeDetails("fake", "cuda:0", 1, 1, (), "", "", 0)
    session = TorchSession(module, torch.device("cpu"), details, synchronize=gpu.synchronize)
    call = session.bind([torch.zeros(1)])
    gpu.log.clear()
    call()
    assert gpu.log == ["launch", "sync"]


def test_measure_rejects_nonsense_counts():
    with pytest.raises(ValueError):
        time_calls(lambda: None, repeats=0, synchronize=lambda: None)


def test_foreign_cpu_share_from_hand_made_snapshots():
    from bench.measure.contention import CpuSnapshot, foreign_share

    # 10 s on 2 CPUs = 20 CPU-s; 15 CPU-s busy, 3 of them ours: others took 12/20.
    assert foreign_share(CpuSnapshot(0.0, 10.0, 1.0), CpuSnapshot(10.0, 25.0, 4.0), cpus=2) == 0.6
    assert foreign_share(CpuSnapshot(0.0, 0.0, 0.0), CpuSnapshot(1.0, 0.0, 5.0), cpus=2) == 0.0  # clamped


def test_another_process_busy_on_one_core_shows_as_foreign_load():
    """A real neighbour: a busy loop in a process this one has not reaped, so its CPU is not ours."""
    import subprocess
    import sys
    import time

    import psutil

    from bench.measure.contention import foreign_share, snapshot

    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        before = snapshot()
        time.sleep(1.0)
        after = snapshot()
    finally:
        neighbour.kill()
        neighbour.wait()
    # One core of psutil.cpu_count(): about 1/n of the machine, whatever else runs beside it.
    assert foreign_share(before, after) >= 0.5 / psutil.cpu_count()


class FakeBenchmark:
    """pytest-benchmark's fixture reduced to what the harness uses: timed rounds of one call each."""

    def __init__(self, clock, rounds: int):
        self.clock, self.rounds, self.stats = clock, rounds, None

    def __call__(self, fn):
        from types import SimpleNamespace

        data = []
        for _ in range(self.rounds):
            start = self.clock()
            fn()
            data.append(self.clock() - start)
        self.stats = SimpleNamespace(stats=SimpleNamespace(data=data), iterations=1)


def test_harness_never_times_warmup_and_syncs_before_every_clock_read():
    # Ten slow fixed warm-up calls, then steady calls of 1.0: warm-up until stable needs 10 of them.
    gpu = FakeGpu([100.0] * 10 + [1.0] * 30)
    call = synchronized(gpu.launch, gpu.synchronize)  # what a runtime's bind() returns
    bench = FakeBenchmark(gpu.clock, rounds=5)
    timed = time_call(bench, call, fixed_warmup=10, budget_s=1e6, benchmark_warmup=False, clock=gpu.clock)
    assert timed.samples == [1.0] * 5 and timed.extra_rounds == 0 and timed.warmup_settled
    assert timed.warmup.startswith("10 untimed calls, then 10 more")
    # The five timed rounds come after all 20 warm-up calls (10 fixed, 10 until stable), and every launch
    # is drained before the clock is read again, so each sample is device time, not launch time.
    launches = [i for i, event in enumerate(gpu.log) if event == "launch"]
    assert len(launches) == 25
    first_timed = launches[20] - 1
    assert gpu.log[first_timed:first_timed + 20] == ["clock", "launch", "sync", "clock"] * 5
    assert all(gpu.log[i + 1] == "sync" for i, event in enumerate(gpu.log) if event == "launch")


def test_harness_adds_rounds_to_a_noisy_row_through_the_same_synchronised_call():
    gpu = FakeGpu([1.0] * 11 + [1.0, 3.0, 1.0, 3.0, 1.0] + [1.0] * 50)  # noisy timed rounds, then steady
    call = synchronized(gpu.launch, gpu.synchronize)
    timed = time_call(FakeBenchmark(gpu.clock, rounds=5), call, fixed_warmup=1, budget_s=1e6,
                      benchmark_warmup=False, clock=gpu.clock)
    assert timed.extra_rounds == 5 and timed.samples == [1.0, 3.0, 1.0, 3.0, 1.0] + [1.0] * 5


def test_warmup_zero_times_the_very_first_call():
    gpu = FakeGpu([9.0] + [1.0] * 20)  # a cold first call
    call = synchronized(gpu.launch, gpu.synchronize)
    timed = time_call(FakeBenchmark(gpu.clock, rounds=5), call, fixed_warmup=0, budget_s=1e6,
                      benchmark_warmup=False, clock=gpu.clock)
    assert timed.samples[0] == 9.0 and timed.warmup == "none (--warmup 0)"


def test_extra_rounds_run_with_the_garbage_collector_off(monkeypatch):
    import gc

    seen = []
    gpu = FakeGpu([1.0] * 11 + [1.0, 3.0, 1.0, 3.0, 1.0] + [1.0] * 50)

    def launch() -> None:
        seen.append(gc.isenabled())
        gpu.launch()

    bench = FakeBenchmark(gpu.clock, rounds=5)
    timed = time_call(bench, synchronized(launch, gpu.synchronize), fixed_warmup=1, budget_s=1e6,
                      benchmark_warmup=False, clock=gpu.clock)
    assert timed.extra_rounds == 5 and seen[-5:] == [False] * 5 and gc.isenabled()


def test_harness_cuts_the_fixed_warmup_short_for_a_slow_call():
    gpu = FakeGpu([5.0] * 40)  # each call outlasts the 3 s budget
    call = synchronized(gpu.launch, gpu.synchronize)
    timed = time_call(FakeBenchmark(gpu.clock, rounds=5), call, fixed_warmup=10, budget_s=3.0,
                      benchmark_warmup=False, clock=gpu.clock)
    assert timed.warmup.startswith("1 untimed calls, then 1 more (times not settled")
    assert timed.samples == [5.0] * 5
