"""load_benchmarks over real `bench run` files: a complete run, a later one stopped by Ctrl-C after its first
case, then a later `--no-memory` run (tests/records/data, gzipped; mnist-mlp, eager and ONNX Runtime at
batch 1, untrained weights)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bench.records.schema import RowKey
from bench.records.store import load_benchmarks

DATA = Path(__file__).parent / "data"
EAGER, ORT = RowKey("mnist-mlp", "eager", "cpu", 1), RowKey("mnist-mlp", "onnxruntime", "cpu", 1)


@pytest.fixture
def results(tmp_path) -> Path:
    """results/benchmarks/ with the three real files, named so that they sort in the order they ran."""
    folder = tmp_path / "results" / "benchmarks"
    folder.mkdir(parents=True)
    for stamp, name in (("100000", "complete"), ("110000", "interrupted"), ("120000", "no_memory")):
        raw = gzip.decompress((DATA / f"run_{name}_cpu.json.gz").read_bytes())
        (folder / f"20261204T{stamp}Z_cpu.json").write_bytes(raw)
    return tmp_path / "results"


def test_each_case_from_the_newest_complete_run_with_memory_kept(results):
    folder = results / "benchmarks"
    complete, interrupted, no_memory = sorted(folder.glob("*.json"))
    bench = load_benchmarks(results)
    rows = {r.key: r for r in bench.rows}
    assert set(rows) == {EAGER, ORT}
    assert all(r.status == "ok" and r.source == no_memory for r in rows.values())
    # The --no-memory run timed them; their memory comes from the complete run, on the same artifacts.
    assert rows[EAGER].peak_memory_bytes is not None and rows[ORT].peak_memory_bytes is not None
    assert bench.memory_from == {EAGER: complete, ORT: complete}
    assert bench.files == (complete, no_memory) and bench.tag(no_memory) == "#2"
    left = {r.path: r for r in bench.runs}[interrupted]
    assert left.interrupted and left.used == 0 and left.covered == 1  # its unreached case is no verdict
    assert left.left_out.startswith("interrupted with 1 finished case(s)")


def test_named_runs_are_used_as_they_are(results):
    complete, interrupted, no_memory = sorted((results / "benchmarks").glob("*.json"))
    only = load_benchmarks(results, [interrupted])
    assert [(r.key, r.status, r.source) for r in only.rows] == [(EAGER, "ok", interrupted)]
    assert only.chosen and only.runs[0].interrupted

    alone = load_benchmarks(results, [no_memory])  # nothing else named: memory stays empty, and says so
    assert all(r.peak_memory_bytes is None for r in alone.rows)
    assert alone.memory_missing == {EAGER: no_memory, ORT: no_memory}
