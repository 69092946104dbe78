"""Scatter-free neighbour aggregation for ONNX export: PyG's sum/mean scatters become destination-sorted
segment sums, exact at any thread count, and SAGEConv projects before it aggregates.

Why: PyG's `scatter` exports as ScatterElements(add) over an [edges × features] index, which ONNX Runtime's
CPU kernel runs element by element (56-78 % of GCN's and GraphSAGE's time); the faster ScatterND(add) races
on duplicate indices at more than one intra-op thread (microsoft/onnxruntime#18048, #23396: rows off by up
to 3.6 about one run in 20). Here every edge is sorted by destination, its messages summed as float64
prefix sums, and each node's total read as the difference of two prefix sums: a sort, a CumSum and two
Gathers, with no reduction anywhere that two threads could race on. The models themselves are unchanged;
only the exported graph is formulated this way, and the export's parity check compares it with eager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

# Recorded in the manifest: what the exported graph computes instead of PyG's scatter.
FORMULATION = ("destination-sorted segment sums (float64 prefix sums, no scatter-add); "
               "SAGEConv projects before it aggregates (mean and sum are linear)")
_LINEAR_REDUCTIONS = ("sum", "add", "mean")


def segment_reduce(src: Tensor, index: Tensor, dim: int = 0, dim_size: int | None = None,
                   reduce: str = "sum") -> Tensor:
    """PyG `scatter(src, index, dim, dim_size, reduce)` for sum/mean along dim 0 without a scatter-add:
    rows sorted by `index`, prefix-summed in float64, each output row the difference of two prefix sums.
    Other reductions and dims go to PyG's own scatter."""
    from torch_geometric.utils import scatter

    dim = src.dim() + dim if dim < 0 else dim
    if dim != 0 or reduce not in _LINEAR_REDUCTIONS or dim_size is None:
        return scatter(src, index, dim, dim_size, reduce)
    rows = src.unsqueeze(-1) if src.dim() == 1 else src
    edges = index.shape[0]
    position = torch.arange(edges, dtype=torch.int64, device=index.device)
    # Unique keys (destination, then position): the order is the stable one whatever sort the runtime has.
    order = torch.argsort(index * edges + position)
    destination = index[order]
    # float64 prefix sums: a node's sum is the difference of two of them, exact to float32's rounding
    # whatever the prefix's size (float32 prefixes lost up to 4e-5 on full Cora).
    ordered = rows[order].to(torch.float64)
    prefix = torch.cat([ordered.new_zeros((1, *ordered.shape[1:])), ordered]).cumsum(0)
    changes = destination[1:] != destination[:-1]
    edge_of_graph = torch.ones_like(destination[:1], dtype=torch.bool)
    starts = torch.cat([edge_of_graph, changes])  # the first edge of each destination's run
    ends = torch.cat([changes, edge_of_graph])  # ... and its last
    # Each destination's first position and one past its last; edges that start or end no run write to a
    # spare row (dim_size), dropped after: the only repeated index, so no two writes that count collide.
    spare = torch.full_like(destination, dim_size)
    first = torch.zeros(dim_size + 1, dtype=torch.int64, device=index.device)
    first = first.index_put((torch.where(starts, destination, spare),), position)[:dim_size]
    stop = torch.zeros(dim_size + 1, dtype=torch.int64, device=index.device)
    stop = stop.index_put((torch.where(ends, destination, spare),), position + 1)[:dim_size]
    # A node no edge reaches keeps first == stop == 0: prefix[0] - prefix[0] = 0, as scatter gives.
    out = prefix[stop] - prefix[first]
    if reduce == "mean":
        count = (stop - first).clamp(min=1).to(torch.float64)
        out = out / count.view(-1, *([1] * (out.dim() - 1)))
    out = out.to(src.dtype)
    return out.squeeze(-1) if src.dim() == 1 else out


def _projected_sage_forward(original):
    """SAGEConv.forward that applies lin_l's weight before aggregating where the aggregation is linear:
    W·mean(x_j) = mean(W·x_j), so 256 (or 7) columns are summed instead of 1433 (or 256)."""
    from torch_geometric.nn.aggr import MeanAggregation, SumAggregation

    def forward(conv, x, edge_index, size=None):
        linear = isinstance(conv.aggr_module, (MeanAggregation, SumAggregation))
        if not isinstance(x, Tensor) or conv.project or not linear:
            return original(conv, x, edge_index, size)
        projected = F.linear(x, conv.lin_l.weight)  # no bias: it is added once, after the mean
        out = conv.propagate(edge_index, x=(projected, projected), size=size)
        if conv.lin_l.bias is not None:
            out = out + conv.lin_l.bias
        if conv.root_weight:
            out = out + conv.lin_r(x)
        if conv.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    return forward


@contextlib.contextmanager
def scatter_free_aggregation() -> Iterator[None]:
    """While exporting: PyG's sum/mean scatters (aggregations, GCN's degree) are segment_reduce and SAGEConv
    projects first; everything is put back on exit."""
    import torch_geometric.nn.aggr.base as aggregation
    import torch_geometric.nn.conv.gcn_conv as gcn
    from torch_geometric.nn import SAGEConv

    saved = aggregation.scatter, gcn.scatter, SAGEConv.forward
    aggregation.scatter = gcn.scatter = segment_reduce
    SAGEConv.forward = _projected_sage_forward(saved[2])
    try:
        yield
    finally:
        aggregation.scatter, gcn.scatter, SAGEConv.forward = saved


def passes_messages(model: torch.nn.Module) -> bool:
    """Whether `model` holds a PyG message-passing layer (the MLP on Cora's features does not)."""
    if not any(type(m).__module__.startswith("torch_geometric") for m in model.modules()):
        return False  # PyG not imported for a dense model: keep it that way
    from torch_geometric.nn import MessagePassing

    return any(isinstance(m, MessagePassing) for m in model.modules())
