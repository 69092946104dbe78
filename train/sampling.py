"""Neighbour-sampled mini-batches for GraphSAGE: PyG's NeighborLoader when pyg-lib or torch-sparse is
installed, else a vectorised pure-torch sampler plugged into PyG's own NodeLoader machinery."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch_geometric.typing
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import NeighborLoader, NodeLoader
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput


def has_native_sampler() -> bool:
    """True when PyG's compiled neighbour sampling (pyg-lib or torch-sparse) is importable."""
    return bool(torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE)


class TorchNeighborSampler(BaseSampler):
    """Directional neighbour sampling without replacement, as PyG's NeighborSampler does it.

    Hop h samples up to `num_neighbors[h]` in-neighbours (sources j of edges j -> i) of each node
    added at hop h-1. Output follows PyG: seed nodes first, local `row` = source, `col` = target,
    `edge` = ids into the original `edge_index`. Randomness comes from torch's global generator.
    """

    def __init__(self, data: Data, num_neighbors: Sequence[int]) -> None:
        self.num_nodes = int(data.num_nodes)
        self.num_neighbors = [int(k) for k in num_neighbors]
        if any(k <= 0 for k in self.num_neighbors):
            raise ValueError(f"fanouts must be positive, got {self.num_neighbors}")
        src, dst = data.edge_index.cpu()
        # CSC: edges grouped by target, so a node's in-neighbours are one contiguous slice.
        order = torch.argsort(dst, stable=True)
        self.src_sorted = src[order]
        self.edge_ids = order
        counts = torch.bincount(dst, minlength=self.num_nodes)
        self.colptr = torch.zeros(self.num_nodes + 1, dtype=torch.long)
        self.colptr[1:] = torch.cumsum(counts, 0)

    def _sample_hop(self, frontier: Tensor, fanout: int) -> tuple[Tensor, Tensor]:
        """(positions into the CSC arrays, target node of each) for up to `fanout` edges per node."""
        start = self.colptr[frontier]
        degree = self.colptr[frontier + 1] - start
        total = int(degree.sum())
        if total == 0:
            empty = torch.empty(0, dtype=torch.long)
            return empty, empty
        owner = torch.repeat_interleave(torch.arange(len(frontier)), degree)
        # Position of each edge inside its owner's segment; segments keep their places after sorting.
        rank = torch.arange(total) - torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree)
        positions = start[owner] + rank
        # Random keys sorted within each owner's segment: the first `fanout` are a uniform sample
        # without replacement. owner + U[0,1) keeps segments apart in one global sort.
        keys = owner.to(torch.float64) + torch.rand(total, dtype=torch.float64)
        keep = torch.argsort(keys)[rank < fanout]
        return positions[keep], frontier[owner[keep]]

    def sample_from_edges(self, index, neg_sampling=None) -> SamplerOutput:
        """Link-level sampling is not needed for node classification."""
        raise NotImplementedError("TorchNeighborSampler samples from nodes only")

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        """Sample the fanout tree around `index.node`; nodes keep first-seen order, seeds first."""
        seeds = index.node.cpu().long()
        local = torch.full((self.num_nodes,), -1, dtype=torch.long)
        local[seeds] = torch.arange(len(seeds))
        nodes, rows, cols, edges = [seeds], [], [], []
        sampled_nodes, sampled_edges = [len(seeds)], []
        frontier, count = seeds, len(seeds)
        for fanout in self.num_neighbors:
            pos, targets = self._sample_hop(frontier, fanout)
            sources = self.src_sorted[pos]
            fresh = torch.unique(sources[local[sources] < 0])
            # unique() sorts; keep first-appearance order like PyG so results do not depend on ids.
            if len(fresh):
                first_seen = torch.full((self.num_nodes,), len(sources), dtype=torch.long)
                first_seen.scatter_reduce_(0, sources, torch.arange(len(sources)), reduce="amin")
                fresh = fresh[torch.argsort(first_seen[fresh])]
            local[fresh] = torch.arange(count, count + len(fresh))
            count += len(fresh)
            nodes.append(fresh)
            rows.append(local[sources])
            cols.append(local[targets])
            edges.append(self.edge_ids[pos])
            sampled_nodes.append(len(fresh))
            sampled_edges.append(len(pos))
            frontier = fresh
        out = SamplerOutput(
            node=torch.cat(nodes), row=torch.cat(rows), col=torch.cat(cols), edge=torch.cat(edges),
            num_sampled_nodes=sampled_nodes, num_sampled_edges=sampled_edges,
        )
        out.metadata = (index.input_id, index.time)  # what NodeLoader.filter_fn reads back
        return out


def neighbor_loader(data: Data, input_nodes: Tensor, num_neighbors: Sequence[int], batch_size: int,
                    shuffle: bool = True, force_torch: bool = False, num_workers: int = 0) -> NodeLoader:
    """Mini-batches of `batch_size` seed nodes with their sampled neighbourhoods (`batch.batch_size`
    first nodes are the seeds). Native PyG sampling when available unless `force_torch`."""
    if has_native_sampler() and not force_torch:
        return NeighborLoader(data, num_neighbors=list(num_neighbors), input_nodes=input_nodes,
                              batch_size=batch_size, shuffle=shuffle, num_workers=num_workers)
    sampler = TorchNeighborSampler(data, num_neighbors)
    return NodeLoader(data, node_sampler=sampler, input_nodes=input_nodes, batch_size=batch_size,
                      shuffle=shuffle, num_workers=num_workers)
