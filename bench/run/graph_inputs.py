"""The inputs a row runs on: for a graph model at full size, the real Cora citation graph when it is on disk
(scatter kernels see its skewed degrees), else a random graph of Cora's size, labelled as such."""

from __future__ import annotations

from pathlib import Path

import torch

from train.errors import BenchError
from train.registry import CORA_NUM_NODES, ModelSpec

Inputs = tuple[torch.Tensor, ...]


def benchmark_inputs(spec: ModelSpec, size: int | None, seed: int,
                     data_dir: Path | None = None) -> tuple[Inputs, str]:
    """The row's inputs and what they are ("" for a dense model's seeded random batch)."""
    full_graph = spec.is_graph and size in (None, CORA_NUM_NODES)
    if not full_graph:
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
