"""The scatter-free graph export: segment sums equal PyG's scatter, SAGEConv's projection-first forward equals
its own, the ONNX graphs hold no reducing scatter, and ONNX Runtime gives the same bits on every one of
1000 runs at 2 intra-op threads (ScatterND(add), the fast scatter, gives wrong rows now and then there)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.nn import GCNConv, SAGEConv
from torch_geometric.utils import scatter

from export.formats import get_format
from export.graph_aggregation import (
    BLOCK,
    FORMULATION,
    GROUP_WIDTHS,
    passes_messages,
    plan_gathers,
    scatter_free_aggregation,
    segment_reduce,
    segment_sum,
    sort_by_destination,
)
from export.layout import load_manifest
from export.pipeline import export_model, stale_formats
from train.registry import get_model

STRESS_RUNS = 1000  # the bar: every one of >= 1000 runs at 2 threads exact


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(nodes=st.integers(1, 40), edges=st.integers(0, 120), width=st.sampled_from([0, 1, 5]),
       reduce=st.sampled_from(["sum", "mean", "add"]), hub=st.booleans(), seed=st.integers(0, 2**16))
def test_segment_sums_equal_pyg_scatter(nodes, edges, width, reduce, hub, seed):
    gen = torch.Generator().manual_seed(seed)
    index = torch.randint(0, nodes, (edges,), generator=gen)
    if hub:  # most edges into one node: the duplicate indices a racing scatter gets wrong
        index[: edges * 3 // 4] = nodes - 1
    src = torch.randn((edges, width) if width else (edges,), generator=gen)
    expected = scatter(src, index, 0, nodes, reduce)
    torch.testing.assert_close(segment_reduce(src, index, 0, nodes, reduce), expected, atol=1e-5, rtol=1e-5)


def test_other_reductions_and_dims_are_pyg_own():
    src, index = torch.randn(6, 3), torch.tensor([0, 2, 2, 1, 0, 2])
    assert torch.equal(segment_reduce(src, index, 0, 3, "max"), scatter(src, index, 0, 3, "max"))
    assert torch.equal(segment_reduce(src.T, index, 1, 3, "sum"), scatter(src.T, index, 1, 3, "sum"))


@pytest.mark.parametrize("options", [{}, {"aggr": "sum"}, {"root_weight": False}, {"normalize": True},
                                     {"aggr": "max"}, {"project": True}])
def test_sage_projects_before_it_aggregates_with_the_same_result(options):
    torch.manual_seed(0)
    conv = SAGEConv(12, 4, **options).eval()
    x, edge_index = torch.randn(30, 12), torch.randint(0, 30, (2, 90))
    with torch.no_grad():
        expected = conv(x, edge_index)
        with scatter_free_aggregation():
            formulated = conv(x, edge_index)
    torch.testing.assert_close(formulated, expected, atol=1e-5, rtol=1e-5)
    assert SAGEConv.forward.__name__ == "forward" and "projected" not in SAGEConv.forward.__qualname__


def test_blocked_prefix_sums_hold_float32_rounding_over_a_long_prefix():
    # 200,000 messages into 2,000 destinations, offset by 1000: a float32 running prefix would carry
    # ~1e8 and lose whole units; across blocks the prefix is float64, so each sum keeps float32's rounding.
    gen = torch.Generator().manual_seed(0)
    index = torch.randint(0, 2000, (200_000,), generator=gen)
    src = torch.randn(200_000, 3, generator=gen, dtype=torch.float64) + 1000
    expected = scatter(src, index, 0, 2000, "sum")
    summed = segment_reduce(src.float(), index, 0, 2000, "sum").double()
    assert ((summed - expected).abs() / expected.abs()).max() < 1e-6


def test_sorted_edges_count_only_the_edges_kept_and_long_runs_span_blocks():
    long_run = GROUP_WIDTHS[-1] + BLOCK + 3  # longer than the widest group: prefix sums over two+ blocks
    # node 2: 3 edges in the 4-wide group (one padded slot), node 0: 1, node 3: a long run, 1 and 4: none
    index = torch.tensor([2, 0, 2, 1, 2] + [3] * long_run)
    keep = torch.ones_like(index, dtype=torch.bool)
    keep[3] = False  # the only edge into 1: dropped (as GCN drops a graph's own self-loops)
    sorted_edges = sort_by_destination(index, 5, keep=keep)
    assert sorted_edges.counts.tolist() == [1, 0, 3, long_run, 0]
    assert sorted_edges.ends.tolist() == [0, 1, 1, 4, 4 + long_run, 4 + long_run]
    assert sorted_edges.destination.tolist() == [0, 2, 2, 2] + [3] * long_run + [5]  # dropped: last
    plan = plan_gathers(sorted_edges, sorted_edges.order, zero_row=index.shape[0])
    assert (plan.long_low.tolist(), plan.long_high.tolist()) == ([0], [long_run])  # node 3 alone: prefix sums
    (node_2,) = [g for g in plan.groups if g.dim() == 2 and g.shape[1] == 4]
    assert node_2.tolist() == [[0, 2, 4, index.shape[0]]]  # its three edges, then the zero row
    rows = torch.arange(index.shape[0], dtype=torch.float32).unsqueeze(-1)
    expected = [1.0, 0.0, 0 + 2 + 4, float(sum(range(5, 5 + long_run))), 0.0]
    assert segment_sum(rows, plan).squeeze(-1).tolist() == expected


@pytest.mark.parametrize("options", [{}, {"bias": False}, {"improved": True}, {"normalize": False},
                                     {"add_self_loops": False}])
@pytest.mark.parametrize("graph", ["random", "self-loops and isolated nodes", "no edges", "weighted", "hub"])
def test_gcn_with_one_shared_sort_equals_its_own_forward(options, graph, monkeypatch):
    import export.graph_aggregation as formulation

    sorts = []
    monkeypatch.setattr(formulation, "sort_by_destination",
                        lambda *a, **k: sorts.append(1) or sort_by_destination(*a, **k))
    torch.manual_seed(0)
    first, second = GCNConv(12, 8, **options).eval(), GCNConv(8, 4, **options).eval()
    x, edge_index, weight = torch.randn(30, 12), torch.randint(0, 25, (2, 90)), None  # 25-29: no edges
    if graph == "self-loops and isolated nodes":
        edge_index[1, :10] = edge_index[0, :10]
    elif graph == "no edges":
        edge_index = edge_index[:, :0]
    elif graph == "weighted":  # PyG's own forward: the formulation covers unweighted graphs only
        weight = torch.rand(edge_index.shape[1])
    elif graph == "hub":  # node 0's run is longer than the widest group: the prefix sums take it
        edge_index[1, : GROUP_WIDTHS[-1] + 8] = 0
        assert int(((edge_index[1] == 0) & (edge_index[0] != 0)).sum()) > GROUP_WIDTHS[-1]

    def two_layers():
        return second(torch.relu(first(x, edge_index, weight)), edge_index, weight)

    with torch.no_grad():
        expected = two_layers()
        with scatter_free_aggregation():
            formulated = two_layers()
    torch.testing.assert_close(formulated, expected, atol=1e-5, rtol=1e-5)
    assert "shared" not in GCNConv.forward.__qualname__
    plain = graph != "weighted" and options in ({}, {"bias": False})
    # PyG's forward with segment sums sorts four times (two degrees, two sums); the shared one once
    # (two without normalisation: no degrees)
    assert len(sorts) == (1 if plain else 2 if options.get("normalize") is False else 4)


@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_sage_layers_share_one_sort_and_equal_their_own_forward(aggr, monkeypatch):
    import export.graph_aggregation as formulation

    sorts = []
    monkeypatch.setattr(formulation, "sort_by_destination",
                        lambda *a, **k: sorts.append(1) or sort_by_destination(*a, **k))
    torch.manual_seed(0)
    first, second = SAGEConv(12, 8, aggr=aggr).eval(), SAGEConv(8, 4, aggr=aggr).eval()
    x, edge_index = torch.randn(30, 12), torch.randint(0, 25, (2, 90))
    edge_index[1, : GROUP_WIDTHS[-1] + 8] = 3  # one run past the widest group, and nodes 25-29 unreached

    def two_layers():
        return second(torch.relu(first(x, edge_index)), edge_index)

    with torch.no_grad():
        expected = two_layers()
        with scatter_free_aggregation():
            formulated = two_layers()
    torch.testing.assert_close(formulated, expected, atol=1e-5, rtol=1e-5)
    assert len(sorts) == 1


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta", "ignore:Sparse invariant checks")
@pytest.mark.parametrize("conv", [SAGEConv(12, 4), GCNConv(12, 4)], ids=["sage", "gcn"])
def test_a_sparse_adjacency_goes_to_pyg_own_forward(conv):
    from torch_geometric.utils import to_torch_csr_tensor

    torch.manual_seed(0)
    x, edge_index = torch.randn(30, 12), torch.randint(0, 30, (2, 90))
    adjacency = to_torch_csr_tensor(edge_index.flip(0), size=(30, 30))  # [2, E] checks must refuse it
    with torch.no_grad():
        expected = conv.eval()(x, adjacency)
        with scatter_free_aggregation():
            formulated = conv(x, adjacency)
    torch.testing.assert_close(formulated, expected, atol=1e-5, rtol=1e-5)


def test_only_message_passing_models_are_formulated():
    assert passes_messages(get_model("cora-gcn").build(seed=0))
    assert not passes_messages(get_model("cora-mlp").build(seed=0))
    assert not passes_messages(get_model("mnist-cnn").build(seed=0))


@pytest.fixture(scope="module")
def graph_exports(tmp_path_factory):
    """ONNX exports of cora-gcn and cora-sage (seed 0) through the pipeline, with their manifests."""
    out = tmp_path_factory.mktemp("graph-onnx")
    # The clean-interpreter reload is test_export's: every model's every format is reloaded there.
    results = {name: export_model(get_model(name), out, seed=0, formats=("onnx",), fresh_process=False)
               for name in ("cora-gcn", "cora-sage")}
    return out, results


def _hub_graph(spec, nodes: int, edges: int, seed: int):
    """A graph whose edges mostly point into a few hubs (many duplicate destinations), like citations."""
    x, edge_index = spec.example_inputs(nodes, num_edges=edges, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    edge_index[1, : edges // 2] = torch.randint(0, 5, (edges // 2,), generator=gen)
    return x, edge_index


@pytest.mark.parametrize("name", ["cora-gcn", "cora-sage"])
def test_graph_exports_hold_no_reducing_scatter_and_record_it(graph_exports, name):
    out, results = graph_exports
    (result,) = [r for r in results[name] if r.format == "onnx"]
    assert result.ok, result.reason
    graph = onnx.load(str(out / name / "model.onnx")).graph
    ops = [n.op_type for n in graph.node]
    assert "ScatterElements" not in ops and "ReduceSum" in ops and "CumSum" in ops  # groups, long runs
    assert ops.count("TopK") == 1  # one sort of the graph serves every layer (and GCN's degrees)
    for node in graph.node:
        if node.op_type == "ScatterND":  # the positions' writes: plain assignments, never a reduction
            reduction = {a.name: a.s.decode() for a in node.attribute}.get("reduction", "none")
            assert reduction == "none"
    entry = load_manifest(out / name)["formats"]["onnx"]
    assert entry["graph_aggregation"] == FORMULATION
    fmt = get_format("onnx")
    assert fmt.is_current(entry) and not fmt.is_current({k: v for k, v in entry.items()
                                                         if k != "graph_aggregation"})
    assert stale_formats(get_model(name), out, None, 0, ["onnx"]) == ()


@pytest.mark.parametrize("name", ["cora-gcn", "cora-sage"])
def test_graph_exports_match_eager_on_hubs_past_the_widest_group(graph_exports, name):
    import onnxruntime as ort

    out, _ = graph_exports
    spec = get_model(name)
    inputs = _hub_graph(spec, 200, 800, seed=1)  # five hubs of ~80 edges each: every group and long runs
    assert int(torch.bincount(inputs[1][1]).max()) > GROUP_WIDTHS[-1]
    with torch.inference_mode():
        reference = spec.build(seed=0).eval()(*inputs).numpy()
    session = ort.InferenceSession(str(out / name / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {n: t.numpy() for n, t in zip(spec.input_names, inputs, strict=True)}
    np.testing.assert_allclose(session.run(None, feeds)[0], reference, atol=1e-4, rtol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cora-gcn", "cora-sage"])
def test_every_one_of_1000_runs_at_2_threads_gives_the_same_bits_and_matches_eager(graph_exports, name):
    import onnxruntime as ort

    out, _ = graph_exports
    spec = get_model(name)
    inputs = _hub_graph(spec, 600, 2400, seed=4)
    with torch.inference_mode():
        reference = spec.build(seed=0).eval()(*inputs).numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    session = ort.InferenceSession(str(out / name / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    feeds = {n: t.numpy() for n, t in zip(spec.input_names, inputs, strict=True)}
    first = session.run(None, feeds)[0]
    np.testing.assert_allclose(first, reference, atol=1e-4, rtol=1e-3)
    differing = [i for i in range(STRESS_RUNS) if not np.array_equal(session.run(None, feeds)[0], first)]
    assert differing == [], f"{len(differing)} of {STRESS_RUNS} runs differed from the first"
