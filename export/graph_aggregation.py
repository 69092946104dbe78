"""Scatter-free neighbour aggregation for ONNX export: PyG's sum/mean scatters become destination-sorted
segment sums, exact at any thread count; GCNConv and SAGEConv sort each graph once for all their layers
(SAGEConv projecting before it aggregates).

Why: PyG's `scatter` exports as ScatterElements(add) over an [edges × features] index, which ONNX Runtime's
CPU kernel runs element by element (56-78 % of GCN's and GraphSAGE's time); the faster ScatterND(add) races
on duplicate indices at more than one intra-op thread (microsoft/onnxruntime#18048, #23396: rows off by up
to 3.6 about one run in 20). Here every edge is sorted by destination and nodes are grouped by how many
edges they receive: a group whose runs hold at most `w` edges gathers its rows into one [nodes × w ×
features] block, padded with a zero row, and sums it along w (ReduceSum: a fixed order, no reduction two
threads could race on). Runs longer than the widest group are summed as differences of blocked prefix sums
(float32 GEMM within BLOCK messages, float64 across), linear in their edges whatever the degree. The models
themselves are unchanged; only the exported graph is formulated this way, and the export's parity check
compares it with eager.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from train.graph_forward import finish_projected_sage, projected_sage_forward

# Recorded in the manifest: what the exported graph computes instead of PyG's scatter.
FORMULATION = ("destination-sorted segment sums (nodes grouped by in-degree into widths 1-32, each group "
               "gathered into a zero-padded [nodes × width × features] block and summed along width; runs "
               "longer than 32 edges as blocked prefix sums; no scatter-add); GCNConv and SAGEConv: one "
               "sort per graph for every layer, GCN messages scaled by deg^-1/2 at both ends, SAGEConv "
               "projects before it aggregates (mean and sum are linear)")
_LINEAR_REDUCTIONS = ("sum", "add", "mean")
# Padded run lengths of the gathered groups: powers of two waste at most half a group's rows on padding.
# Measured on full Cora (GCN, 2 threads, paired with eager over the same 200 rounds): 1.069× with these,
# 1.055× with 2/4/8/16, 1.063× and 1.052× with finer steps up to 32 (±0.025 each): group count and padding
# trade evenly here. On Cora the groups gather 12,499 rows for 9,942 edges; runs longer than the widest
# group take the prefix sums (10 of Cora's 2,708 nodes, 614 edges).
GROUP_WIDTHS = (1, 2, 4, 8, 16, 32)
# Messages per block of the long runs' prefix sums. Measured on full Cora (GCN, 256 columns, 2 threads,
# over every edge): the triangular GEMM took 1.4 ms at 16, 2.1 ms at 32 and 3.1 ms at 64.
BLOCK = 16


@dataclass(frozen=True)
class SortedEdges:
    """Edges sorted by destination: `order` [edges] (edge ids, destination-major, stable), `destination`
    [edges] (each sorted edge's destination; `dim_size` for a dropped edge), `counts` [nodes] (each
    destination's edges) and `ends` [nodes + 1] (prefix slot before each destination's first edge, then
    after its last: slot 0 is the zero before any edge)."""

    order: Tensor
    destination: Tensor
    counts: Tensor
    ends: Tensor


@dataclass(frozen=True)
class GatherPlan:
    """How a graph's segment sums are gathered: `groups` (row ids [nodes_k, width], or [nodes_k] for
    width 1) per in-degree group, `long_sources` [m] (row ids of the long runs' edges, in sorted order) with
    `long_low`, `long_high` [long nodes] (each long run's slots, as prefix_segment_sum reads them), and
    `place` [nodes] (each node's row in the concatenated group sums, long-run sums and one zero row)."""

    groups: tuple[Tensor, ...]
    long_sources: Tensor
    long_low: Tensor
    long_high: Tensor
    place: Tensor


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
    return SortedEdges(order, destination, counts, slots)


def plan_gathers(sorted_edges: SortedEdges, sources: Tensor, zero_row: int) -> GatherPlan:
    """The gathers that sum, per destination, rows `sources[e]` [edges] of its sorted edges e; `zero_row`:
    the row id that reads zeros (one past the summed rows). Built once per graph, shared by its layers."""
    counts, first = sorted_edges.counts, sorted_edges.ends[:-1]
    device = counts.device
    edges = sources.shape[0]
    padded_sources = torch.cat([sources, torch.full((1,), zero_row, dtype=torch.int64, device=device)])
    groups, members = [], []
    shortest = 0
    for width in GROUP_WIDTHS:
        nodes = torch.nonzero((counts > shortest) & (counts <= width)).squeeze(1)
        place = torch.arange(width, dtype=torch.int64, device=device).unsqueeze(0)
        slot = torch.index_select(first, 0, nodes).unsqueeze(1) + place
        filled = place < torch.index_select(counts, 0, nodes).unsqueeze(1)
        slot = torch.where(filled, slot, torch.full_like(slot, edges))  # padding reads the zero row
        groups.append(padded_sources[slot.squeeze(1) if width == 1 else slot])  # [nodes(, width)]
        members.append(nodes)
        shortest = width
    long = counts > shortest
    members.append(torch.nonzero(long).squeeze(1))
    long_high = torch.index_select(counts, 0, members[-1]).cumsum(0)
    long_low = long_high - torch.index_select(counts, 0, members[-1])
    # Dropped edges sort last with destination dim_size: the appended False keeps them out.
    long_edge = torch.index_select(torch.cat([long, torch.zeros_like(long[:1])]), 0, sorted_edges.destination)
    long_sources = torch.index_select(sources, 0, torch.nonzero(long_edge).squeeze(1))
    ordered = torch.cat(members)
    summed = ordered.shape[0]  # the zero row's place, for nodes without edges
    place = torch.full_like(counts, summed).index_put((ordered,), torch.arange(summed, device=device))
    return GatherPlan(tuple(groups), long_sources, long_low, long_high, place)


def segment_sum(rows: Tensor, plan: GatherPlan) -> Tensor:
    """Per destination, the sum of its edges' rows of `rows` [rows, features] as `plan` gathers them
    ([nodes, features], float32 at least). No scatter-add."""
    dtype = torch.promote_types(rows.dtype, torch.float32)
    features = rows.shape[1]
    padded = torch.cat([rows.to(dtype), rows.new_zeros((1, features), dtype=dtype)])
    # A 2-D index gathers [nodes, width, features] in one Gather, no reshape of a data-dependent size.
    sums = [torch.nn.functional.embedding(row_ids, padded) for row_ids in plan.groups]
    sums = [block if block.dim() == 2 else block.sum(1) for block in sums]
    sums.append(prefix_segment_sum(padded, plan.long_sources, plan.long_low, plan.long_high))
    sums.append(padded[-1:])
    return torch.index_select(torch.cat(sums), 0, plan.place)


def prefix_segment_sum(padded: Tensor, sources: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """Per run, the sum of `padded[sources[i]]` for low <= i < high ([runs, features]; `padded`: the rows,
    float32 at least, then a zero row; `low`, `high` [runs]: each run's bounds in `sources`). Blocked
    prefix sums (prefix slot q holds the first q sources' sum; slot 0 the zero), no scatter-add, linear in
    the sources. No size here is sliced or padded by arithmetic on a data-dependent count, so torch.export
    adds no runtime assertion the ONNX translation cannot hold."""
    dtype, device = padded.dtype, padded.device
    features = padded.shape[1]
    zero_row = padded.shape[0] - 1
    edges = sources.shape[0]
    blocks = (edges + BLOCK) // BLOCK  # slot 0 (the zero) and every edge, padded to whole blocks
    # Slot q = block b, place j lives in row j * blocks + b: the in-block prefix sums of every block are one
    # [BLOCK × BLOCK] @ [BLOCK × blocks·features] GEMM (ORT's CumSum along a block axis was slower).
    slot = torch.arange(blocks * BLOCK, dtype=torch.int64, device=device)
    by_place = slot.view(blocks, BLOCK).t().reshape(-1)
    padded_sources = torch.cat([sources, torch.full((1,), zero_row, dtype=torch.int64, device=device)])
    row_ids = torch.index_select(padded_sources, 0, (by_place - 1).clamp(min=0, max=edges))
    row_ids = torch.where(by_place == 0, torch.full_like(row_ids, zero_row), row_ids)
    messages = torch.index_select(padded, 0, row_ids).view(BLOCK, blocks * features)
    lower = torch.ones(BLOCK, BLOCK, dtype=dtype, device=device).tril()
    within = torch.matmul(lower, messages)
    totals = within[BLOCK - 1].view(blocks, features).to(torch.float64)  # each block's sum: its last place
    before = totals.cumsum(0) - totals  # float64: sums of all earlier blocks, exact enough to subtract
    within = within.view(BLOCK * blocks, features)

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
    out = segment_sum(rows, plan_gathers(sorted_edges, sorted_edges.order, zero_row=rows.shape[0]))
    if reduce == "mean":
        out = out / sorted_edges.counts.clamp(min=1).to(out.dtype).unsqueeze(-1)
    return out.to(src.dtype).reshape(dim_size, *src.shape[1:])


# Per edge_index tensor: the tensor (checked by identity), its plan and in-degrees; keyed by its id, whether
# self-loops are dropped and whether a TorchScript trace is running (a plan built in eager must not enter
# a legacy-exporter trace as constants). One graph has one node count; the dicts die with the context.
GraphPlans = dict[tuple[int, bool, bool], tuple[Tensor, GatherPlan, Tensor]]


def _graph_plan(graphs: GraphPlans, edge_index: Tensor, nodes: int, drop_self_loops: bool
                ) -> tuple[GatherPlan, Tensor]:
    """The gather plan (rows: source nodes) and in-degrees [nodes] of `edge_index`, built on its first
    layer and reused by the next; `drop_self_loops` leaves the graph's own self-loops out of both."""
    key = (id(edge_index), drop_self_loops, torch.jit.is_tracing())
    cached = graphs.get(key)
    if cached is None or cached[0] is not edge_index:
        source, target = edge_index[0], edge_index[1]
        sorted_edges = sort_by_destination(target, nodes, keep=source != target if drop_self_loops else None)
        sources = torch.index_select(source, 0, sorted_edges.order)
        cached = graphs[key] = (edge_index, plan_gathers(sorted_edges, sources, nodes), sorted_edges.counts)
    return cached[1], cached[2]


def _edge_list(edge_index) -> bool:
    """Whether `edge_index` is a dense [2, edges] tensor (not a sparse adjacency, which PyG also takes)."""
    return (isinstance(edge_index, Tensor) and edge_index.layout == torch.strided and edge_index.dim() == 2
            and edge_index.shape[0] == 2)


def _plain_gcn(conv, x, edge_index, edge_weight) -> bool:
    """Whether GCNConv `conv` would run PyG's default normalisation here: unweighted edges as a [2, edges]
    tensor, self-loops of weight 1, symmetric deg^-1/2, sum aggregation, source to target, not cached."""
    return (isinstance(x, Tensor) and x.dim() == 2 and _edge_list(edge_index)
            and edge_weight is None and conv.normalize and conv.add_self_loops
            and not conv.improved and not conv.cached and conv.aggr == "add"
            and conv.flow == "source_to_target")


def _shared_sort_gcn_forward(original, graphs: GraphPlans):
    """GCNConv.forward as D^-1/2 (A + I) D^-1/2 · xW + b with the graph's sort, gather plan and degrees
    computed once per edge_index and shared by every layer: A drops the graph's own self-loops and I adds
    one per node, as PyG's add_remaining_self_loops does; messages are scaled by deg^-1/2 at the source
    before the sum and at the destination after, so no per-edge weights exist."""

    def forward(conv, x, edge_index, edge_weight=None):
        if not _plain_gcn(conv, x, edge_index, edge_weight):
            return original(conv, x, edge_index, edge_weight)
        plan, counts = _graph_plan(graphs, edge_index, x.shape[0], drop_self_loops=True)
        inverse_sqrt_degree = (counts + 1).to(x.dtype).pow(-0.5).unsqueeze(-1)  # + its own loop
        scaled = inverse_sqrt_degree * conv.lin(x)
        out = inverse_sqrt_degree * (segment_sum(scaled, plan).to(scaled.dtype) + scaled)
        return out if conv.bias is None else out + conv.bias

    return forward


def _shared_sort_sage_forward(original, graphs: GraphPlans):
    """SAGEConv.forward for a mean/sum aggregation as lin_l(aggregate(x_j)) + lin_r(x), projected before it
    aggregates (W·mean(x_j) = mean(W·x_j)) and gathered by one plan per edge_index shared by every layer;
    other configurations go to `original`. Like the GCN one it bypasses `propagate`, so PyG's propagate
    hooks and explainer masks do not apply inside the export context."""
    import torch.nn.functional as F
    from torch_geometric.nn.aggr import MeanAggregation, SumAggregation

    def forward(conv, x, edge_index, size=None):
        plain = (isinstance(x, Tensor) and x.dim() == 2 and _edge_list(edge_index)
                 and size is None and not conv.project
                 and conv.flow == "source_to_target"
                 and isinstance(conv.aggr_module, (MeanAggregation, SumAggregation)))
        if not plain:
            return original(conv, x, edge_index, size)
        plan, counts = _graph_plan(graphs, edge_index, x.shape[0], drop_self_loops=False)
        projected = F.linear(x, conv.lin_l.weight)  # no bias: it is added once, after the mean
        out = segment_sum(projected, plan).to(projected.dtype)
        if isinstance(conv.aggr_module, MeanAggregation):
            out = out / counts.clamp(min=1).to(out.dtype).unsqueeze(-1)
        return finish_projected_sage(conv, x, out)

    return forward


@contextlib.contextmanager
def scatter_free_aggregation() -> Iterator[None]:
    """While exporting: PyG's sum/mean scatters (aggregations, GCN's degree) are segment_reduce, GCNConv
    and SAGEConv gather through one plan per graph across their layers (SAGEConv projecting first);
    everything is put back on exit."""
    import torch_geometric.nn.aggr.base as aggregation
    import torch_geometric.nn.conv.gcn_conv as gcn
    from torch_geometric.nn import GCNConv, SAGEConv

    saved = aggregation.scatter, gcn.scatter, SAGEConv.forward, GCNConv.forward
    aggregation.scatter = gcn.scatter = segment_reduce
    SAGEConv.forward = _shared_sort_sage_forward(projected_sage_forward(saved[2]), graphs={})
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
