"""Progress for `bench run` and `bench train`: Rich bars on a terminal, one line per step in a log."""

from __future__ import annotations

import time


class _Progress:
    """Rich bars (description, bar, n/total, elapsed, time left) on a terminal; without one they never
    refresh and would print once at the end, so they stay silent and `_lines` tells the subclass to log."""

    def __init__(self, console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._console = console
        self._lines = not console.is_terminal
        # Time left: Rich's estimate from the steps done so far (cases, epochs) at their pace.
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                  console=console, transient=False, disable=self._lines)

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)


class RunProgress(_Progress):
    """Progress of `bench run`, fed with bench.run.runner.RunEvent objects (exports, then cases)."""

    def __init__(self, console) -> None:
        super().__init__(console)
        self._exports = None
        self._cases = None
        self._started = time.monotonic()
        self._cases_started = self._started  # when the suite collected its cases: the ETA's clock
        self._done = 0
        self._total = 0

    def update(self, event) -> None:
        """Advance the bar that `event` belongs to (and log a line without a terminal); an export's note is
        printed on a line of its own either way."""
        if self._lines:
            self._log(event)
        if getattr(event, "note", ""):
            self._console.print(f"note: {event.note}", markup=False, highlight=False)
        progress = self._progress
        if event.kind == "export":
            if self._exports is None:
                self._exports = progress.add_task("exporting", total=event.total)
            progress.update(self._exports, description=f"export {event.subject}")
        elif event.kind == "exported":
            note = f" ([yellow]failed: {event.status}[/yellow])" if event.status else ""
            progress.update(self._exports, advance=1, description=f"exported {event.subject}{note}")
        elif event.kind == "collected":
            self._cases = progress.add_task("benchmarking", total=event.total)
        elif event.kind == "finished" and self._cases is not None:
            colour = {"passed": "green", "skipped": "yellow"}.get(event.status, "red")
            progress.update(self._cases, advance=1,
                            description=f"[{colour}]{event.status}[/{colour}] {event.subject}")


    def _log(self, event) -> None:
        """One plain line per export and per finished case, with the elapsed time."""
        elapsed = f"[{time.monotonic() - self._started:6.1f} s]"
        if event.kind == "exported":
            failed = f" (failed: {event.status})" if event.status else ""
            line = f"exported {event.subject}{failed}"
        elif event.kind == "collected":
            self._total = event.total or 0
            self._cases_started = time.monotonic()
            line = f"benchmarking {self._total} case(s)"
        elif event.kind == "finished":
            self._done += 1
            line = f"{self._done}/{self._total} {event.status} {event.subject}{self._eta()}"
        else:
            return
        self._console.print(f"{elapsed} {line}", markup=False, highlight=False)


    def _eta(self) -> str:
        """', about 42 s left': the mean time of the cases done so far × the cases still to run."""
        left = self._total - self._done
        if left <= 0 or self._done == 0:
            return ""
        seconds = (time.monotonic() - self._cases_started) / self._done * left
        return f", about {seconds:.0f} s left" if seconds < 120 else f", about {seconds / 60:.0f} min left"


class TrainingProgress(_Progress):
    """Rich progress for `bench train`: one bar per (model, seed), advanced each epoch (a train.runner
    Observer)."""

    def __init__(self, console) -> None:
        super().__init__(console)
        self._tasks: dict[tuple[str, int], int] = {}

    def run_started(self, cfg) -> None:
        """A bar for this model and seed."""
        key = (cfg.model, cfg.seed)
        self._tasks[key] = self._progress.add_task(f"{cfg.model} seed {cfg.seed}", total=cfg.epochs)

    def epoch_done(self, cfg, stats) -> None:
        """Advance by one epoch; show train loss and val accuracy (in a log: about 10 lines per run)."""
        if self._lines and _worth_a_line(stats.epoch, cfg.epochs):
            self._console.print(
                f"{cfg.model} seed {cfg.seed} epoch {stats.epoch}/{cfg.epochs} · "
                f"loss {stats.train_loss:.4f} · val_acc {stats.val_acc:.4f} · {stats.elapsed_s:.1f} s",
                markup=False, highlight=False)
        self._progress.update(
            self._tasks[(cfg.model, cfg.seed)], advance=1,
            description=f"{cfg.model} seed {cfg.seed} · loss {stats.train_loss:.4f} · "
                        f"val_acc {stats.val_acc:.4f}")

    def run_finished(self, cfg, metrics: dict) -> None:
        """Final description: best epoch and its test accuracy."""
        self._progress.update(
            self._tasks[(cfg.model, cfg.seed)],
            description=f"{cfg.model} seed {cfg.seed} · best epoch {metrics['best_epoch']} · "
                        f"test_acc {metrics['test_acc']:.4f}")


def _worth_a_line(epoch: int, epochs: int) -> bool:
    """Whether a log (no terminal) gets this epoch's line: the first, the last and every tenth of the run, so
    a 600-epoch Cora training writes about a dozen lines, not 600."""
    return epoch in (1, epochs) or epoch % max(1, epochs // 10) == 0
