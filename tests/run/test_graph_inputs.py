"""Graph rows run on the real Cora citation graph when it is on disk, else on a random graph of its size,
and each row says which; dense rows keep their seeded random batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.run.graph_inputs import benchmark_inputs
from tests.train_fixtures import copy_shared
from train.data.paths import DATA_DIR_ENV
from train.registry import CORA_NUM_EDGES, CORA_NUM_NODES, get_model


@pytest.fixture(scope="module")
def cora_dir(shared_data, tmp_path_factory) -> Path:
    """A data dir holding a copy of the real Cora raw files (the loader writes its processed files there)."""
    root = tmp_path_factory.mktemp("data")
    return copy_shared("cora", root)


def test_graph_rows_run_on_the_real_cora_when_it_is_there(cora_dir):
    (x, edge_index), label = benchmark_inputs(get_model("cora-gcn"), CORA_NUM_NODES, 0, cora_dir)
    assert x.shape == (CORA_NUM_NODES, 1433) and edge_index.shape == (2, CORA_NUM_EDGES)
    # Training's features (rows sum to one) and the citation edges: node degrees are skewed (max 168),
    # unlike a uniform random graph's.
    torch.testing.assert_close(x.sum(1)[x.sum(1) > 0], torch.ones(int((x.sum(1) > 0).sum())))
    assert int(torch.bincount(edge_index[1]).max()) == 168
    assert label.startswith("Cora citation graph (2708 nodes, 10556 edges") and str(cora_dir) in label
    (features,), mlp_label = benchmark_inputs(get_model("cora-mlp"), None, 0, cora_dir)
    assert torch.equal(features, x) and mlp_label == label


def test_without_cora_a_random_graph_of_its_size_says_so(tmp_path):
    spec = get_model("cora-sage")
    inputs, label = benchmark_inputs(spec, CORA_NUM_NODES, 3, tmp_path)
    expected = spec.example_inputs(CORA_NUM_NODES, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(inputs, expected, strict=True))
    assert label == (f"random graph of Cora's size (2708 nodes, {CORA_NUM_EDGES} uniform edges, seed 3): "
                     f"Cora not found under {tmp_path}")


def test_unreadable_cora_is_named_unreadable(cora_dir, tmp_path):
    broken = tmp_path / "data"
    shutil.copytree(cora_dir / "cora" / "raw", broken / "cora" / "raw", copy_function=shutil.copyfile)
    (broken / "cora" / "raw" / "ind.cora.graph").write_bytes(b"not a pickle")
    _, label = benchmark_inputs(get_model("cora-gcn"), None, 0, broken)
    assert label.startswith("random graph of Cora's size")
    assert label.endswith(f"Cora unreadable under {broken}")


def test_dense_rows_and_smaller_graphs_keep_their_seeded_inputs(cora_dir):
    spec = get_model("mnist-mlp")
    (image,), label = benchmark_inputs(spec, 4, 1, cora_dir)
    assert torch.equal(image, spec.example_inputs(4, seed=1)[0]) and label == ""
    inputs, label = benchmark_inputs(get_model("cora-gcn"), 120, 1, cora_dir)
    assert inputs[0].shape[0] == 120 and label == ""


def test_a_run_records_and_shows_the_graph_its_rows_ran_on(cora_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)  # --data-dir sets it for the process: undone after
    result = CliRunner().invoke(app, [
        "run", "--models", "cora-gcn", "--runtimes", "eager", "--data-dir", str(cora_dir),
        "--results-dir", str(tmp_path), "--threads", "1", "--warmup", "1", "--max-time", "0.05",
        "--min-rounds", "2", "--no-memory", "--no-paired", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    (saved,) = (tmp_path / "benchmarks").glob("*.json")
    (row,) = json.loads(saved.read_text())["benchmarks"]
    assert row["extra_info"]["inputs"].startswith("Cora citation graph (2708 nodes, 10556 edges")
    assert "the nodes of the graph it ran on: Cora citation graph" in " ".join(result.output.split())


def test_mnist_rows_and_parity_use_real_test_images_when_the_data_dir_has_them(shared_data, tmp_path,
                                                                               monkeypatch):
    from export.cases import parity_cases
    from train.data.mnist import load_mnist_tensors, normalise

    data = copy_shared("mnist", tmp_path / "data")
    spec = get_model("mnist-cnn")
    (images,), label = benchmark_inputs(spec, 4, 0, data)
    expected = normalise(load_mnist_tensors(data, download=False)[2][:4])
    assert torch.equal(images, expected)
    assert label == f"MNIST test images (the first of the split) from {data}"
    (random,), none = benchmark_inputs(spec, 4, 0, tmp_path / "empty")
    assert torch.equal(random, spec.example_inputs(4, seed=0)[0]) and none == ""
    monkeypatch.setenv(DATA_DIR_ENV, str(data))  # the exports' parity reads the data dir the run set
    cases, checked_on = parity_cases(spec)
    assert [c[0].shape[0] for c in cases] == [1, 3, 5] and torch.equal(cases[1][0], expected[1:4])
    assert checked_on == f"batch 1, 3, 5 of MNIST test images (the first of the split) from {data}"
