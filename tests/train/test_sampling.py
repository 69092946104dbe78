"""The pure-torch neighbour sampler: fanouts respected, only real edges, PyG's output conventions."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.sampler import NodeSamplerInput

from train.sampling import TorchNeighborSampler, has_native_sampler, neighbor_loader


def _graph(num_nodes: int = 120, seed: int = 0) -> Data:
    """Random directed graph with hubs (in-degree far above the fanouts) and leaves (below them)."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (900,), generator=gen)
    dst = torch.cat([torch.randint(0, 10, (500,), generator=gen),  # 10 hubs take 500 edges
                     torch.randint(0, num_nodes, (400,), generator=gen)])
    edge_index = torch.unique(torch.stack([src, dst]), dim=1)  # no parallel edges
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return Data(x=torch.randn(num_nodes, 4), edge_index=edge_index,
                y=torch.zeros(num_nodes, dtype=torch.long), num_nodes=num_nodes)


def _sample(data: Data, seeds: torch.Tensor, fanouts: list[int]):
    sampler = TorchNeighborSampler(data, fanouts)
    return sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds))


def _check(data: Data, seeds: torch.Tensor, fanouts: list[int], out) -> None:
    node, row, col = out.node, out.row, out.col
    # Seeds first, every node once.
    assert torch.equal(node[: len(seeds)], seeds)
    assert len(torch.unique(node)) == len(node)
    # Only real edges: each sampled (source, target) is the original edge its id points to.
    assert torch.equal(data.edge_index[:, out.edge], torch.stack([node[row], node[col]]))
    assert len(torch.unique(out.edge)) == len(out.edge)
    # Per hop: targets are the nodes added at the hop before, with min(in-degree, fanout) sources each.
    in_degree = torch.bincount(data.edge_index[1], minlength=data.num_nodes)
    assert out.num_sampled_nodes[0] == len(seeds)
    node_start, edge_start = 0, 0
    for hop, fanout in enumerate(fanouts):
        frontier = node[node_start: node_start + out.num_sampled_nodes[hop]]
        hop_edges = slice(edge_start, edge_start + out.num_sampled_edges[hop])
        targets = node[col[hop_edges]]
        counts = torch.zeros(data.num_nodes, dtype=torch.long).index_add_(
            0, targets, torch.ones_like(targets))
        assert torch.equal(counts[frontier], in_degree[frontier].clamp(max=fanout))
        assert int(counts.sum()) == int(counts[frontier].sum())  # no edge into a node outside the frontier
        node_start += out.num_sampled_nodes[hop]
        edge_start += out.num_sampled_edges[hop]
    assert node_start + out.num_sampled_nodes[-1] == len(node) and edge_start == len(out.edge)


@pytest.mark.parametrize("fanouts", [[10, 5], [3, 2], [1], [50, 50]])
def test_fanouts_and_real_edges(fanouts):
    data = _graph()
    torch.manual_seed(0)
    seeds = torch.tensor([0, 1, 2, 57, 99, 119])  # hubs and ordinary nodes
    _check(data, seeds, fanouts, _sample(data, seeds, fanouts))


def test_hubs_are_subsampled_without_replacement():
    data = _graph()
    torch.manual_seed(1)
    out = _sample(data, torch.tensor([0]), [10])
    assert out.num_sampled_edges == [10]  # node 0 is a hub: in-degree ~50
    assert len(torch.unique(out.row)) == 10


def test_same_seed_same_sample_and_different_seed_differs():
    data = _graph()
    seeds = torch.tensor([0, 1, 2])
    torch.manual_seed(7)
    a = _sample(data, seeds, [10, 5])
    torch.manual_seed(7)
    b = _sample(data, seeds, [10, 5])
    torch.manual_seed(8)
    c = _sample(data, seeds, [10, 5])
    assert torch.equal(a.edge, b.edge) and torch.equal(a.node, b.node)
    assert not torch.equal(a.edge, c.edge)


def test_isolated_seed_yields_no_edges():
    data = Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0], [1]]), num_nodes=3)
    out = _sample(data, torch.tensor([2]), [10, 5])
    assert out.node.tolist() == [2] and out.edge.numel() == 0


def test_loader_batches_carry_features_and_seed_count():
    data = _graph()
    train = torch.zeros(data.num_nodes, dtype=torch.bool)
    train[:70] = True
    loader = neighbor_loader(data, train, [10, 5], batch_size=32, force_torch=True)
    seen = []
    for batch in loader:
        assert torch.equal(batch.x, data.x[batch.n_id])
        assert batch.edge_index.max() < batch.num_nodes
        seen.append(batch.n_id[: batch.batch_size])
    assert sorted(torch.cat(seen).tolist()) == list(range(70))  # every seed exactly once per epoch


def test_fallback_used_without_pyg_lib_or_torch_sparse():
    data = _graph()
    loader = neighbor_loader(data, None, [2], batch_size=8)
    expected = "NeighborSampler" if has_native_sampler() else "TorchNeighborSampler"
    assert type(loader.node_sampler).__name__ == expected


def test_on_real_cora(tmp_path):
    from tests.train_fixtures import copy_shared
    from train.data.cora import load_cora

    data = load_cora(copy_shared("cora", tmp_path), download=False)
    seeds = data.train_mask.nonzero().view(-1)[:64]
    torch.manual_seed(42)
    _check(data, seeds, [10, 5], _sample(data, seeds, [10, 5]))


def test_graph_tasks_leave_the_shared_graph_where_it_was():
    # Data.to() moves in place; a task moving its graph to the GPU must not move the cached original
    # ("meta" stands in for CUDA on a CPU-only machine).
    from train.config import configs_for
    from train.tasks import FullGraphTask, SampledGraphTask

    data = _graph()
    data.train_mask = torch.ones(data.num_nodes, dtype=torch.bool)
    full = FullGraphTask(data, True, torch.device("meta"), 2)
    (cfg,) = configs_for("cora", ["cora-sage"])
    sampled = SampledGraphTask(data, cfg, torch.device("meta"), 2)
    assert data.x.device.type == "cpu" and full.data.x.device.type == "meta"
    assert sampled.data.x.device.type == "meta" and sampled.loader.data.x.device.type == "cpu"
