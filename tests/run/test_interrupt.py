"""Ctrl-C, SIGTERM, SIGHUP and SIGKILL during a real `bench run`: the finished rows stay in a valid JSON,
bench says where, and the benchmark child never runs on alone."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.records.reader import read_run
from bench.run.runner import _save_json, _save_log, sweep_leftovers
from export.pipeline import export_model
from train.registry import get_model


def _first_finished(benchmarks: Path, proc: subprocess.Popen, timeout_s: float) -> dict:
    """The first 'finished' event in the run's progress file (in its scratch folder), waiting for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "bench run ended before any case finished"
        for progress in benchmarks.glob(".run-*/progress"):
            try:
                events = [json.loads(line) for line in progress.read_text().splitlines()]
            except (OSError, json.JSONDecodeError):
                continue
            finished = [e for e in events if e["event"] == "finished"]
            if finished:
                return finished[0]
        time.sleep(0.05)
    raise AssertionError(f"no case finished within {timeout_s} s")


@pytest.fixture(scope="module")
def two_model_exports(tmp_path_factory, mnist_mlp_results) -> Path:
    """mnist-mlp's and esc50-cnn's exports, made once for the module's runs (each copies them)."""
    exports = tmp_path_factory.mktemp("exports") / "exports"
    shutil.copytree(mnist_mlp_results / "exports", exports)
    export_model(get_model("esc50-cnn"), exports, seed=0, fresh_process=False)
    return exports


def _start_interruptible_run(tmp_path: Path, exports: Path) -> tuple[subprocess.Popen, Path]:
    """A real `bench run` of 2 models × 2 runtimes slow enough to be stopped after its first case."""
    results = tmp_path / "results"
    shutil.copytree(exports, results / "exports")
    command = [sys.executable, "-m", "bench", "run", "--models", "mnist-mlp,esc50-cnn",
               "--runtimes", "eager,onnxruntime", "--batch-sizes", "1", "--results-dir", str(results),
               "--threads", "1", "--warmup", "1", "--max-time", "0.5", "--min-rounds", "200"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"},
                            # a terminal Ctrl-C: SIGINT not ignored, however this pytest was started
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return proc, results


def _suite_child(proc: subprocess.Popen) -> psutil.Process:
    """The pytest-benchmark process `bench run` started."""
    children = [c for c in psutil.Process(proc.pid).children() if "pytest" in " ".join(c.cmdline())]
    assert len(children) == 1, children
    return children[0]


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM"),
                                              (signal.SIGHUP, "SIGHUP")])
def test_a_stop_signal_keeps_finished_rows_in_a_valid_json(tmp_path, two_model_exports, signum, name):
    proc, results = _start_interruptible_run(tmp_path, two_model_exports)
    try:
        first = _first_finished(results / "benchmarks", proc, timeout_s=180)
        suite = _suite_child(proc)
        proc.send_signal(signum)  # Ctrl-C from a terminal, a CI timeout's SIGTERM, a closed terminal's SIGHUP
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert first["status"] == "passed", first
    assert proc.returncode == 128 + signum, stderr
    last = stderr.strip().splitlines()[-1]
    match = re.fullmatch(rf"error: interrupted \({name}\): kept the (\d+) finished row\(s\) in (\S+\.json) "
                         r"\(log: .*\)", last)
    assert match, stderr
    kept, path = int(match.group(1)), Path(match.group(2))
    assert path.parent == results / "benchmarks" and path.is_file()
    data = json.loads(path.read_text())  # valid JSON
    rows = [(b["extra_info"]["model"], b["extra_info"]["runtime"]) for b in data["benchmarks"]]
    assert len(rows) == kept >= 1
    assert (first["model"], first["runtime"]) in rows
    assert len(rows) < 4, "the run was meant to be interrupted before every case finished"
    assert all("p50_ms" in b["extra_info"] for b in data["benchmarks"])  # finished rows only, no partial one
    assert data["bench"]["interrupted"] is True and data["bench"]["interrupted_by"] == name
    assert 0 <= data["bench"]["foreign_cpu_share"] <= 1  # contention is recorded for a partial run too
    assert read_run(path).interruption == f"interrupted ({name})"
    assert not suite.is_running(), "the benchmark child outlived bench run"
    assert not list((results / "benchmarks").glob(".run-*")), "the run's scratch folder was left behind"
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]


def test_sigkill_takes_the_benchmark_child_along_and_the_next_run_sweeps_its_scratch(tmp_path,
                                                                                     two_model_exports):
    proc, results = _start_interruptible_run(tmp_path, two_model_exports)
    try:
        _first_finished(results / "benchmarks", proc, timeout_s=180)
        suite = _suite_child(proc)
        proc.kill()  # nothing can be handled: no finished rows can be saved, but nothing may run on
        proc.wait()
        suite.wait(timeout=10)  # psutil.TimeoutExpired when it outlives its parent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    leftovers = list((results / "benchmarks").glob(".run-*"))
    assert leftovers, "a SIGKILLed run cannot clean up: its scratch folder should still be there"
    stale_temp = results / "exports" / "mnist-mlp" / f".model.onnx.{leftovers[0].name.split('-')[1]}.x.tmp"
    stale_temp.write_bytes(b"half an export")
    sweep_leftovers(results)  # what the next `bench run` does first
    assert not list((results / "benchmarks").glob(".run-*")) and not stale_temp.exists()


def _claim_with_log(base: str, tag: str, start: float) -> tuple[str, str]:
    """In a separate process: wait for `start` (all claimers at once), then save a run's log and JSON."""
    while time.time() < start:
        pass
    log = _save_log(Path(base), f"log of {tag}")
    return str(log), str(_save_json(log, {"tag": tag}))


def test_runs_finishing_in_the_same_second_each_keep_their_own_files(tmp_path):
    base = tmp_path / "benchmarks" / "20261123T125717Z_cpu"
    base.parent.mkdir()
    start = time.time() + 1.0
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        claims = pool.starmap(_claim_with_log, [(str(base), f"run{i}", start) for i in range(6)])
    logs, jsons = zip(*claims, strict=True)
    assert len(set(jsons)) == 6 and len(set(logs)) == 6, claims
    for i, (log, js) in enumerate(claims):
        assert Path(log).with_suffix(".json") == Path(js)  # each JSON sits beside its own log
        assert json.loads(Path(js).read_text()) == {"tag": f"run{i}"}
        assert Path(log).read_text() == f"log of run{i}"
    assert sorted(p.name for p in base.parent.iterdir()) == sorted(
        [f"{base.name}{s}{ext}" for s in ("", "_2", "_3", "_4", "_5", "_6") for ext in (".json", ".log")])


def test_a_suite_that_dies_silently_is_named_with_its_signal(tmp_path, two_model_exports):
    proc, results = _start_interruptible_run(tmp_path, two_model_exports)
    try:
        _first_finished(results / "benchmarks", proc, timeout_s=180)
        _suite_child(proc).kill()  # a crash that leaves no traceback (a segfault would look the same)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: the benchmark suites stopped (pytest killed by SIGKILL): "), last
    log = Path(re.search(r"\(log: (\S+\.log)\)$", last).group(1))
    assert log.is_file()
