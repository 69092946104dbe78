"""The precision policy of a run: TF32 and cuDNN autotuning, set the same way for every runtime, recorded.

On CUDA, TF32 rounds matmul/convolution inputs to a 10-bit mantissa: faster on tensor cores, and outputs
that move by about 1e-3 relative. torch allows it for cuDNN convolutions by default and ONNX Runtime's
CUDA provider for everything, so two runtimes compared "as installed" do not compute the same thing.
A run picks one policy; the parity tolerance follows it (export.parity.tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PRECISIONS = ("fp32", "tf32")  # fp32: TF32 off everywhere (the default); tf32: on everywhere


@dataclass(frozen=True)
class PrecisionPolicy:
    """What every runtime of a run computes in: `precision` (one of PRECISIONS) and cuDNN autotuning."""

    precision: str = "fp32"
    cudnn_benchmark: bool = False  # let cuDNN time its algorithms (torch) / EXHAUSTIVE search (ONNX Runtime)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def tf32(self) -> bool:
        return self.precision == "tf32"

    def apply_to_torch(self) -> None:
        """Set torch's process-wide flags (call once, before any model runs: the suite, the memory worker)."""
        torch.backends.cuda.matmul.allow_tf32 = self.tf32
        torch.backends.cudnn.allow_tf32 = self.tf32
        torch.backends.cudnn.benchmark = self.cudnn_benchmark

    def ort_cuda_options(self) -> dict[str, str]:
        """ONNX Runtime CUDA provider options with the same meaning (its defaults: TF32 on, EXHAUSTIVE)."""
        return {"use_tf32": "1" if self.tf32 else "0",
                "cudnn_conv_algo_search": "EXHAUSTIVE" if self.cudnn_benchmark else "HEURISTIC"}

    def as_dict(self) -> dict[str, object]:
        """What a row records: the policy, torch's flags as they are now, ONNX Runtime's CUDA options."""
        return {"precision": self.precision, "cudnn_benchmark": self.cudnn_benchmark,
                "torch": torch_flags(), "onnxruntime_cuda": self.ort_cuda_options()}


FP32 = PrecisionPolicy()  # strict fp32, no autotuning: the default policy


def torch_flags() -> dict[str, bool]:
    """torch's TF32 and cuDNN autotuning flags in this process."""
    return {"matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark)}
