"""Progress without a terminal (CI logs, pipes): lines with a time estimate, and a log of a sane length."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from rich.console import Console

from bench.report.progress import RunProgress, TrainingProgress
from bench.run.runner import RunEvent


def _log_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=120), out


def test_run_progress_lines_say_how_long_is_left():
    console, out = _log_console()
    with RunProgress(console) as progress:
        progress.update(RunEvent("collected", "", total=4))
        for n in range(3):
            progress.update(RunEvent("finished", f"case{n}", status="passed"))
    lines = out.getvalue().splitlines()
    assert re.search(r"1/4 passed case0, about \d+ s left$", lines[1]), lines
    assert re.search(r"3/4 passed case2, about \d+ s left$", lines[3]), lines


def test_the_last_case_has_no_estimate():
    console, out = _log_console()
    with RunProgress(console) as progress:
        progress.update(RunEvent("collected", "", total=1))
        progress.update(RunEvent("finished", "only", status="passed"))
    assert out.getvalue().splitlines()[-1].endswith("1/1 passed only")


def test_a_long_training_logs_about_ten_lines_not_one_per_epoch():
    console, out = _log_console()
    cfg = SimpleNamespace(model="cora-gcn", seed=0, epochs=600)
    with TrainingProgress(console) as progress:
        progress.run_started(cfg)
        for epoch in range(1, 601):
            progress.epoch_done(cfg, SimpleNamespace(epoch=epoch, train_loss=0.5, val_acc=0.7, elapsed_s=1.0))
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 12, lines
    assert "epoch 1/600" in lines[0] and "epoch 600/600" in lines[-1]


def test_an_export_note_is_printed_on_its_own_line():
    console, out = _log_console()
    with RunProgress(console) as progress:
        progress.update(RunEvent("export", "mnist-mlp", total=1))
        progress.update(RunEvent("exported", "mnist-mlp", note="re-exported mnist-mlp: replaced model.ts"))
    assert "note: re-exported mnist-mlp: replaced model.ts" in out.getvalue().splitlines()
