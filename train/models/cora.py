"""Cora node classifiers: MLP, GCN and GraphSAGE (report 000)."""

from __future__ import annotations

import torch
from torch import nn

from train.data.registry import get_dataset
from train.registry import CORA_NUM_FEATURES, ModelSpec, TensorSpec, register_model

CORA_CLASSES = get_dataset("cora").num_classes
_X = TensorSpec("x", ("num_nodes", CORA_NUM_FEATURES))
_EDGES = TensorSpec("edge_index", (2, "num_edges"), torch.int64, kind="edge_index")


class CoraMLP(nn.Module):
    """Linear(1433→hidden) · ReLU · Dropout · Linear(hidden→7); ignores the graph."""

    def __init__(self, in_dim: int = CORA_NUM_FEATURES, hidden: int = 256,
                 num_classes: int = CORA_CLASSES, dropout: float = 0.5) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CoraGCN(nn.Module):
    """GCNConv(1433→hidden) · ReLU · Dropout · GCNConv(hidden→7), full batch."""

    def __init__(self, in_dim: int = CORA_NUM_FEATURES, hidden: int = 256,
                 num_classes: int = CORA_CLASSES, dropout: float = 0.5) -> None:
        from torch_geometric.nn import GCNConv  # on use: PyG imports torch._dynamo (~1 s) for every process

        super().__init__()
        # cached=False: a cached normalisation is baked into exports for one graph only.
        self.conv1 = GCNConv(in_dim, hidden, cached=False)
        self.conv2 = GCNConv(hidden, num_classes, cached=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = self.dropout(torch.relu(self.conv1(x, edge_index)))
        return self.conv2(h, edge_index)


class CoraSAGE(nn.Module):
    """SAGEConv(1433→hidden, mean) · ReLU · Dropout · SAGEConv(hidden→7, mean)."""

    def __init__(self, in_dim: int = CORA_NUM_FEATURES, hidden: int = 256,
                 num_classes: int = CORA_CLASSES, dropout: float = 0.5) -> None:
        from torch_geometric.nn import SAGEConv  # on use, as in CoraGCN

        super().__init__()
        self.conv1 = SAGEConv(in_dim, hidden, aggr="mean")
        self.conv2 = SAGEConv(hidden, num_classes, aggr="mean")
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = self.dropout(torch.relu(self.conv1(x, edge_index)))
        return self.conv2(h, edge_index)


register_model(ModelSpec(
    "cora-mlp", "cora", CORA_CLASSES, CoraMLP, (_X,), "2-layer MLP on node features",
    is_graph=True, label="MLP",
))
register_model(ModelSpec(
    "cora-gcn", "cora", CORA_CLASSES, CoraGCN, (_X, _EDGES), "2-layer GCN, full batch",
    is_graph=True, label="GCN",
))
register_model(ModelSpec(
    "cora-sage", "cora", CORA_CLASSES, CoraSAGE, (_X, _EDGES),
    "2-layer GraphSAGE (mean), trained with neighbour sampling", is_graph=True, label="GraphSAGE",
))
