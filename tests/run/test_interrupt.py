"""Ctrl-C during a real `bench run`: the finished rows stay in a valid JSON, and bench says where."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from export.pipeline import export_model
from train.registry import get_model


def _first_finished(scratch: Path, proc: subprocess.Popen, timeout_s: float) -> dict:
    """The first 'finished' event in the run's progress file (under its TMPDIR), waiting for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "bench run ended before any case finished"
        for progress in scratch.glob("bench-run-*/progress"):
            try:
                events = [json.loads(line) for line in progress.read_text().splitlines()]
            except (OSError, json.JSONDecodeError):
                continue
            finished = [e for e in events if e["event"] == "finished"]
            if finished:
                return finished[0]
        time.sleep(0.05)
    raise AssertionError(f"no case finished within {timeout_s} s")


def test_sigint_keeps_finished_rows_in_a_valid_json(tmp_path, mnist_mlp_results):
    results, scratch = tmp_path / "results", tmp_path / "scratch"
    scratch.mkdir()
    shutil.copytree(mnist_mlp_results / "exports", results / "exports")
    export_model(get_model("esc50-cnn"), results / "exports", seed=0, fresh_process=False)
    command = [sys.executable, "-m", "bench", "run", "--models", "mnist-mlp,esc50-cnn",
               "--runtimes", "eager,onnxruntime", "--batch-sizes", "1", "--results-dir", str(results),
               "--threads", "1", "--warmup", "1", "--max-time", "0.5", "--min-rounds", "200"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(scratch), "COLUMNS": "200"},
                            # a terminal Ctrl-C: SIGINT not ignored, however this pytest was started
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = _first_finished(scratch, proc, timeout_s=180)
        proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends to `bench run`
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert first["status"] == "passed", first
    assert proc.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    match = re.fullmatch(r"error: interrupted: kept the (\d+) finished row\(s\) in (\S+\.json) \(log: .*\)",
                         last)
    assert match, stderr
    kept, path = int(match.group(1)), Path(match.group(2))
    assert path.parent == results / "benchmarks" and path.is_file()
    data = json.loads(path.read_text())  # valid JSON
    rows = [(b["extra_info"]["model"], b["extra_info"]["runtime"]) for b in data["benchmarks"]]
    assert len(rows) == kept >= 1
    assert (first["model"], first["runtime"]) in rows
    assert len(rows) < 4, "the run was meant to be interrupted before every case finished"
    assert all("p50_ms" in b["extra_info"] for b in data["benchmarks"])  # finished rows only, no partial one
    assert data["bench"]["interrupted"] is True
    assert not list(scratch.glob("bench-run-*")), "the run's scratch folder was left behind"
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]


def test_a_second_run_in_the_same_second_never_overwrites_the_first(tmp_path):
    from bench.run.runner import _unused

    first = tmp_path / "20261123T125717Z_cpu.json"
    assert _unused(first) == first
    first.write_text("{}")
    second = _unused(first)
    assert second.name == "20261123T125717Z_cpu_2.json"
    assert sorted([second.name, first.name]) == [first.name, second.name]  # newest still sorts last
