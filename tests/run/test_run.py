"""`bench run` end to end on one small model: runner, suites subprocess, JSON, table, CLI errors."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.measure.allocator import preloaded_allocator
from bench.records.reader import read_run
from bench.report.render import to_rich
from bench.report.tables import run_table
from bench.run.config import PROGRESS_ENV, RunConfig
from bench.run.runner import pytest_command, run_benchmarks

# Tiny timing budget: these tests check plumbing, not speed.
FAST = {"threads": 1, "warmup": 1, "max_time_s": 0.01, "min_rounds": 2, "memory": False}
FAST_CLI = ["--threads", "1", "--warmup", "1", "--max-time", "0.01", "--min-rounds", "2", "--no-memory"]


def test_runner_times_every_runtime_and_writes_comparable_json(mnist_mlp_results):
    config = RunConfig(models=("mnist-mlp",), batch_sizes=(1,), results_dir=mnist_mlp_results,
                       **(FAST | {"memory": True}))
    events = []
    outcome = run_benchmarks(config, on_event=events.append)

    assert re.fullmatch(r"\d{8}T\d{6}Z_cpu\.json", outcome.json_path.name)
    assert outcome.json_path.parent == mnist_mlp_results / "benchmarks"
    # Three rows and one paired test (the three runtimes in interleaved rounds).
    assert [(e.kind, e.total) for e in events if e.kind == "collected"] == [("collected", 4)]
    assert sorted(e.status for e in events if e.kind == "finished") == ["passed"] * 4
    rows = {r.runtime: r for r in outcome.rows}
    assert sorted(rows) == ["eager", "onnxruntime", "torchscript"]
    for row in rows.values():
        assert row.status == "ok" and row.p50_ms > 0 and row.p99_ms >= row.p50_ms
        assert row.threads == 1 and row.weights == "untrained, seed 0"
    assert rows["onnxruntime"].parity_passed and rows["torchscript"].parity_passed
    expected_speedup = rows["eager"].p50_ms / rows["onnxruntime"].p50_ms
    assert rows["onnxruntime"].speedup_vs_eager == pytest.approx(expected_speedup)

    data = json.loads(outcome.json_path.read_text())
    info = next(b for b in data["benchmarks"] if b["extra_info"]["runtime"] == "onnxruntime")
    assert info["group"] == "mnist-mlp|cpu|1"
    assert info["extra_info"]["providers"] == ["CPUExecutionProvider"]
    assert info["extra_info"]["p50_ms"] == pytest.approx(_median(info["stats"]["data"]) * 1e3)
    assert data["machine_info"]["bench"]["threads_used"] == 1
    assert data["bench"]["foreign_cpu_share"] == pytest.approx(outcome.foreign_cpu_share, abs=1e-4)
    # Numbers you can trust: memory by a named method, the roofline, the stability verdict.
    peak = data["machine_info"]["bench"]["matmul_peak"]
    assert peak["gflops"] == max(peak["measured_gflops"]) > 0 and peak["threads"] == 1
    assert peak["dtype"] == "float32"
    for bench_row in data["benchmarks"]:
        extra = bench_row["extra_info"]
        assert extra["peak_memory_bytes"] > 0 and "VmHWM" in extra["peak_memory_method"]
        assert extra["flops"] > 0 and extra["matmul_peak_gflops"] == peak["gflops"]
        assert extra["pct_of_peak"] == pytest.approx(100 * extra["gflops_achieved"] / peak["gflops"])
        assert extra["flops"] == 2 * (784 * 128 + 128 * 10)  # mnist-mlp at batch 1, counted by hand
        assert extra["unstable"] == (extra["iqr_over_median"] > 0.10)
        assert extra["timing_scope"].startswith("device-resident")
        assert extra["p50_ms"] == pytest.approx(bench_row["stats"]["median"] * 1e3)  # extra rounds counted
        assert len(bench_row["stats"]["data"]) == extra["rounds"]
        # The host malloc the run asked for (glibc here: retain, unless one is preloaded) and each row's
        # faults per call under it.
        preloaded = preloaded_allocator()
        assert extra["allocator"].startswith(f"{preloaded} (LD_PRELOAD" if preloaded else
                                             "glibc, freed memory kept")
        assert 0 <= extra["page_faults_per_call"] < 256
    assert data["bench"]["config"]["allocator"] == "retain"
    assert data["bench"]["allocator"] == rows["eager"].extra["allocator"]
    assert rows["eager"].peak_memory_bytes > 0 and rows["eager"].pct_of_peak > 0
    # Paired speedups: every runtime against eager over the same interleaved rounds, with an interval.
    paired = {p["runtime"]: p for p in data["bench"]["paired"]}
    assert sorted(paired) == ["onnxruntime", "torchscript"]
    for name, result in paired.items():
        assert result["rounds"] >= 2 and result["ci_low"] <= result["speedup"] <= result["ci_high"]
        assert rows[name].paired_speedup == pytest.approx(result["speedup"])
        assert len(result["ratios"]) == result["rounds"]
    assert rows["eager"].paired_speedup is None

    compare = shutil.which("pytest-benchmark", path=str(Path(sys.executable).parent))
    shown = subprocess.run([compare, "compare", str(outcome.json_path)], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "test_latency[mnist-mlp-onnxruntime-cpu-b1]" in shown.stdout


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def test_suite_skips_a_runtime_whose_export_failed_and_says_why(mnist_mlp_results, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    shutil.copytree(mnist_mlp_results / "exports", exports)
    manifest_path = exports / "mnist-mlp" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["formats"]["onnx"].update(ok=False, reason="export failed: made up for this test")
    manifest_path.write_text(json.dumps(manifest))
    config = RunConfig(models=("mnist-mlp",), runtimes=("eager", "onnxruntime"), batch_sizes=(1,),
                       results_dir=tmp_path, reuse_exports=True, **FAST)  # as `bench run` hands it over
    out_json, progress = tmp_path / "out.json", tmp_path / "progress"
    monkeypatch.setenv(PROGRESS_ENV, str(progress))
    command = pytest_command(config, out_json, config.write(tmp_path / "run_config.json"))
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]

    rows = read_run(out_json).rows
    assert [(r.runtime, r.status) for r in rows] == [("eager", "ok"), ("onnxruntime", "skipped")]
    assert rows[1].reason == "onnxruntime: export failed: made up for this test"
    assert "skipped: onnxruntime: export failed" in _render(to_rich(run_table(rows, "cpu")))
    events = [json.loads(line) for line in progress.read_text().splitlines()]
    assert [e["event"] for e in events] == ["collected", "finished", "finished", "finished"]
    assert events[2]["status"] == "skipped" and events[2]["runtime"] == "onnxruntime"
    # With one runtime left there is nothing to pair, and the paired test says so.
    assert events[3]["status"] == "skipped" and "test_paired" in events[3]["nodeid"]
    assert events[3]["reason"].startswith("fewer than two runtimes load: onnxruntime (onnxruntime: export")


def _render(table) -> str:
    from rich.console import Console

    console = Console(width=400, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_cli_run_prints_one_table_and_saves_json(mnist_mlp_results):
    args = ["run", "--models", "mnist-mlp", "--batch-sizes", "1", "--runtimes", "eager,onnxruntime",
            "--results-dir", str(mnist_mlp_results), *FAST_CLI]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "320"})
    assert result.exit_code == 0, result.output
    assert "Inference latency on cpu" in result.output
    assert re.search(r"mnist-mlp\s+│\s+onnxruntime\s+│\s+1\s+│", result.output)
    assert "_cpu.json" in result.output


def test_cli_include_transfer_times_host_round_trips_and_shows_the_roofline(mnist_mlp_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    args = ["run", "--models", "mnist-mlp", "--batch-sizes", "1", "--runtimes", "eager",
            "--results-dir", str(results), "--include-transfer", "--wide", *FAST_CLI]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "260"})
    assert result.exit_code == 0, result.output
    assert "GFLOP/s" in result.output and "% of GEMM" in result.output and "IQR/median" in result.output
    (saved,) = (results / "benchmarks").glob("*.json")
    data = json.loads(saved.read_text())
    extra = data["benchmarks"][0]["extra_info"]
    assert extra["timing_scope"].startswith("host→device→host") and "peak_memory_bytes" not in extra
    assert data["bench"]["suite"]["include_transfer"] is True
    assert "cudnn_benchmark" in data["machine_info"]["bench"]["cuda"]


def test_cli_cuda_without_cuda_exits_2_before_doing_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(app, ["run", "--device", "cuda", "--models", "mnist-mlp",
                                      "--results-dir", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device cuda requested but CUDA is not available")
    assert lines[0].endswith("use --device cpu")
    assert list(tmp_path.iterdir()) == []  # nothing exported, nothing written


@pytest.mark.parametrize(("args", "message"), [
    (["--models", "mnist-mlp,nope"], "error: unknown model 'nope'; choose one of: "),
    (["--runtimes", "tvm"],
     "error: unknown runtime 'tvm'; choose one of: eager, aoti, compile, onnxruntime, onnxruntime-int8, "
     "torchscript"),
    (["--batch-sizes", "1,0"], "error: --batch-sizes takes positive integers"),
    (["--device", "tpu"], "error: unknown device 'tpu'; choose one of: cpu, cuda"),
    (["--allocator", "jemalloc"], "error: --allocator must be one of retain, system, got 'jemalloc'"),
])
def test_cli_rejects_bad_input_with_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(app, ["run", "--results-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert result.output.startswith(message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.cuda
def test_runner_on_cuda_times_the_torch_runtimes_with_the_allocator_and_precision_recorded(mnist_mlp_results,
                                                                                          tmp_path):
    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    config = RunConfig(device="cuda", models=("mnist-mlp",), runtimes=("eager", "torchscript"),
                       batch_sizes=(1,), results_dir=results, **(FAST | {"memory": True}))
    outcome = run_benchmarks(config)
    assert [(r.runtime, r.status) for r in outcome.rows] == [("eager", "ok"), ("torchscript", "ok")]
    for row in outcome.rows:
        assert row.extra["runtime_device"].startswith("cuda") and row.parity_passed
        assert "allocator" in row.peak_memory_method and row.peak_memory_bytes > 0
        assert row.extra["precision"]["torch"] == {"matmul_allow_tf32": False, "cudnn_allow_tf32": False,
                                                   "cudnn_benchmark": False}
    gpus = json.loads(outcome.json_path.read_text())["machine_info"]["bench"]["cuda"]["gpus"]
    assert gpus and all(isinstance(name, str) for name in gpus)


@pytest.mark.cuda
@pytest.mark.ort_cuda
def test_runner_on_cuda_records_cuda_providers(mnist_mlp_results):
    config = RunConfig(device="cuda", models=("mnist-mlp",), batch_sizes=(1,), results_dir=mnist_mlp_results,
                       **FAST)
    outcome = run_benchmarks(config)
    data = json.loads(outcome.json_path.read_text())
    by_runtime = {b["extra_info"]["runtime"]: b["extra_info"] for b in data["benchmarks"]}
    assert by_runtime["onnxruntime"]["providers"][0] == "CUDAExecutionProvider"
    assert all(info["runtime_device"].startswith("cuda") for info in by_runtime.values())
    assert all(r.status == "ok" for r in outcome.rows)


def test_a_row_whose_timed_output_misses_parity_fails_keeps_its_figures_and_fails_the_run(mnist_mlp_results,
                                                                                        tmp_path):
    """An ONNX file of other weights, vouched for by the manifest: its row is timed, then failed."""
    from export.pipeline import export_model
    from export.util import sha256_file
    from train.registry import get_model

    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    other = tmp_path / "other"
    export_model(get_model("mnist-mlp"), other, formats=["onnx"], seed=99, fresh_process=False)
    model_dir = results / "exports" / "mnist-mlp"
    shutil.copyfile(other / "mnist-mlp" / "model.onnx", model_dir / "model.onnx")
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["formats"]["onnx"]["sha256"] = sha256_file(model_dir / "model.onnx")  # current: no re-export
    (model_dir / "manifest.json").write_text(json.dumps(manifest))

    args = ["run", "--models", "mnist-mlp", "--batch-sizes", "1", "--runtimes", "eager,onnxruntime",
            "--results-dir", str(results), *FAST_CLI, "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output  # a failed row fails the run
    (saved,) = (results / "benchmarks").glob("*.json")
    rows = {r.runtime: r for r in read_run(saved).rows}
    ort = rows["onnxruntime"]
    assert ort.status == "failed" and ort.reason.startswith("parity failed on batch 1, seed 0, on cpu")
    assert ort.p50_ms > 0 and ort.speedup_vs_eager is None and ort.parity_passed is False
    assert rows["eager"].status == "ok"
    # And bench compare counts it as a failure against a run where it passed.
    clean = tmp_path / "clean"
    shutil.copytree(mnist_mlp_results / "exports", clean / "exports")
    ok = CliRunner().invoke(app, [*args[:7], "--results-dir", str(clean), *FAST_CLI])
    assert ok.exit_code == 0, ok.output
    (good,) = (clean / "benchmarks").glob("*.json")
    compared = CliRunner().invoke(app, ["compare", str(good), str(saved), "--fail-above", "100000%"])
    assert compared.exit_code == 1 and "FAILED" in compared.output


def test_verify_timing_records_a_second_opinion_per_row(mnist_mlp_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    config = RunConfig(models=("mnist-mlp",), runtimes=("eager", "onnxruntime"), batch_sizes=(1,),
                       results_dir=results, verify_timing=True, paired=False, **FAST)
    outcome = run_benchmarks(config)
    methods = {r.runtime: r.extra["independent_timing"] for r in outcome.rows}
    assert "raw onnxruntime.InferenceSession" in methods["onnxruntime"]["method"]
    assert "loaded module" in methods["eager"]["method"]
    for row in outcome.rows:
        second = row.extra["independent_timing"]
        assert second["harness_over_independent"] == pytest.approx(row.p50_ms / second["median_ms"])
    notes = run_table(outcome.rows, "cpu").notes
    assert any(n.startswith("independent check (--verify-timing") for n in notes)
