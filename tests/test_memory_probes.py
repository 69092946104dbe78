"""The memory probes see known allocations; the roofline probe measures a positive peak."""

import numpy as np
import pytest
import torch

from bench.memory import CpuPeakProbe, CudaAllocatorProbe, cpu_peak_supported, peak_rss_bytes
from bench.roofline import MatmulPeak, measure_matmul_peak, percent_of_peak

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
