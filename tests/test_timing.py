"""Timing with a fake clock and a fake asynchronous device: waits happen before the clock is read."""

import pytest
import torch

from bench.runtimes.base import RuntimeDetails
from bench.runtimes.torch_session import TorchSession
from bench.timing import measure, synchronized


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
    samples = measure(gpu.launch, warmup=2, repeats=3, synchronize=gpu.synchronize, clock=gpu.clock)
    assert samples == [1.0, 2.0, 3.0]
    # No clock read during warm-up; the warm-up queue is drained before the first timed call.
    assert gpu.log[:4] == ["launch", "launch", "sync", "clock"]
    assert gpu.log[3:] == ["clock", "launch", "sync", "clock"] * 3


def test_without_a_synchroniser_the_clock_sees_only_launches():
    # The negative control: this is the wrong number the synchroniser exists to prevent.
    gpu = FakeGpu([5.0])
    assert measure(gpu.launch, warmup=0, repeats=1, synchronize=lambda: None, clock=gpu.clock) == [0.0]


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
        measure(lambda: None, repeats=0, synchronize=lambda: None)


def test_foreign_cpu_share_from_hand_made_snapshots():
    from bench.contention import CpuSnapshot, foreign_share, snapshot

    # 10 s on 2 CPUs = 20 CPU-s; 15 CPU-s busy, 3 of them ours: others took 12/20.
    assert foreign_share(CpuSnapshot(0.0, 10.0, 1.0), CpuSnapshot(10.0, 25.0, 4.0), cpus=2) == 0.6
    assert foreign_share(CpuSnapshot(0.0, 0.0, 0.0), CpuSnapshot(1.0, 0.0, 5.0), cpus=2) == 0.0  # clamped
    now = snapshot()
    assert 0.0 <= foreign_share(now, snapshot()) <= 1.0
