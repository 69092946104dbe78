"""Scatter-free neighbour aggregation for ONNX export: PyG's sum/mean scatters become destination-sorted
segment sums, exact at any thread count; GCNConv normalises by degree around one shared sort, and SAGEConv
projects before it aggregates.

Why: PyG's `scatter` exports as ScatterElements(add) over an [edges × features] index, which ONNX Runtime's
CPU kernel runs element by element (56-78 % of GCN's and GraphSAGE's time); the faster ScatterND(add) races
on duplicate indices at more than one intra-op thread (microsoft/onnxruntime#18048, #23396: rows off by up
to 3.6 about one run in 20). Here every edge is sorted by destination and each node's total is the
difference of two prefix sums over the sorted messages, with no reduction anywhere that two threads could
race on. The prefix sums are blocked: within blocks of BLOCK messages one [BLOCK × BLOCK] lower-triangular
GEMM (float32, a few terms each), across blocks a float64 CumSum of the block totals, so a node's sum keeps
float32's rounding however long the prefix (plain float32 prefixes lost up to 4e-5 on full Cora). The
models themselves are unchanged; only the exported graph is formulated this way, and the export's parity
check compares it with eager.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from train.graph_forward import projected_sage_forward

# Recorded in the manifest: what the exported graph computes instead of PyG's scatter.
FORMULATION = ("destination-sorted segment sums (blocked prefix sums: float32 GEMM within 16-message "
               "blocks, float64 across; no scatter-add); GCNConv: one sort per graph, messages scaled by "
               "deg^-1/2 at both ends; SAGEConv projects before it aggregates (mean and sum are linear)")
_LINEAR_REDUCTIONS = ("sum", "add", "mean")
# Messages per block of the prefix sums. Measured on full Cora (GCN, 256 columns, 2 threads): the
# triangular GEMM took 1.4 ms at 16, 2.1 ms at 32 and 3.1 ms at 64 (ORT's CumSum along the block: 2.2 ms).
BLOCK = 16


@dataclass(frozen=True)
class SortedEdges:
    """Edges sorted by destination: `order` [edges] (edge ids, destination-major, stable), `counts`
    [nodes] (each destination's edges) and `ends` [nodes + 1] (prefix slot before each destination's first
    edge, then after its last: slot 0 is the zero before any edge)."""

    order: Tensor
    counts: Tensor
    ends: Tensor


def sort_by_destination(index: Tensor, dim_size: int, keep: Tensor | None = None) -> SortedEdges:
    """The destination-sorted order of `index` [edges] over `dim_size` nodes; edges where `keep` is False
    sort after every node and count for none. No scatter-add: positions are plain writes."""
    edges = index.shape[0]
    spare = dim_size + 1  # where an edge that starts (ends) no run writes its position; dropped after
    key = index if keep is None else torch.where(keep, index, torch.full_like(index, dim_size))
    position = torch.arange(edges, dtype=torch.int64, device=index.device)
    # Unique keys (destination, then position): the order is the stable one whatever sort the runtime has.
    order = torch.argsort(key * edges + position)
    destination = torch.index_select(key, 0, order)
    changes = destination[1:] != destination[:-1]
    edge_of_graph = torch.ones_like(destination[:1], dtype=torch.bool)
    starts = torch.cat([edge_of_graph, changes])  # the first edge of each destination's run
    ends = torch.cat([changes, edge_of_graph])  # ... and its last
    # Only the spare row (and dim_size, the dropped edges' run) is written twice: no counted write collides.
    unused = torch.full_like(destination, spare)
    first = torch.zeros(dim_size + 2, dtype=torch.int64, device=index.device)
    first = first.index_put((torch.where(starts, destination, unused),), position)[:dim_size]
    stop = torch.zeros(dim_size + 2, dtype=torch.int64, device=index.device)
    stop = stop.index_put((torch.where(ends, destination, unused),), position + 1)[:dim_size]
    counts = stop - first  # a node no edge reaches keeps first == stop == 0
    slots = torch.cat([torch.zeros_like(counts[:1]), counts.cumsum(0)])
    return SortedEdges(order, counts, slots)


def segment_sum(rows: Tensor, sorted_edges: SortedEdges, edge_rows: Tensor | None = None) -> Tensor:
    """Per destination, the sum of `rows[edge_rows[e]]` over its edges e ([nodes, features], float32 at
    least); `edge_rows` None: row e is edge e's message. Blocked prefix sums, no scatter-add."""
    dtype = torch.promote_types(rows.dtype, torch.float32)
    features = rows.shape[1]
    zero_row = rows.shape[0]
    edges = sorted_edges.order.shape[0]
    blocks = (edges + BLOCK) // BLOCK  # slot 0 (the zero) and every edge, padded to whole blocks
    padding = blocks * BLOCK - edges - 1
    order = sorted_edges.order
    sources = order if edge_rows is None else torch.index_select(edge_rows, 0, order)
    slot_rows = torch.cat([torch.full((1,), zero_row, dtype=torch.int64, device=rows.device), sources,
                           torch.full((padding,), zero_row, dtype=torch.int64, device=rows.device)])
    # Slot q = block b, place j lives in row j * blocks + b: the in-block prefix sums of every block are one
    # [BLOCK × BLOCK] @ [BLOCK × blocks·features] GEMM (ORT's CumSum along a block axis was slower).
    by_place = slot_rows.view(blocks, BLOCK).t().reshape(-1)
    padded = torch.cat([rows.to(dtype), rows.new_zeros((1, features), dtype=dtype)])
    messages = torch.index_select(padded, 0, by_place).view(BLOCK, blocks * features)
    lower = torch.ones(BLOCK, BLOCK, dtype=dtype, device=rows.device).tril()
    within = torch.matmul(lower, messages).view(BLOCK * blocks, features)
    totals = within[(BLOCK - 1) * blocks:].to(torch.float64)  # each block's sum: its last place
    before = totals.cumsum(0) - totals  # float64: sums of all earlier blocks, exact enough to subtract
    high, low = sorted_edges.ends[1:], sorted_edges.ends[:-1]

    def row_of(slot: Tensor) -> Tensor:
        return torch.remainder(slot, BLOCK) * blocks + torch.div(slot, BLOCK, rounding_mode="floor")

    def block_of(slot: Tensor) -> Tensor:
        return torch.div(slot, BLOCK, rounding_mode="floor")

    across = torch.index_select(before, 0, block_of(high)) - torch.index_select(before, 0, block_of(low))
    inside = torch.index_select(within, 0, row_of(high)) - torch.index_select(within, 0, row_of(low))
    return across.to(dtype) + inside


def segment_reduce(src: Tensor, index: Tensor, dim: int = 0, dim_size: int | None = None,
                   reduce: str = "sum") -> Tensor:
    """PyG `scatter(src, index, dim, dim_size, reduce)` for sum/mean along dim 0 without a scatter-add
    (`segment_sum` over the destination-sorted edges). Other reductions and dims go to PyG's own scatter."""
    from torch_geometric.utils import scatter

    dim = src.dim() + dim if dim < 0 else dim
    if dim != 0 or reduce not in _LINEAR_REDUCTIONS or dim_size is None:
        return scatter(src, index, dim, dim_size, reduce)
    rows = src.reshape(src.shape[0], math.prod(src.shape[1:]))  # [edges, features]: 1-D is one column
    sorted_edges = sort_by_destination(index, dim_size)
    out = segment_sum(rows, sorted_edges)
    if reduce == "mean":
        out = out / sorted_edges.counts.clamp(min=1).to(out.dtype).unsqueeze(-1)
    return out.to(src.dtype).reshape(dim_size, *src.shape[1:])


def _plain_gcn(conv, x, edge_index, edge_weight) -> bool:
    """Whether GCNConv `conv` would run PyG's default normalisation here: unweighted edges as a [2, edges]
    tensor, self-loops of weight 1, symmetric deg^-1/2, sum aggregation, source to target, not cached."""
    return (isinstance(x, Tensor) and x.dim() == 2 and isinstance(edge_index, Tensor)
            and edge_index.dim() == 2 and edge_weight is None and conv.normalize and conv.add_self_loops
            and not conv.improved and not conv.cached and conv.aggr == "add"
            and conv.flow == "source_to_target")


def _shared_sort_gcn_forward(original, graphs: dict[int, tuple[Tensor, SortedEdges, Tensor]]):
    """GCNConv.forward as D^-1/2 (A + I) D^-1/2 · xW + b with the graph's sort and degrees computed once per
    edge_index and shared by every layer (`graphs`, keyed by the tensor's id): A drops the graph's own
    self-loops and I adds one per node, as PyG's add_remaining_self_loops does; messages are scaled by
    deg^-1/2 at the source before the sum and at the destination after, so no per-edge weights exist."""

    def forward(conv, x, edge_index, edge_weight=None):
        if not _plain_gcn(conv, x, edge_index, edge_weight):
            return original(conv, x, edge_index, edge_weight)
        cached = graphs.get(id(edge_index))
        if cached is None or cached[0] is not edge_index:
            source, target = edge_index[0], edge_index[1]
            sorted_edges = sort_by_destination(target, x.shape[0], keep=source != target)
            degree = sorted_edges.counts + 1  # + its own loop
            inverse_sqrt_degree = degree.to(x.dtype).pow(-0.5).unsqueeze(-1)
            cached = graphs[id(edge_index)] = (edge_index, sorted_edges, inverse_sqrt_degree)
        _, sorted_edges, inverse_sqrt_degree = cached
        scaled = inverse_sqrt_degree * conv.lin(x)
        neighbours = segment_sum(scaled, sorted_edges, edge_rows=edge_index[0]).to(scaled.dtype)
        out = inverse_sqrt_degree * (neighbours + scaled)
        return out if conv.bias is None else out + conv.bias

    return forward


@contextlib.contextmanager
def scatter_free_aggregation() -> Iterator[None]:
    """While exporting: PyG's sum/mean scatters (aggregations, GCN's degree) are segment_reduce, GCNConv
    shares one sort per graph across its layers and SAGEConv projects first; everything is put back on
    exit."""
    import torch_geometric.nn.aggr.base as aggregation
    import torch_geometric.nn.conv.gcn_conv as gcn
    from torch_geometric.nn import GCNConv, SAGEConv

    saved = aggregation.scatter, gcn.scatter, SAGEConv.forward, GCNConv.forward
    aggregation.scatter = gcn.scatter = segment_reduce
    SAGEConv.forward = projected_sage_forward(saved[2])
    GCNConv.forward = _shared_sort_gcn_forward(saved[3], graphs={})
    try:
        yield
    finally:
        aggregation.scatter, gcn.scatter, SAGEConv.forward, GCNConv.forward = saved


def passes_messages(model: torch.nn.Module) -> bool:
    """Whether `model` holds a PyG message-passing layer (the MLP on Cora's features does not)."""
    if not any(type(m).__module__.startswith("torch_geometric") for m in model.modules()):
        return False  # PyG not imported for a dense model: keep it that way
    from torch_geometric.nn import MessagePassing

    return any(isinstance(m, MessagePassing) for m in model.modules())
