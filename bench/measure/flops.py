"""FLOP counts from torch.utils.flop_counter (matmul/conv only: scatter/elementwise not counted)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from train.registry import ModelSpec


def count_flops(spec: ModelSpec, size: int | None = None, model_kwargs: dict | None = None) -> int:
    """FLOPs of one forward pass of `spec` at batch `size` (graphs: node count; default Cora size), built
    with `model_kwargs` (the architecture an export was made with; default: the registry's)."""
    model = spec.build(seed=0, **(model_kwargs or {}))
    inputs = spec.example_inputs(size if size is not None else (None if spec.is_graph else 1))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return int(counter.get_total_flops())
