"""Soak: `bench run` ten times in one process; memory and open files stay flat, every JSON is valid."""

from __future__ import annotations

import json
import shutil

import psutil
import pytest

from bench.run.config import RunConfig
from bench.run.runner import run_benchmarks

RUNS = 10
RSS_SLACK = 32 * 2**20  # bytes: allocator noise, not a leak (a leak of a session per run is far more)
FD_SLACK = 2


@pytest.mark.slow  # about a minute: each run starts a pytest process that imports torch and onnxruntime
def test_ten_runs_in_a_row_do_not_leak(tmp_path, mnist_mlp_results):
    shutil.copytree(mnist_mlp_results / "exports", tmp_path / "exports")  # exported once, reused by every run
    config = RunConfig(models=("mnist-mlp",), runtimes=("eager", "onnxruntime"), batch_sizes=(1,),
                       results_dir=tmp_path, threads=1, warmup=1, max_time_s=0.01, min_rounds=2,
                       memory=False, stability_budget_s=0.01)
    me = psutil.Process()
    paths, baseline = [], None
    for i in range(RUNS):
        outcome = run_benchmarks(config)
        paths.append(outcome.json_path)
        if i == 0:  # after one run: imports, caches and the first export check are paid for
            baseline = (me.memory_info().rss, me.num_fds())
    rss, fds = me.memory_info().rss, me.num_fds()

    assert fds <= baseline[1] + FD_SLACK, f"open files grew from {baseline[1]} to {fds}"
    grew = (rss - baseline[0]) / 2**20
    print(f"soak: RSS {baseline[0] / 2**20:.1f} -> {rss / 2**20:.1f} MiB, fds {baseline[1]} -> {fds}")
    assert rss <= baseline[0] + RSS_SLACK, f"RSS grew by {grew:.1f} MiB over {RUNS} runs"
    assert len(set(paths)) == RUNS  # one JSON per run (each run takes seconds: no two share a time stamp)
    for path in paths:
        data = json.loads(path.read_text())
        assert sorted(b["extra_info"]["runtime"] for b in data["benchmarks"]) == ["eager", "onnxruntime"]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
