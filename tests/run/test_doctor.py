"""`bench doctor`: the GPU check's plan, its dry run (CI runs it), a real CPU run, and its time limits."""

import json
import shutil
import signal
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.records.reader import read_run
from bench.run.doctor import DoctorOptions, Step, plan, run_step, runtimes_for


def test_dry_run_checks_everything_but_the_gpu_and_prints_the_plan(tmp_path):
    result = CliRunner().invoke(app, ["doctor", "--device", "cuda", "--dry-run", "--out", str(tmp_path),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "doctor.json").read_text())
    assert summary["dry_run"] is True and summary["ready"]["cuda_tests"] >= 5
    names = [s["name"] for s in summary["plan"]]
    assert names == ["cuda tests", "run fp32", "run tf32", "run include-transfer"]
    assert sum(s["limit_s"] for s in summary["plan"]) <= summary["budget_s"]
    fp32 = summary["plan"][1]["command"]
    assert fp32[fp32.index("--device") + 1] == "cuda" and "--precision" not in fp32
    tf32 = summary["plan"][2]["command"]
    assert tf32[tf32.index("--precision") + 1] == "tf32"
    assert not (tmp_path / "doctor.log").exists()  # nothing ran


def test_without_cuda_a_real_check_stops_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(app, ["doctor", "--device", "cuda", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.startswith("error: --device cuda requested but CUDA is not available")
    assert not (tmp_path / "out").exists()


def test_onnxruntime_is_planned_on_cuda_only_with_its_cuda_provider(monkeypatch):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert "onnxruntime" not in runtimes_for("cuda") and "onnxruntime" in runtimes_for("cpu")
    assert runtimes_for("cuda") == ["eager", "torchscript"]
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert "onnxruntime" in runtimes_for("cuda")


def test_a_real_check_on_the_cpu_leaves_readable_results(mnist_mlp_results, tmp_path):
    out = tmp_path / "doctor"
    (out / "results").mkdir(parents=True)
    # A copy: the check exports what its runtimes need into it, and the session's fixture must stay as made.
    shutil.copytree(mnist_mlp_results / "exports", out / "results" / "exports")
    result = CliRunner().invoke(app, ["doctor", "--device", "cpu", "--models", "mnist-mlp", "--no-tests",
                                      "--max-time", "0.01", "--out", str(out), "--budget", "300"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "doctor.json").read_text())
    steps = [(s["name"], s["status"]) for s in summary["steps"]]
    assert steps == [("run fp32", "passed"), ("run tf32", "passed")]
    fp32, tf32 = read_run(out / "run_fp32.json"), read_run(out / "run_tf32.json")
    assert {r.extra["precision"]["precision"] for r in fp32.rows} == {"fp32"}
    assert {r.extra["precision"]["precision"] for r in tf32.rows} == {"tf32"}
    assert all(r.peak_memory_bytes for r in fp32.rows) and not any(r.peak_memory_bytes for r in tf32.rows)
    tables = (out / "tables.md").read_text()
    assert tables.count("**Inference latency on cpu**") == 2 and "precision: tf32 (TF32 on)" in tables


@pytest.mark.parametrize("parent_sigint", ["as started", "ignored"])
def test_a_step_past_its_limit_is_interrupted_and_says_so(tmp_path, parent_sigint):
    previous = signal.getsignal(signal.SIGINT)
    if parent_sigint == "ignored":  # a doctor started the `nohup … &` way: its steps must still take SIGINT
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _interrupt_a_slow_step(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_slow_step(tmp_path):
    script = ("import sys, time, pathlib\n"
              "try:\n    time.sleep(60)\n"
              "except KeyboardInterrupt:\n"
              "    pathlib.Path(sys.argv[1]).write_text('kept')\n    sys.exit(130)\n")
    kept = tmp_path / "kept.txt"
    step = Step("slow", [sys.executable, "-c", script, str(kept)], 1.0,
                collect=lambda out, since: {"kept.txt": kept} if kept.exists() else {})
    started = time.monotonic()
    with open(tmp_path / "log", "w") as log:
        result = run_step(step, 1.0, log, tmp_path)
    assert time.monotonic() - started < 30
    assert result.status == "timed out" and result.returncode == 130 and result.files == ["kept.txt"]
    assert kept.read_text() == "kept"


def test_the_plan_follows_the_models_asked_for(tmp_path):
    steps = plan(DoctorOptions(device="cuda", out_dir=tmp_path, models=("mnist-mlp",), tests=False))
    assert [s.name for s in steps] == ["run fp32", "run tf32"]  # the transfer models were not asked for
    for step in steps:
        assert step.command[step.command.index("--models") + 1] == "mnist-mlp"


@pytest.mark.parametrize(("budget", "message"), [(0, "--budget must be a positive number of seconds"),
                                                 (float("inf"), "--budget must be a finite number, got inf")])
def test_the_budget_must_be_finite_and_positive(tmp_path, budget, message):
    result = CliRunner().invoke(app, ["doctor", "--dry-run", "--out", str(tmp_path), "--budget", str(budget)])
    assert result.exit_code == 2 and message in result.output


def test_a_relative_out_folder_is_where_the_user_stands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["doctor", "--dry-run", "--no-tests", "--out", "check"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "check" / "doctor.json").read_text())
    for step in summary["plan"]:  # the steps run in the source tree: every path they get is absolute
        folder = step["command"][step["command"].index("--results-dir") + 1]
        assert folder.startswith(str(tmp_path / "check"))
