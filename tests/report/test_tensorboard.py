"""TensorBoard logs of a benchmark JSON: one scalar series per metric/model/device/runtime, a text table."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bench.errors import BenchError
from bench.report.tensorboard import log_benchmark
from tests.report_fixtures import make_results


def test_rows_become_scalars_stepped_by_batch_and_a_text_table(tmp_path):
    results = make_results(tmp_path)
    json_path = results / "benchmarks" / "20261123T110000Z_cpu.json"
    logged = log_benchmark(json_path, results / "runs" / "bench")
    assert logged == results / "runs" / "bench" / "20261123T110000Z_cpu"
    events = EventAccumulator(str(logged))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert "p50_ms/cora-gcn/cpu/eager" in scalars and "speedup_vs_eager/mnist-mlp/cpu/onnxruntime" in scalars
    assert "p50_ms/cora-gcn/cpu/torchscript" not in scalars  # skipped: nothing measured
    [point] = events.Scalars("p50_ms/cora-gcn/cpu/onnxruntime")
    assert point.step == 2708 and point.value == pytest.approx(2.0)
    [speedup] = events.Scalars("speedup_vs_eager/mnist-mlp/cpu/onnxruntime")
    assert speedup.step == 64 and speedup.value == pytest.approx(4.0)
    text = events.Tensors("results/cpu/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| model | runtime |" in text and "export failed: test" in text
    assert not [p for p in logged.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_logging_the_same_run_twice_is_refused(tmp_path):
    results = make_results(tmp_path)
    json_path = results / "benchmarks" / "20261123T110000Z_cpu.json"
    log_benchmark(json_path, tmp_path / "tb")
    with pytest.raises(BenchError, match="already exists"):
        log_benchmark(json_path, tmp_path / "tb")
