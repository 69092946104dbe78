"""The inputs an export is captured on, and the differently sized inputs its parity is checked on: real
test images where the data dir holds the model's dataset (MNIST), seeded random ones otherwise."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from train.registry import CORA_NUM_EDGES, CORA_NUM_NODES, ModelSpec

# Captured at one size, checked at others: a trace or export that baked a size in fails parity.
EXPORT_BATCH = 2  # not 1: torch.export specialises size-0/1 axes
EXPORT_GRAPH = (50, 195)  # nodes, edges (Cora's edge density)
PARITY_BATCHES = (1, 3, 5)  # batch 1 is what `bench run` times first
PARITY_GRAPHS = ((120, 333), (CORA_NUM_NODES, CORA_NUM_EDGES))  # a small graph, and full Cora
EXPORT_SEED = 1
PARITY_SEED = 2

Inputs = tuple[torch.Tensor, ...]


def export_example(spec: ModelSpec) -> tuple[Inputs, str]:
    """Example inputs to script/trace/export on, and their description ('batch 2', '50 nodes/195 edges')."""
    if spec.is_graph:
        nodes, edges = EXPORT_GRAPH
        return spec.example_inputs(nodes, num_edges=edges, seed=EXPORT_SEED), _graph_label(nodes, edges)
    return spec.example_inputs(EXPORT_BATCH, seed=EXPORT_SEED), f"batch {EXPORT_BATCH}"


def real_test_images(spec: ModelSpec, count: int,
                     data_dir: Path | None = None) -> tuple[torch.Tensor, str] | None:
    """The first `count` images of the model's test split, normalised as training does, and what they are,
    when `data_dir` (default $BENCH_DATA_DIR or ~/.cache/bench/data) holds them offline (MNIST); else None.

    A statically quantised variant is calibrated on real images and only meant for them: judged on
    standard-normal inputs, mnist-cnn-bn's int8 logits agreed with eager on no row, on real ones on all."""
    from train.data.paths import default_data_dir

    if spec.dataset != "mnist" or spec.is_graph:
        return None
    where = Path(data_dir) if data_dir else default_data_dir()
    images = _mnist_test_images(str(where))
    if images is None or count > images.shape[0]:
        return None
    return images[:count], f"MNIST test images (the first of the split) from {where}"


@functools.lru_cache(maxsize=2)
def _mnist_test_images(data_dir: str) -> torch.Tensor | None:
    """MNIST's normalised test images under `data_dir`, or None when they are not there or unreadable."""
    from train.data.mnist import load_mnist_tensors, normalise
    from train.errors import BenchError

    try:
        return normalise(load_mnist_tensors(Path(data_dir), download=False)[2])
    except BenchError:
        return None


def parity_cases(spec: ModelSpec) -> tuple[list[Inputs], str]:
    """Parity inputs, all sized unlike the export example, and a label ('batch 1, 3, 5'): real test
    images (consecutive slices) where the data dir has them, seeded random inputs otherwise."""
    real = real_test_images(spec, sum(PARITY_BATCHES))
    if real is not None:
        images, label = real
        starts = [sum(PARITY_BATCHES[:i]) for i in range(len(PARITY_BATCHES))]
        cases = [(images[s:s + b],) for s, b in zip(starts, PARITY_BATCHES, strict=True)]
        return cases, f"batch {', '.join(map(str, PARITY_BATCHES))} of {label}"
    if spec.is_graph:
        cases = [
            spec.example_inputs(n, num_edges=e, seed=PARITY_SEED + i)
            for i, (n, e) in enumerate(PARITY_GRAPHS)
        ]
        return cases, ", ".join(_graph_label(n, e) for n, e in PARITY_GRAPHS)
    cases = [spec.example_inputs(b, seed=PARITY_SEED + i) for i, b in enumerate(PARITY_BATCHES)]
    return cases, "batch " + ", ".join(str(b) for b in PARITY_BATCHES)


def stack_outputs(outputs: list[torch.Tensor]) -> torch.Tensor:
    """All cases' outputs as one tensor (rows: samples or nodes), so one Parity covers every case."""
    return torch.cat([o.detach().cpu().reshape(o.shape[0], -1) for o in outputs], dim=0)


def _graph_label(nodes: int, edges: int) -> str:
    """'120 nodes/333 edges'."""
    return f"{nodes} nodes/{edges} edges"
