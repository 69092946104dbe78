"""The theoretical fp32 peak of the hardware a run uses, with every input it was computed from.

CPU: cores used × FMA units per core × fp32 lanes per vector × 2 FLOP per FMA × clock. The vector width
and FMA support come from /proc/cpuinfo's flags, the clock from cpufreq's maximum (else the current
`cpu MHz`, which the inputs say), the FMA units per core are an assumption (2: every x86 core of the last
decade with AVX2 or AVX-512 and FMA has two, but some AVX-512 parts run one 512-bit unit) shown beside it.
CUDA: SMs × fp32 lanes per SM (by compute capability) × 2 × the maximum SM clock (NVML); tensor cores are
not counted, so this is the peak of plain fp32 work, not of TF32.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

_CPUINFO = Path("/proc/cpuinfo")
_MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
FMA_UNITS_PER_CORE = 2  # the assumption named in every figure's inputs
# fp32 lanes (CUDA cores) per SM by compute capability major.minor; absent: unknown.
_CUDA_FP32_PER_SM = {(6, 0): 64, (6, 1): 128, (7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128,
                     (8, 9): 128, (9, 0): 128, (10, 0): 128, (12, 0): 128}


@dataclass(frozen=True)
class HardwarePeak:
    """A theoretical fp32 peak (GFLOP/s; None when an input is unknown) and the inputs behind it."""

    gflops: float | None
    device: str
    inputs: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def cpu_peak(threads: int, cpuinfo: str | None = None, max_freq_khz: int | None = None) -> HardwarePeak:
    """The CPU's fp32 peak with `threads` threads (one per physical core counted at most)."""
    import psutil

    if cpuinfo is None:
        cpuinfo = _CPUINFO.read_text(errors="replace") if _CPUINFO.exists() else ""
    text = cpuinfo
    flags = set((_field(text, "flags") or "").split())
    lanes, isa = (16, "AVX-512") if "avx512f" in flags else (8, "AVX2") if "avx2" in flags else \
        (8, "AVX") if "avx" in flags else (4, "SSE")
    fma = "fma" in flags
    if max_freq_khz is None and _MAX_FREQ.exists():
        max_freq_khz = int(_MAX_FREQ.read_text().strip())
    if max_freq_khz:
        ghz, clock_source = max_freq_khz / 1e6, "cpufreq cpuinfo_max_freq"
    else:
        mhz = _field(text, "cpu MHz")
        ghz, clock_source = (float(mhz) / 1e3, "/proc/cpuinfo cpu MHz (current clock; no cpufreq here)") \
            if mhz else (None, "unknown")
    cores = min(threads, psutil.cpu_count(logical=False) or threads)
    flop_per_cycle = FMA_UNITS_PER_CORE * lanes * (2 if fma else 1)
    inputs = {"cores_used": cores, "vector_isa": isa, "fp32_lanes": lanes, "fma": fma,
              "fma_units_per_core": f"{FMA_UNITS_PER_CORE} (assumed)",
              "flop_per_cycle_per_core": flop_per_cycle,
              "clock_ghz": None if ghz is None else round(ghz, 3), "clock_source": clock_source}
    gflops = None if ghz is None else cores * flop_per_cycle * ghz
    return HardwarePeak(gflops, "cpu", inputs)


def cuda_peak(index: int) -> HardwarePeak:
    """The GPU's plain fp32 peak (no tensor cores) from its properties and NVML's maximum SM clock."""
    import torch

    props = torch.cuda.get_device_properties(index)
    lanes = _CUDA_FP32_PER_SM.get((props.major, props.minor))
    mhz, clock_source = _nvml_max_sm_clock(index)
    inputs = {"gpu": props.name, "compute_capability": f"{props.major}.{props.minor}",
              "sms": props.multi_processor_count, "fp32_lanes_per_sm": lanes,
              "max_sm_clock_mhz": mhz, "clock_source": clock_source, "tensor_cores": "not counted"}
    gflops = None if lanes is None or mhz is None else props.multi_processor_count * lanes * 2 * mhz / 1e3
    return HardwarePeak(gflops, f"cuda:{index}", inputs)


def _nvml_max_sm_clock(index: int) -> tuple[float | None, str]:
    """The maximum SM clock in MHz from NVML, or (None, why)."""
    try:
        import pynvml

        from bench.measure.memory import nvml_handle

        pynvml.nvmlInit()
        try:
            handle = nvml_handle(index)
            return float(pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)), "NVML max SM clock"
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # noqa: BLE001 - no NVML, no driver: the peak is unknown, and says why
        return None, f"unknown ({type(exc).__name__})"


def _field(cpuinfo: str, name: str) -> str | None:
    """The first `name : value` of /proc/cpuinfo."""
    match = re.search(rf"^{re.escape(name)}\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    return match.group(1).strip() if match else None
