"""Peak-memory probes. Each returns bytes and names its method; none prints.

CPU: Linux's resident high-water mark (VmHWM), reset through /proc/self/clear_refs just before
the measured run, so the figure covers that run only and not imports or earlier rows.
CUDA: the torch caching allocator's peaks for torch runtimes; NVML device memory for ONNX Runtime,
whose allocations the torch allocator never sees.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class MemoryFigure:
    """One peak-memory reading: bytes above the baseline, and how it was taken."""

    peak_bytes: int
    method: str
    baseline_bytes: int | None = None
    reserved_bytes: int | None = None  # CUDA allocator only: peak reserved by the caching allocator


def _status_kib(field: str) -> int:
    """A `kB` field of /proc/self/status, in KiB."""
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{field} not found in {_STATUS}")
    return int(match.group(1))


def rss_bytes() -> int:
    """Current resident set size of this process, bytes."""
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Resident high-water mark of this process since start or the last reset, bytes."""
    return _status_kib("VmHWM") * 1024


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write '5' to clear_refs)."""
    _CLEAR_REFS.write_text("5")


def cpu_peak_supported() -> bool:
    """True where VmHWM can be read and reset (Linux)."""
    return _STATUS.exists() and _CLEAR_REFS.exists()


class CpuPeakProbe:
    """Context manager: peak RSS during the block, above the RSS at entry (`baseline`)."""

    method = "process RSS high-water mark (VmHWM) above baseline"

    def __init__(self, baseline_bytes: int | None = None) -> None:
        self._baseline = baseline_bytes
        self.figure: MemoryFigure | None = None

    def __enter__(self) -> CpuPeakProbe:
        if self._baseline is None:
            self._baseline = rss_bytes()
        reset_peak_rss()
        return self

    def __exit__(self, *exc) -> None:
        peak = peak_rss_bytes() - self._baseline
        self.figure = MemoryFigure(max(peak, 0), self.method, self._baseline)


class CudaAllocatorProbe:
    """Context manager: torch caching-allocator peak allocated/reserved during the block."""

    method = "torch CUDA allocator peak (max_memory_allocated above baseline)"

    def __init__(self, device: str = "cuda", baseline_bytes: int | None = None) -> None:
        self.device = device
        self._baseline = baseline_bytes
        self.figure: MemoryFigure | None = None

    def __enter__(self) -> CudaAllocatorProbe:
        import torch

        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        if self._baseline is None:
            self._baseline = torch.cuda.memory_allocated(self.device)
        return self

    def __exit__(self, *exc) -> None:
        import torch

        torch.cuda.synchronize(self.device)
        peak = torch.cuda.max_memory_allocated(self.device) - self._baseline
        reserved = torch.cuda.max_memory_reserved(self.device)
        self.figure = MemoryFigure(max(peak, 0), self.method, self._baseline, reserved)


class NvmlPeakProbe:
    """Context manager: NVML device-memory peak above baseline, polled from a thread.

    NVML sees every allocation on the device (ONNX Runtime's arena included) but only as often as
    it is polled, so short spikes between polls can be missed; the method string says so.
    """

    def __init__(self, device_index: int = 0, interval_s: float = 0.001, baseline_bytes: int | None = None):
        self.device_index = device_index  # CUDA ordinal (what torch and ONNX Runtime call the device)
        self.interval_s = interval_s
        self._baseline = baseline_bytes
        self.figure: MemoryFigure | None = None
        self.method = f"NVML device memory used, polled every {interval_s * 1e3:g} ms, above baseline"

    def __enter__(self) -> NvmlPeakProbe:
        import pynvml

        pynvml.nvmlInit()
        self._handle = nvml_handle(self.device_index)
        if self._baseline is None:
            self._baseline = self._used()
        self._peak = self._used()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _used(self) -> int:
        import pynvml

        return int(pynvml.nvmlDeviceGetMemoryInfo(self._handle).used)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._used())
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc) -> None:
        import pynvml

        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._used())
        pynvml.nvmlShutdown()
        self.figure = MemoryFigure(max(self._peak - self._baseline, 0), self.method, self._baseline)


def nvml_handle(cuda_index: int):
    """The NVML handle of CUDA device `cuda_index`, found by its PCI bus id: NVML numbers every GPU of the
    machine, CUDA only the visible ones (CUDA_VISIBLE_DEVICES), so the two ordinals can differ."""
    import pynvml
    import torch

    props = torch.cuda.get_device_properties(cuda_index)
    bus_id = f"{props.pci_domain_id:08x}:{props.pci_bus_id:02x}:{props.pci_device_id:02x}.0"
    return pynvml.nvmlDeviceGetHandleByPciBusId(bus_id)


def probe_for(device: str, cuda_method: str = "allocator", baseline_bytes: int | None = None):
    """The probe that measures peak memory on `device`: RSS on the CPU; on CUDA the torch allocator or, for
    runtimes with their own allocator, NVML (`cuda_method`: a Runtime's `cuda_memory`). Peaks are above
    `baseline_bytes` (default: what is in use when the probe starts)."""
    import torch

    where = torch.device(device)
    if where.type != "cuda":
        return CpuPeakProbe(baseline_bytes=baseline_bytes if baseline_bytes is not None else rss_bytes())
    if cuda_method == "nvml":
        return NvmlPeakProbe(where.index or 0, baseline_bytes=baseline_bytes)
    if cuda_method == "allocator":
        return CudaAllocatorProbe(str(where), baseline_bytes=baseline_bytes)
    raise ValueError(f"unknown CUDA memory method {cuda_method!r}; expected 'allocator' or 'nvml'")


def in_use_bytes(device: str, cuda_method: str = "allocator") -> int:
    """What the probe for `device` counts as in use right now (a baseline shared by several probes)."""
    import torch

    where = torch.device(device)
    if where.type != "cuda":
        return rss_bytes()
    if cuda_method == "nvml":
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetMemoryInfo(nvml_handle(where.index or 0)).used)
        finally:
            pynvml.nvmlShutdown()
    return int(torch.cuda.memory_allocated(where))


@dataclass(frozen=True)
class PhasePeaks:
    """Peak memory of loading a model (and binding its inputs) and of running it, both above one baseline
    taken after the imports: the inference figure starts from a high-water mark reset after load and
    warm-up, so load-time transients (state dict copies, graph optimisation) are not in it."""

    load: MemoryFigure
    inference: MemoryFigure


def measure_phases(load: Callable[[], Callable[[], object]], *, device: str, cuda_method: str = "allocator",
                   calls: int = 5, warmup: int = 2) -> PhasePeaks:
    """`load()` returns the bound call; its peak, then (after `warmup` calls) the peak over `calls` calls."""
    baseline = in_use_bytes(device, cuda_method)
    with probe_for(device, cuda_method, baseline) as loading:
        call = load()
    for _ in range(warmup):
        call()
    with probe_for(device, cuda_method, baseline) as inferring:
        for _ in range(calls):
            call()
    return PhasePeaks(loading.figure, inferring.figure)
