"""An interrupted `bench train` never replaces a complete run: it keeps its partial checkpoint and metrics in
a run folder of its own, marked interrupted, and every table says which record it shows."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bench.records.store import load_training
from bench.report.synthesis import (
    mnist_configuration_table,
    mnist_target_table,
    report_tables,
    trained_table,
    training_table,
)
from bench.run.artifacts import checkpoint_for
from tests.report_fixtures import write_training
from tests.train_fixtures import copy_shared
from train.config import configs_for
from train.registry import get_model
from train.runner import RunOptions, SilentObserver, TrainingInterrupted, train_models

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cora_dir(tmp_path_factory):
    return copy_shared("cora", tmp_path_factory.mktemp("data"))


class CtrlCAt(SilentObserver):
    """Raises KeyboardInterrupt (what SIGINT does in Python) once `epoch` of `seed` (any seed: None) ended."""

    def __init__(self, epoch: int, seed: int | None = None) -> None:
        self.epoch, self.seed = epoch, seed

    def epoch_done(self, cfg, stats) -> None:
        if stats.epoch == self.epoch and self.seed in (None, cfg.seed):
            raise KeyboardInterrupt


def _options(cora_dir: Path, results: Path, seeds: int = 1) -> RunOptions:
    return RunOptions(data_dir=cora_dir, results_dir=results, device="cpu", tensorboard=False, download=False,
                      seeds=seeds)


def _files(results: Path, model: str = "cora-gcn") -> tuple[Path, Path]:
    """The model's checkpoint and metrics record: what `bench run` and `bench report` read."""
    return results / "checkpoints" / f"{model}.pt", results / "training" / "cora" / f"{model}.json"


def _cora_row(results: Path, label: str) -> tuple:
    """The cells of `label`'s row in `bench report`'s Cora table (its label cell carries any mark)."""
    (table,) = [t for t in report_tables(results, "cora") if t.key == "cora.synthesis"]
    (row,) = [r for r in table.rows if str(r.cells[0]).startswith(label)]
    return row.cells


def test_interrupted_rerun_leaves_the_complete_checkpoint_and_record_untouched(tmp_path, cora_dir):
    results = tmp_path / "results"
    (complete,) = train_models(configs_for("cora", ["cora-gcn"], {"epochs": 3}), _options(cora_dir, results))
    ckpt, record = _files(results)
    before = ckpt.read_bytes(), record.read_bytes()

    with pytest.raises(TrainingInterrupted) as caught:
        train_models(configs_for("cora", ["cora-gcn"], {"epochs": 6}), _options(cora_dir, results),
                     CtrlCAt(2))

    assert (ckpt.read_bytes(), record.read_bytes()) == before
    (partial,) = caught.value.reports
    run_dir = partial.run_dir
    assert run_dir.parent == results / "training" / "cora" / "runs" and run_dir.name.startswith("cora-gcn-")
    assert str(caught.value) == (
        f"interrupted: cora-gcn stopped after 2 of 6 epoch(s); its partial checkpoint and metrics are kept, "
        f"marked interrupted, in {run_dir}; {ckpt} still holds the previous complete run and is the one "
        "`bench run` uses")
    kept = json.loads((run_dir / "metrics.json").read_text())
    assert kept["status"] == "interrupted"
    assert kept["interrupted"] == {"seed": 42, "epochs_done": 2, "epochs_planned": 6, "seeds_done": 0,
                                   "seeds_planned": 1}
    assert [e["epoch"] for e in kept["runs"][0]["history"]] == [1, 2]
    weights = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert weights["metrics"]["status"] == "interrupted" and weights["config"]["epochs"] == 6
    assert checkpoint_for(get_model("cora-gcn"), results / "checkpoints") == ckpt  # what bench run exports

    # bench report shows the complete run, unmarked; the summary of the interrupted command marks its run.
    cells = _cora_row(results, "GCN")
    assert cells[0] == "GCN" and cells[1].mean == complete.runs[0].metrics["test_acc"]
    (row,) = trained_table("cora", caught.value.reports, results).rows
    assert row.cells[0] == "cora-gcn (interrupted at epoch 2/6)"
    assert row.note == f"kept in {run_dir}, not promoted; {ckpt} still holds the previous complete run and " \
                       "is the one `bench run` uses"
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]


def test_first_run_interrupted_is_kept_apart_and_bench_run_uses_untrained_weights(tmp_path, cora_dir):
    results = tmp_path / "results"
    with pytest.raises(TrainingInterrupted) as caught:
        train_models(configs_for("cora", ["cora-gcn"], {"epochs": 4}), _options(cora_dir, results),
                     CtrlCAt(1))

    ckpt, record = _files(results)
    assert not ckpt.exists() and not record.exists()
    assert checkpoint_for(get_model("cora-gcn"), results / "checkpoints") is None  # bench run: untrained
    (partial,) = caught.value.reports
    kept = partial.run_dir / "checkpoint.pt"
    assert torch.load(kept, weights_only=True)["metrics"]["interrupted"]["epochs_done"] == 1
    assert str(caught.value).endswith(
        f"; no complete checkpoint of cora-gcn exists, so `bench run` uses untrained weights (copy {kept} to "
        f"{ckpt} to use the partial weights anyway)")
    assert _cora_row(results, "GCN")[:2] == ("GCN", "not run")  # the report shows what bench run uses
    (row,) = trained_table("cora", caught.value.reports, results).rows
    assert row.cells[0] == "cora-gcn (interrupted at epoch 1/4)" and "untrained weights" in row.note


def test_complete_rerun_replaces_the_complete_one(tmp_path, cora_dir):
    results = tmp_path / "results"
    (first,) = train_models(configs_for("cora", ["cora-gcn"], {"epochs": 2}), _options(cora_dir, results))
    (second,) = train_models(configs_for("cora", ["cora-gcn"], {"epochs": 3}), _options(cora_dir, results))

    ckpt, record = _files(results)
    assert first.run_dir != second.run_dir
    assert torch.load(ckpt, weights_only=True)["config"]["epochs"] == 3
    assert ckpt.read_bytes() == (second.run_dir / "checkpoint.pt").read_bytes()
    data = json.loads(record.read_text())
    assert data["status"] == "complete" and data["run"] == str(second.run_dir)
    assert data["checkpoint"] == str(ckpt) and len(data["runs"][0]["history"]) == 3
    for run in (first, second):
        kept = json.loads((run.run_dir / "metrics.json").read_text())
        assert kept["status"] == "complete"
        assert kept["promoted_to"] == {"checkpoint": str(ckpt), "record": str(record)}
    (row,) = trained_table("cora", [second], results).rows
    assert row.cells[0] == "cora-gcn" and row.note == ""


def test_interrupted_second_seed_keeps_the_complete_record(tmp_path, cora_dir):
    results = tmp_path / "results"
    train_models(configs_for("cora", ["cora-mlp"], {"epochs": 2}), _options(cora_dir, results, seeds=2))
    ckpt, record = _files(results, "cora-mlp")
    before = ckpt.read_bytes(), record.read_bytes()

    with pytest.raises(TrainingInterrupted) as caught:
        train_models(configs_for("cora", ["cora-mlp"], {"epochs": 3}), _options(cora_dir, results, seeds=2),
                     CtrlCAt(1, seed=43))

    assert (ckpt.read_bytes(), record.read_bytes()) == before
    assert "stopped after 1 of 3 epoch(s) of seed 43 (1 of 2 seeds complete)" in str(caught.value)
    (partial,) = caught.value.reports
    kept = json.loads((partial.run_dir / "metrics.json").read_text())
    assert [r["config"]["seed"] for r in kept["runs"]] == [42, 43] and kept["status"] == "interrupted"
    (row,) = trained_table("cora", caught.value.reports, results).rows
    assert row.cells[0] == "cora-mlp (interrupted at epoch 1/3 of seed 43, 1/2 seeds complete)"


def test_report_marks_an_interrupted_record_on_file(tmp_path):
    """Records an older bench promoted after Ctrl-C (per-seed `interrupted_after_epoch`) are marked."""
    results = tmp_path / "results"
    write_training(results, "cora", "cora-gcn", (0.712,), epochs=50, metrics={"interrupted_after_epoch": 5})
    write_training(results, "cora", "cora-mlp", (0.59,), epochs=50)
    assert _cora_row(results, "GCN")[0] == "GCN (interrupted at epoch 5/50)"
    assert _cora_row(results, "MLP")[0] == "MLP"

    write_training(results, "esc50", "esc50-cnn", (0.6,), epochs=40, metrics={"interrupted_after_epoch": 7})
    (row,) = training_table("esc50", load_training(results, "esc50")).rows
    assert row.cells[0] == "esc50-cnn (interrupted at epoch 7/40)"
    assert "partial run (Ctrl-C)" in row.note and "`bench train esc50 --model esc50-cnn`" in row.note

    write_training(results, "mnist", "mnist-cnn", (0.98,), epochs=10,
                   config={"optimizer": "sgd-momentum", "lr": 0.01}, metrics={"interrupted_after_epoch": 2})
    mnist = load_training(results, "mnist")
    for table in (mnist_configuration_table(mnist), mnist_target_table(mnist)):
        sgd = table.rows[0]
        assert sgd.cells[0] == "SGD (interrupted at epoch 2/10)", table.key
        assert "partial run (Ctrl-C)" in sgd.note, table.key


def _wait_for_epoch(log: Path, proc: subprocess.Popen, epoch: int, timeout_s: float) -> None:
    """Wait until `bench train`'s progress log (stderr) shows `epoch` finished."""
    deadline = time.monotonic() + timeout_s
    pattern = re.compile(rf"\bepoch {epoch}/")
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"bench train ended early: {log.read_text()}"
        if pattern.search(log.read_text()):
            return
        time.sleep(0.05)
    raise AssertionError(f"epoch {epoch} not reached within {timeout_s} s: {log.read_text()}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_to_bench_train_keeps_the_complete_run(tmp_path, cora_dir, signum):
    results = tmp_path / "results"
    (complete,) = train_models(configs_for("cora", ["cora-gcn"], {"epochs": 2}), _options(cora_dir, results))
    ckpt, record = _files(results)
    before = ckpt.read_bytes(), record.read_bytes()
    planned = 100_000  # never reached: SIGINT stops it
    command = [sys.executable, "-m", "bench", "train", "cora", "-m", "cora-gcn", "--epochs", str(planned),
               "--device", "cpu", "--threads", "1", "--no-tensorboard", "--no-download",
               "--format", "markdown", "--data-dir", str(cora_dir), "--results-dir", str(results)]
    log = tmp_path / "stderr.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                # a terminal Ctrl-C: SIGINT not ignored, however this pytest was started
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            _wait_for_epoch(log, proc, 1, timeout_s=120)  # a log has epoch 1's line, then every tenth
            proc.send_signal(signum)  # Ctrl-C, or a CI timeout's SIGTERM: the same path, exit 128 + signal
            stdout, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    last = log.read_text().strip().splitlines()[-1]
    assert proc.returncode == 128 + signum, last
    match = re.fullmatch(
        rf"error: interrupted: cora-gcn stopped after (\d+) of {planned} epoch\(s\); its partial checkpoint "
        rf"and metrics are kept, marked interrupted, in (\S+); (\S+) still holds the previous complete run "
        r"and is the one `bench run` uses", last)
    assert match, last
    done, run_dir = int(match.group(1)), Path(match.group(2))
    assert done >= 1 and match.group(3) == str(ckpt)
    assert (ckpt.read_bytes(), record.read_bytes()) == before
    kept = json.loads((run_dir / "metrics.json").read_text())
    assert kept["status"] == "interrupted" and kept["interrupted"]["epochs_done"] == done
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["metrics"]["status"] == "interrupted"
    assert f"| cora-gcn (interrupted at epoch {done}/{planned}) |" in stdout
    cells = _cora_row(results, "GCN")  # bench report: still the complete run, unmarked
    assert cells[0] == "GCN" and cells[1].mean == complete.runs[0].metrics["test_acc"]
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]
