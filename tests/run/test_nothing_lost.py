"""Nothing lost: work is refused before it starts when its output could not be kept, a bad checkpoint fails
only its own model's rows, no float option takes inf or NaN, and an interrupt is never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import typer
from typer.testing import CliRunner

from bench.cli import app
from bench.records.reader import read_run
from tests.train_fixtures import SHARED_DATA

FAST_CLI = ["--runtimes", "eager", "--batch-sizes", "1", "--threads", "1", "--warmup", "1",
            "--max-time", "0.02", "--min-rounds", "3", "--no-memory", "--no-paired"]


def test_a_corrupt_checkpoint_fails_only_its_models_rows_in_a_relative_results_dir(tmp_path, monkeypatch):
    # A relative --results-dir on purpose: the suite and the clean-interpreter reload run in scratch folders.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "res" / "checkpoints").mkdir(parents=True)
    (tmp_path / "res" / "checkpoints" / "mnist-cnn.pt").write_bytes(os.urandom(3000))
    result = CliRunner().invoke(app, ["run", "--models", "mnist-mlp,mnist-cnn", "--results-dir", "res",
                                      *FAST_CLI, "--format", "json"], env={"COLUMNS": "200"})

    assert result.exit_code == 1, result.output  # a failed row fails the run, after the others ran
    assert "benchmarking 2 case(s)" in result.output and "NOTSET" not in result.output  # --no-paired: no
    # empty paired test collected and reported as skipped
    (saved,) = (tmp_path / "res" / "benchmarks").glob("*.json")
    rows = {row.model: row for row in read_run(saved).rows}
    assert rows["mnist-mlp"].status == "ok" and rows["mnist-mlp"].p50_ms > 0
    assert rows["mnist-cnn"].status == "failed"
    assert "mnist-cnn.pt is not a readable torch checkpoint" in rows["mnist-cnn"].reason
    manifest = json.loads((tmp_path / "res" / "exports" / "mnist-mlp" / "manifest.json").read_text())
    assert all(entry["ok"] for entry in manifest["formats"].values()), manifest  # reloaded from a scratch cwd


@pytest.mark.parametrize("command", ["run", "accuracy"])
def test_an_unwritable_results_folder_fails_before_any_work(tmp_path, command):
    results = tmp_path / "results"
    results.mkdir()
    blocked = "benchmarks" if command == "run" else "accuracy"
    (results / blocked).write_text("a file where the folder should be")
    extra = FAST_CLI if command == "run" else ["--data-dir", str(SHARED_DATA), "--no-download"]
    started = time.monotonic()
    args = [command, "--models", "mnist-mlp", "--results-dir", str(results), *extra]
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2, result.output
    assert f"cannot write to {results / blocked}" in result.output
    assert not (results / "exports").exists(), "it exported (or timed) before finding out"
    assert time.monotonic() - started < 30


def _float_options() -> list[tuple[str, str]]:
    """(command, option) for every float option of every command: new ones are covered without a list."""
    group = typer.main.get_command(app)
    return sorted((name, param.opts[-1]) for name, command in group.commands.items()
                  for param in command.params if param.type_descriptor.annotation is float)


# The positional arguments each command needs before its options parse.
_ARGUMENTS = {"train": ["cora"], "lr-find": ["cora-gcn"], "sanity": ["cora-gcn"]}


def test_the_float_options_are_found():
    found = set(_float_options())
    assert {("run", "--max-time"), ("run", "--stability-budget"), ("lr-find", "--end"),
            ("doctor", "--budget"), ("train", "--lr")} <= found, found


@pytest.mark.parametrize(("command", "option"), _float_options())
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_no_float_option_takes_a_non_finite_value(tmp_path, monkeypatch, command, option, value):
    monkeypatch.chdir(tmp_path)  # were the check missing, nothing would land in the repository
    args = [command, *_ARGUMENTS.get(command, []), option, value]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {option} must be a finite number, got {float(value)}"
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_an_interrupt_while_still_importing_is_one_line(signum, name):
    proc = subprocess.Popen([sys.executable, "-m", "bench", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.6)  # past the interpreter's start, inside torch's import (well over a second here)
    assert proc.poll() is None, "bench models finished before it could be interrupted"
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert stderr.strip() == f"interrupted ({name}); nothing further was done"


def test_a_folder_where_the_checkpoint_should_be_is_named_not_taken_for_no_checkpoint(tmp_path):
    from bench.run.artifacts import CheckpointError, checkpoint_for
    from train.registry import get_model

    (tmp_path / "mnist-mlp.pt").mkdir()
    with pytest.raises(CheckpointError, match=r"mnist-mlp.pt is not a file; remove it, or retrain with "
                                              r"`bench train mnist --model mnist-mlp`"):
        checkpoint_for(get_model("mnist-mlp"), tmp_path)
    assert checkpoint_for(get_model("mnist-cnn"), tmp_path) is None  # nothing there: untrained weights
