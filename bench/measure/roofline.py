"""The best measured GEMM of a run (torch at a few sizes, and ONNX Runtime's MatMul on the CPU): the
denominator of every row's '% of GEMM' (measure.hardware gives the theoretical one, '% of hw')."""

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
    engine: str = "torch"  # what multiplied: "torch" (its BLAS / cuBLAS) or "onnxruntime" (MLAS)


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


def measure_ort_matmul_peak(*, size: int = 1024, repeats: int = 10, threads: int = 1) -> MatmulPeak:
    """GFLOP/s of the fastest of `repeats` size×size fp32 MatMuls in ONNX Runtime on the CPU (MLAS), with
    `threads` intra-op threads: the GEMM the ONNX Runtime rows are built on."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [size, size]) for n in ("a", "b")],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = min(model.ir_version, 10)  # the installed onnxruntime reads IR <= 10
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal((size, size), dtype=np.float32) for n in ("a", "b")}
    calls = time_calls(lambda: session.run(None, feeds), repeats=repeats, warmup=1, synchronize=lambda: None)
    best = min(calls)
    return MatmulPeak(2.0 * size**3 / best / 1e9, size, threads, "cpu", "float32", repeats, "fp32",
                      "onnxruntime")


def best_gemm(device: str, threads: int, sizes: tuple[int, ...], repeats: int = 10) -> list[MatmulPeak]:
    """Every GEMM measurement of a run: torch at `sizes` on `device`, and ONNX Runtime's on the CPU."""
    peaks = [measure_matmul_peak(device, size=size, repeats=repeats, threads=threads) for size in sizes]
    if not device.startswith("cuda"):
        peaks.append(measure_ort_matmul_peak(size=max(sizes), repeats=repeats, threads=threads))
    return peaks


def percent_of_peak(flops: float, seconds: float, peak: MatmulPeak) -> tuple[float, float]:
    """(achieved GFLOP/s, % of the matmul peak) for `flops` done in `seconds`."""
    achieved = flops / seconds / 1e9
    return achieved, 100.0 * achieved / peak.gflops
