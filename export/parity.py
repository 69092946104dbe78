"""Numerical parity of an exported model's output against eager PyTorch, at explicit fp32 tolerances."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

# fp32 tolerances. Exported graphs reorder reductions (MKLDNN convolutions and conv-BN folding in
# optimize_for_inference, ONNX Runtime's fused kernels and GEMM blocking), so each logit carries a
# rounding error of about sqrt(K)·eps·|terms| for a K-term dot product (K up to 9216 here, eps 1.2e-7):
# ~1e-5 relative. rtol 1e-3 leaves ~100x headroom above that; atol 1e-4 covers logits near zero, where a
# relative bound means nothing. Real export bugs (a shape baked in, a wrong normalisation, stale weights)
# move logits by 1e-2 or more, far outside both.
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3

# TF32 (CUDA, precision "tf32") rounds each matmul/conv input to a 10-bit mantissa, u = 2^-11 ≈ 4.9e-4. A
# K-term dot product then errs by about u·sqrt(K)·rms(term) when rounding errors are random (≈ 3e-4 on a
# logit here) and by at most 2u·Σ|terms| (≈ 2e-2 for K = 9216 with these weights). atol = rtol = 1e-2 sits
# between the two: ~30x the typical error, under the worst case, and still below the 1e-1 that a wrong
# weight or a baked-in shape produces. The GPU runs report the max |diff| each row saw against it.
TF32_ATOL = 1e-2
TF32_RTOL = 1e-2


# int8 (onnx-int8): each quantised layer rounds weights and activations to 1/255 of their range, and a
# statically quantised model calibrated on real images clips inputs outside their range (the benchmark's
# standard-normal inputs): on those, mnist-cnn's logits moved by 35 % of their largest magnitude, the
# dynamically quantised models by about 1 %. An int8 variant is judged by its accuracy on the real test
# split (`bench accuracy`); parity only catches what breaks it outright (wrong weights, scales or layout
# move logits by their whole scale): |diff| <= half the reference's largest |logit|.
QUANTIZED_SCALE_FRACTION = 0.5


def quantized_tolerance(reference: torch.Tensor) -> tuple[float, float]:
    """(atol, rtol) for an int8 variant: atol = QUANTIZED_SCALE_FRACTION × max |reference|, rtol 0."""
    scale = float(reference.detach().abs().max()) if reference.numel() else 0.0
    return QUANTIZED_SCALE_FRACTION * scale, 0.0


def tolerance(precision: str) -> tuple[float, float]:
    """(atol, rtol) for a run's precision policy ("fp32" or "tf32")."""
    if precision == "tf32":
        return TF32_ATOL, TF32_RTOL
    if precision == "fp32":
        return DEFAULT_ATOL, DEFAULT_RTOL
    raise ValueError(f"no parity tolerance for precision {precision!r}")


@dataclass(frozen=True)
class Parity:
    """How close an export's output is to eager: max |diff|, max relative diff, argmax agreement (0-1)."""

    max_abs: float
    max_rel: float
    argmax_agreement: float
    atol: float
    rtol: float
    passed: bool
    checked_on: str  # the inputs compared, e.g. "batch 1, 3, 5" or "120 nodes/333 edges"

    def as_dict(self) -> dict:
        """JSON-safe dict: a NaN or infinite figure becomes its string ('nan', 'inf')."""
        return {
            k: (v if not isinstance(v, float) or math.isfinite(v) else str(v))
            for k, v in asdict(self).items()
        }


def compare_outputs(
    reference: torch.Tensor, candidate: torch.Tensor, *, atol: float, rtol: float, checked_on: str
) -> Parity:
    """Compare `candidate` to eager `reference`: passed iff |c - r| <= atol + rtol·|r| everywhere."""
    if tuple(reference.shape) != tuple(candidate.shape):
        raise ValueError(f"output shape {tuple(candidate.shape)} differs from eager {tuple(reference.shape)}")
    ref = reference.detach().cpu().double()
    cand = candidate.detach().cpu().double()
    if ref.numel() == 0:
        return Parity(0.0, 0.0, 1.0, atol, rtol, True, checked_on)
    diff = (cand - ref).abs()
    # A NaN anywhere makes the comparison below False, so it fails rather than passing unseen.
    within = bool((diff <= atol + rtol * ref.abs()).all())
    max_abs = float(diff.max()) if not diff.isnan().any() else math.nan
    return Parity(
        max_abs=max_abs,
        max_rel=_max_relative(diff, ref, floor=atol),
        argmax_agreement=_argmax_agreement(ref, cand),
        atol=atol,
        rtol=rtol,
        passed=within,
        checked_on=checked_on,
    )


def _max_relative(diff: torch.Tensor, ref: torch.Tensor, *, floor: float) -> float:
    """Max |diff| / |ref| over elements with |ref| > floor: below it a ratio is noise, and atol governs."""
    if diff.isnan().any():
        return math.nan
    mask = ref.abs() > floor
    if not mask.any():
        return 0.0
    return float((diff[mask] / ref.abs()[mask]).max())


def _argmax_agreement(ref: torch.Tensor, cand: torch.Tensor) -> float:
    """Fraction of rows whose predicted class (argmax over the last axis) is the same; 1.0 for 0-d/1-d."""
    if ref.dim() < 2:
        return 1.0
    # Not part of `passed`: elementwise closeness already bounds every logit, so a flip can only
    # happen on a near-tie (top-2 margin under 2x the tolerance); it is reported for people.
    return float((ref.argmax(-1) == cand.argmax(-1)).double().mean())
