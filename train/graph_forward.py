"""Mathematically identical, cheaper forwards of PyG layers: SAGEConv projects before it aggregates.

Used where the formulation matters and the model must stay PyG's own: the ONNX export of a graph model
(export.graph_aggregation) and the full-graph evaluation of every training epoch (train.tasks), where
the mean over 13,264 Cora edges of 1433-wide features was most of GraphSAGE's evaluation time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch.nn.functional as F
from torch import Tensor


def projected_sage_forward(original):
    """SAGEConv.forward that applies lin_l's weight before aggregating where the aggregation is linear:
    W·mean(x_j) = mean(W·x_j), so 256 (or 7) columns are summed instead of 1433 (or 256)."""
    from torch_geometric.nn.aggr import MeanAggregation, SumAggregation

    def forward(conv, x, edge_index, size=None):
        linear = isinstance(conv.aggr_module, (MeanAggregation, SumAggregation))
        if not isinstance(x, Tensor) or conv.project or not linear:
            return original(conv, x, edge_index, size)
        projected = F.linear(x, conv.lin_l.weight)  # no bias: it is added once, after the mean
        return finish_projected_sage(conv, x, conv.propagate(edge_index, x=(projected, projected), size=size))

    return forward


def finish_projected_sage(conv, x: Tensor, aggregated: Tensor) -> Tensor:
    """SAGEConv's output from `aggregated` [nodes, out], the mean/sum of lin_l-projected neighbours: lin_l's
    bias, the root term lin_r(x) and the optional L2 normalisation, as SAGEConv.forward adds them."""
    out = aggregated
    if conv.lin_l.bias is not None:
        out = out + conv.lin_l.bias
    if conv.root_weight:
        out = out + conv.lin_r(x)
    return F.normalize(out, p=2.0, dim=-1) if conv.normalize else out



@contextlib.contextmanager
def sage_projects_first() -> Iterator[None]:
    """While inside: SAGEConv applies lin_l before a mean/sum aggregation (projected_sage_forward); put
    back on exit."""
    from torch_geometric.nn import SAGEConv

    original = SAGEConv.forward
    SAGEConv.forward = projected_sage_forward(original)
    try:
        yield
    finally:
        SAGEConv.forward = original
