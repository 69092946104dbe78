"""The machine's measured matmul peak, the denominator of every row's '% of peak'."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from bench.measure.clock import time_calls


@dataclass(frozen=True)
class MatmulPeak:
    """Best sustained GFLOP/s of a square fp32 matmul, and how it was measured."""

    gflops: float
    size: int
    threads: int
    device: str
    dtype: str
    repeats: int
    precision: str = "fp32"  # "tf32" when the matmul ran on CUDA with TF32 allowed (the run's policy)


def measure_matmul_peak(device: str = "cpu", *, size: int = 2048, repeats: int = 10,
                        threads: int | None = None, dtype: torch.dtype = torch.float32,
                        synchronize: Callable[[], None] | None = None) -> MatmulPeak:
    """GFLOP/s of the fastest of `repeats` size×size matmuls (after one warm-up), same threads as rows."""
    if threads is not None:
        torch.set_num_threads(threads)
    sync = synchronize or (torch.cuda.synchronize if device.startswith("cuda") else (lambda: None))
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    # One warm-up call: BLAS thread pool start, cuBLAS handle and heuristics. The best call is the peak.
    best = min(time_calls(lambda: torch.matmul(a, b, out=out), repeats=repeats, warmup=1, synchronize=sync))
    flops = 2.0 * size**3
    tf32 = device.startswith("cuda") and dtype == torch.float32 and torch.backends.cuda.matmul.allow_tf32
    return MatmulPeak(flops / best / 1e9, size, torch.get_num_threads(), device,
                      str(dtype).removeprefix("torch."), repeats, "tf32" if tf32 else "fp32")


def percent_of_peak(flops: float, seconds: float, peak: MatmulPeak) -> tuple[float, float]:
    """(achieved GFLOP/s, % of the matmul peak) for `flops` done in `seconds`."""
    achieved = flops / seconds / 1e9
    return achieved, 100.0 * achieved / peak.gflops
