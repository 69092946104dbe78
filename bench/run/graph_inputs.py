"""The inputs a row runs on: real data where the data dir has it (MNIST's test images; for a graph model at
full size the Cora citation graph, whose skewed degrees scatter kernels feel), else seeded random inputs
(a random graph of Cora's size), and a label saying which."""

from __future__ import annotations

from pathlib import Path

import torch

from export.cases import real_test_images
from train.errors import BenchError
from train.registry import CORA_NUM_NODES, ModelSpec

Inputs = tuple[torch.Tensor, ...]


def benchmark_inputs(spec: ModelSpec, size: int | None, seed: int,
                     data_dir: Path | None = None) -> tuple[Inputs, str]:
    """The row's inputs and what they are ("" for a dense model's seeded random batch): real test images
    where the data dir has the dataset (MNIST: an int8 variant calibrated on real images is only meant for
    them), the real Cora graph for a graph model at full size."""
    full_graph = spec.is_graph and size in (None, CORA_NUM_NODES)
    if not full_graph:
        real = real_test_images(spec, size or 1, data_dir)
        if real is not None:
            return (real[0],), real[1]
        return spec.example_inputs(size, seed=seed), ""
    from train.data.paths import default_data_dir

    where = Path(data_dir) if data_dir else default_data_dir()
    try:
        return _cora_inputs(spec, where)
    except BenchError as exc:  # absent or unreadable: the random graph, and the label says why
        inputs = spec.example_inputs(size, seed=seed)
        edges = next((t.shape[1] for t in inputs if t.dtype == torch.int64), 0)
        reason = "not found" if "not found" in str(exc) else "unreadable"
        return inputs, (f"random graph of Cora's size ({inputs[0].shape[0]} nodes, {edges} uniform edges, "
                        f"seed {seed}): Cora {reason} under {where}")


def _cora_inputs(spec: ModelSpec, data_dir: Path) -> tuple[Inputs, str]:
    """Cora's row-normalised features and its edges, in the spec's input order, without downloading."""
    from train.data.cora import load_cora

    data = load_cora(data_dir, download=False)
    inputs = tuple(data.edge_index if t.kind == "edge_index" else data.x.to(t.dtype) for t in spec.inputs)
    label = (f"Cora citation graph ({data.num_nodes} nodes, {data.edge_index.shape[1]} edges, "
             f"features as training sees them) from {data_dir}")
    return inputs, label
