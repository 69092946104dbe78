"""The memory probes see known allocations; the roofline probe measures a positive peak."""

import numpy as np
import pytest
import torch

from bench.measure.memory import CpuPeakProbe, CudaAllocatorProbe, cpu_peak_supported, peak_rss_bytes
from bench.measure.roofline import MatmulPeak, measure_matmul_peak, percent_of_peak

MIB = 2**20

pytestmark = pytest.mark.skipif(not cpu_peak_supported(), reason="VmHWM reset needs Linux /proc")


def test_cpu_probe_sees_a_known_allocation():
    n_bytes = 256 * MIB
    with CpuPeakProbe() as probe:
        block = np.ones(n_bytes // 8)  # touched pages: resident, not just reserved
        del block
    peak = probe.figure.peak_bytes
    assert n_bytes * 0.95 <= peak <= n_bytes * 1.10, peak
    assert "VmHWM" in probe.figure.method


def test_cpu_probe_excludes_peaks_before_the_block():
    before = np.ones(512 * MIB // 8)
    del before
    assert peak_rss_bytes() > 400 * MIB
    with CpuPeakProbe() as probe:
        small = np.ones(16 * MIB // 8)
        del small
    assert probe.figure.peak_bytes < 64 * MIB, probe.figure.peak_bytes


@pytest.mark.cuda
def test_cuda_allocator_probe_sees_a_known_allocation():
    n_bytes = 64 * MIB
    with CudaAllocatorProbe() as probe:
        block = torch.empty(n_bytes, dtype=torch.uint8, device="cuda")
        del block
    assert probe.figure.peak_bytes == n_bytes
    assert probe.figure.reserved_bytes >= n_bytes


def test_matmul_peak_and_percent_of_peak():
    peak = measure_matmul_peak(size=256, repeats=3, threads=1)
    assert peak.gflops > 0 and peak.threads == 1 and peak.dtype == "float32"
    fake = MatmulPeak(gflops=100.0, size=1, threads=1, device="cpu", dtype="float32", repeats=1)
    achieved, pct = percent_of_peak(flops=2e9, seconds=0.04, peak=fake)
    assert achieved == pytest.approx(50.0)
    assert pct == pytest.approx(50.0)


def test_worker_process_sees_activation_memory_grow_with_batch(tmp_path):
    from bench.run.memory_worker import measure_in_subprocess
    from train.registry import get_model

    model_dir = tmp_path / "mnist-cnn"
    model_dir.mkdir()
    torch.save(get_model("mnist-cnn").build(seed=0).state_dict(), model_dir / "weights.pt")
    small = measure_in_subprocess("mnist-cnn", "eager", "cpu", 1, model_dir, threads=1, calls=2)
    large = measure_in_subprocess("mnist-cnn", "eager", "cpu", 256, model_dir, threads=1, calls=2)
    # The first conv's output alone at batch 256: 256 × 32 × 26 × 26 float32.
    first_activation = 256 * 32 * 26 * 26 * 4
    assert large["peak_bytes"] - small["peak_bytes"] >= first_activation
    assert large["method"] == small["method"] and "VmHWM" in large["method"]
