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


def test_the_run_measures_torch_at_each_size_and_onnxruntime_on_the_cpu():
    from bench.measure.roofline import best_gemm

    peaks = best_gemm("cpu", 1, (64, 128), repeats=2)
    assert [(p.engine, p.size, p.threads, p.precision) for p in peaks] == [
        ("torch", 64, 1, "fp32"), ("torch", 128, 1, "fp32"), ("onnxruntime", 128, 1, "fp32")]
    assert measure_matmul_peak(size=64, repeats=2, threads=1).engine == "torch"


def test_percent_of_peak_arithmetic():
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
    assert large["inference_bytes"] - small["inference_bytes"] >= first_activation
    assert large["load_bytes"] < first_activation  # loading the model does not see the batch
    assert large["method"] == small["method"] and "VmHWM" in large["method"]


def test_flops_match_a_hand_count_and_follow_the_exported_architecture():
    from bench.measure.flops import count_flops
    from train.registry import get_model

    # mnist-cnn at batch 1, 2 FLOPs per multiply-add, biases not counted:
    # conv1 26·26·32·9·1, conv2 24·24·64·9·32, fc1 9216·128, fc2 128·10 multiply-adds.
    hand = 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 9 * 32 + 9216 * 128 + 128 * 10)
    assert hand == 23_984_896 and count_flops(get_model("mnist-cnn"), 1) == hand
    esc = get_model("esc50-cnn")
    assert count_flops(esc, 1, {"kernel_size": 3}) < count_flops(esc, 1)  # 3x3 kernels: fewer than 5x5


def test_the_theoretical_cpu_peak_names_its_inputs():
    from bench.measure.hardware import cpu_peak

    cpuinfo = "model name\t: Test\nflags\t\t: fpu sse4_2 avx avx2 fma\ncpu MHz\t\t: 2000.000\n"
    peak = cpu_peak(1, cpuinfo=cpuinfo)
    assert peak.inputs["vector_isa"] == "AVX2" and peak.inputs["flop_per_cycle_per_core"] == 32
    assert peak.gflops == pytest.approx(1 * 32 * 2.0) and "current clock" in peak.inputs["clock_source"]
    avx512 = cpu_peak(1, cpuinfo=cpuinfo.replace("avx2", "avx2 avx512f"), max_freq_khz=3_000_000)
    assert avx512.gflops == pytest.approx(64 * 3.0) and avx512.inputs["clock_source"].startswith("cpufreq")


def test_load_and_inference_peaks_are_told_apart():
    from bench.measure.memory import measure_phases

    def load_64_mib():
        weights = np.ones(64 * MIB // 8)  # 64 MiB held by the "model"
        return lambda: weights.sum()

    phases = measure_phases(load_64_mib, device="cpu", calls=3)
    # RSS is counted in pages above a baseline read once: within a few hundred KiB of the array.
    assert phases.load.peak_bytes >= 60 * MIB and phases.inference.peak_bytes >= 60 * MIB  # still resident
    nothing = measure_phases(lambda: (lambda: None), device="cpu", calls=3)
    assert nothing.load.peak_bytes < 8 * MIB and nothing.inference.peak_bytes < 8 * MIB

    def transient_load():
        scratch = np.ones(64 * MIB // 8)  # freed before inference: a load transient
        del scratch
        return lambda: None

    transient = measure_phases(transient_load, device="cpu", calls=3)
    assert transient.load.peak_bytes >= 60 * MIB and transient.inference.peak_bytes < 8 * MIB


def test_nvml_is_asked_for_the_cuda_device_by_pci_bus_id(monkeypatch):
    import sys
    import types

    from bench.measure import memory

    asked = []
    fake = types.SimpleNamespace(nvmlDeviceGetHandleByPciBusId=lambda bus: asked.append(bus) or "handle")
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    props = types.SimpleNamespace(pci_domain_id=0, pci_bus_id=0x65, pci_device_id=0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    assert memory.nvml_handle(1) == "handle" and asked == ["00000000:65:00.0"]
