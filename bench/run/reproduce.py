"""`bench reproduce <report>`: each report's experiment list as `bench` commands, run in order, resumable.

An experiment is one `bench train` (a named variant, so none overwrites another), `bench baselines`,
`sanity`, `lr-find` or `sweep`; it is done when the file it writes is on file and complete (a training
record with the planned epochs and seeds, a sweep of that grid and epochs, the baselines, sanity or
LR-finder result), and then skipped. Each runs in a
process of its own with its output in one log; a failure stops the list with that log's path, and
everything finished stays. Estimates come from earlier records of the same model on this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import BenchError
from bench.run.doctor import REPO, step_env
from train.fileio import ensure_output_dir
from train.registry import VARIANT_MARK
from train.reports import MNIST_CONFIGURATIONS, MNIST_MLP_EPOCHS, MNIST_MLP_RUNS


@dataclass(frozen=True)
class Experiment:
    """One command of a report's list: what it is, the `bench` arguments (data, results and device are
    added when it runs), and how to tell it is done (by `kind`, the file it writes)."""

    title: str
    args: tuple[str, ...]
    kind: str  # train | sweep | lr-find | sanity | baselines
    dataset: str
    model: str  # the record's name (a variant's <model>@<name>) or the model an LR finder / sweep ran
    epochs: int
    seeds: int = 1
    grid: dict[str, list] = field(default_factory=dict)  # a sweep's grid, as its file records it

    def command(self) -> str:
        """The command line, as a user would type it."""
        return "bench " + " ".join(_quote(a) for a in self.args)

    def done(self, results_dir: Path) -> bool:
        """Whether its output is on file and complete."""
        results = Path(results_dir)
        if self.kind == "train":
            record = _read(results / "training" / self.dataset / f"{self.model}.json")
            return (record.get("status") == "complete" and record.get("epochs_planned") == self.epochs
                    and (record.get("seeds_planned") or 0) >= self.seeds)
        if self.kind == "lr-find":
            return (results / "lr_find" / f"{self.model}.json").is_file()
        if self.kind == "sanity":  # with the planned overfit epochs (a quick pass does not count)
            return (_read(results / "sanity" / f"{self.model}.json").get("overfit") or {}).get("epochs") \
                == self.epochs
        if self.kind == "baselines":
            return (results / "baselines" / f"{self.dataset}.json").is_file()
        sweeps = [_read(path) for path in (results / "sweeps").glob(f"{self.model}-*.json")]
        return any(s.get("grid") == self.grid and (s.get("base_config") or {}).get("epochs") == self.epochs
                   for s in sweeps)

    def estimate_s(self, results_dir: Path) -> float | None:
        """Seconds it should take here, from the newest complete record of the same model (wall time of
        its loop per epoch, per seed); None when no run of it is on file."""
        base = self.model.partition(VARIANT_MARK)[0]
        per_epoch = []
        for path in (Path(results_dir) / "training" / self.dataset).glob(f"{base}*.json"):
            record = _read(path)
            if str(record.get("model", "")).partition(VARIANT_MARK)[0] != base or not record.get("runs"):
                continue
            run = record["runs"][0]
            loop, epochs = run["metrics"].get("train_loop_time"), run["metrics"].get("epochs")
            if isinstance(loop, (int, float)) and isinstance(epochs, int) and epochs > 0:
                per_epoch.append(loop / epochs)
        if not per_epoch:
            return None
        points = 1
        for values in self.grid.values():
            points *= len(values)
        return min(per_epoch) * self.epochs * self.seeds * points


@dataclass(frozen=True)
class Report:
    """A report's experiments and the dataset whose tables show them."""

    key: str
    number: str
    title: str
    dataset: str
    experiments: tuple[Experiment, ...]


def _train(title: str, dataset: str, model: str, epochs: int, *options: str, name: str = "",
           seeds: int = 1) -> Experiment:
    """A `bench train` experiment of `model` (a named variant when `name`)."""
    args = ["train", dataset, "--model", model, "--epochs", str(epochs), *options]
    if name:
        args += ["--name", name]
    if seeds > 1:
        args += ["--seeds", str(seeds)]
    record = f"{model}{VARIANT_MARK}{name}" if name else model
    return Experiment(title, tuple(args), "train", dataset, record, epochs, seeds)


def _cora() -> tuple[Experiment, ...]:
    """Report 000: the three Cora models, 200 epochs, three seeds each (mean ± std)."""
    return tuple(_train(f"{label}, 3 seeds", "cora", model, 200, seeds=3)
                 for label, model in (("MLP", "cora-mlp"), ("GCN", "cora-gcn"), ("GraphSAGE", "cora-sage")))


def _mnist_cnn() -> tuple[Experiment, ...]:
    """Report 003: five configurations, 10 epochs at batch 128, time to 97 % test accuracy; then Adam at
    batch 64/256/512 for 5 epochs."""
    target = ("--set", "target_accuracy=0.97", "--set", "target_split=test")
    out = []
    for conf in MNIST_CONFIGURATIONS:
        options = tuple(conf.options.split()) if conf.options else ("--set", f"optimizer={conf.optimizer}",
                                                                    "--lr", f"{conf.lr:g}")
        out.append(_train(conf.name, "mnist", conf.model, 10, *options, "--set", "batch_size=128", *target,
                          name=conf.variant))
    for batch in (64, 256, 512):
        out.append(_train(f"Adam, batch {batch}", "mnist", "mnist-cnn", 5, "--set", "optimizer=adam", "--lr",
                          "0.001", "--set", f"batch_size={batch}", *target, name=f"batch{batch}"))
    return tuple(out)


def _mnist_mlp() -> tuple[Experiment, ...]:
    """Report 002: the MLP along each axis (train.reports.MNIST_MLP_RUNS), 5 epochs each."""
    return tuple(_train(f"{run.axis}: {run.setting}", "mnist", "mnist-mlp", MNIST_MLP_EPOCHS, *run.options,
                        *(("--histograms",) if run.histograms else ()), name=run.variant)
                 for run in MNIST_MLP_RUNS)


def _finder_grid_final(dataset: str, model: str, grid: dict[str, list], grid_epochs: int,
                       final: tuple[str, ...], final_epochs: int) -> tuple[Experiment, ...]:
    """Reports 001 and 004: baselines, sanity checks (initial loss, overfitting 32 samples), LR finder,
    the grid search, then the final run."""
    from train.sweep import parse_grid

    grid_args = []
    for key, values in grid.items():
        grid_args += ["--grid", f"{key}={_grid_values(values)}"]
    grid = parse_grid([a for a in grid_args if a != "--grid"])  # as the sweep's file will record it
    return (
        Experiment("baselines", ("baselines", dataset), "baselines", dataset, model, 0),
        Experiment("sanity checks", ("sanity", model, "--epochs", "200"), "sanity", dataset, model, 200),
        Experiment("LR finder", ("lr-find", model), "lr-find", dataset, model, 1),
        Experiment("grid search", ("sweep", model, *grid_args, "--epochs", str(grid_epochs)),
                   "sweep", dataset, model, grid_epochs, grid=grid),
        _train("final run", dataset, model, final_epochs, *final, name="final"),
    )


def _grid_values(values: list) -> str:
    """`--grid` values: comma-separated, or a compact YAML list when the values are lists."""
    if any(isinstance(v, list) for v in values):
        return json.dumps(values, separators=(",", ":"))
    # Floats in positional notation: YAML reads 1e-05 as a string, 0.00001 as a number.
    return ",".join(format(v, ".10f").rstrip("0") if isinstance(v, float) else str(v) for v in values)


def _esc50() -> tuple[Experiment, ...]:
    return _finder_grid_final("esc50", "esc50-cnn", {"lr": [0.005, 0.01, 0.02], "weight_decay": [1e-5, 1e-4],
                                                      "channels": [[32, 64, 128], [48, 96, 192]],
                                                      "kernel_size": [3, 5]}, 3,
                              ("--lr", "0.02", "--set", "weight_decay=1e-5"), 15)


def _cifar100() -> tuple[Experiment, ...]:
    return _finder_grid_final("cifar100", "cifar100-bottleneck",
                              {"lr": [0.002, 0.005, 0.01], "weight_decay": [5e-5, 5e-4],
                               "blocks": [[2, 2, 2], [3, 3, 3]], "width": [16, 32]}, 5,
                              ("--lr", "0.01", "--set", "weight_decay=5e-4"), 20)


REPORTS: dict[str, Callable[[], Report]] = {
    "cora": lambda: Report("cora", "000", "Cora: MLP, GCN, GraphSAGE", "cora", _cora()),
    "esc50": lambda: Report("esc50", "001", "ESC-50 CNN", "esc50", _esc50()),
    "mnist-mlp": lambda: Report("mnist-mlp", "002", "MNIST MLP axes", "mnist", _mnist_mlp()),
    "mnist-cnn": lambda: Report("mnist-cnn", "003", "MNIST CNN configurations", "mnist", _mnist_cnn()),
    "cifar100": lambda: Report("cifar100", "004", "CIFAR-100 bottleneck ResNet", "cifar100", _cifar100()),
}


def get_report(name: str) -> Report:
    """The report by its name (cora, esc50, mnist-mlp, mnist-cnn, cifar100) or number (000-004)."""
    for key, build in REPORTS.items():
        report = build()
        if name in (key, report.number):
            return report
    choices = ", ".join(f"{key} ({build().number})" for key, build in REPORTS.items())
    raise BenchError(f"unknown report {name!r}; choose one of: {choices}")


def only(report: Report, numbers: str | None) -> Report:
    """`report` with just the experiments numbered in `numbers` ("1,3", as --dry-run lists them); all when
    None or empty. A number the report does not have is a BenchError."""
    if not numbers:
        return report
    chosen: list[int] = []
    for part in numbers.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= len(report.experiments):
            raise BenchError(f"--only {numbers!r}: report {report.number} has experiments 1-"
                             f"{len(report.experiments)} (bench reproduce {report.key} --dry-run lists them)")
        chosen.append(int(part) - 1)
    return replace(report, experiments=tuple(report.experiments[i] for i in sorted(set(chosen))))


def adjusted(report: Report, epochs: int | None = None, sets: tuple[str, ...] = (),
             tensorboard: bool = True) -> Report:
    """`report` for a quicker pass: every training and sweep at `epochs`, `sets` (key=value) added to every
    command, TensorBoard off for training and sweeps unless `tensorboard`. Their records then hold those
    epochs, so the report's own runs still count as not done."""
    if epochs is not None and epochs < 1:
        raise BenchError(f"--epochs must be at least 1, got {epochs}")
    out = []
    for experiment in report.experiments:
        args = list(experiment.args)
        if epochs is not None and "--epochs" in args:
            args[args.index("--epochs") + 1] = str(epochs)
        for pair in sets:
            args += ["--set", pair]
        if not tensorboard and experiment.kind in ("train", "sweep"):
            args.append("--no-tensorboard")
        quicker = epochs is not None and experiment.kind in ("train", "sweep", "sanity")
        out.append(replace(experiment, args=tuple(args), epochs=epochs if quicker else experiment.epochs))
    return replace(report, experiments=tuple(out))


@dataclass
class Outcome:
    """What one experiment did: done (already on file) | ran | failed, with its seconds."""

    experiment: Experiment
    status: str
    seconds: float = 0.0


def run_report(report: Report, *, data_dir: Path | None, results_dir: Path, device: str,
               on_start: Callable[[int, Experiment], None] | None = None,
               on_done: Callable[[Outcome], None] | None = None) -> tuple[list[Outcome], Path]:
    """Run every experiment of `report` not yet done, in order; stop at the first failure (BenchError with
    the log's path). Returns the outcomes and the log."""
    results = Path(results_dir)
    ensure_output_dir(results / "reproduce")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log_path = results / "reproduce" / f"{report.key}-{stamp}.log"
    outcomes: list[Outcome] = []
    with open(log_path, "a", encoding="utf-8") as log:
        for index, experiment in enumerate(report.experiments, 1):
            if experiment.done(results):
                outcomes.append(Outcome(experiment, "done"))
                continue
            if on_start is not None:
                on_start(index, experiment)
            argv = [*experiment.args, "--results-dir", str(results)]
            if experiment.kind != "baselines":  # label counts: no device
                argv += ["--device", device]
            if data_dir is not None:
                argv += ["--data-dir", str(data_dir)]
            log.write(f"\n=== {experiment.title}: bench {' '.join(argv)}\n")
            log.flush()
            started = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "bench", *argv], stdout=log,
                                  stderr=subprocess.STDOUT, cwd=REPO, env=step_env(), check=False)
            outcome = Outcome(experiment, "ran" if proc.returncode == 0 else "failed",
                              round(time.monotonic() - started, 1))
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
            if proc.returncode != 0:
                raise BenchError(f"{experiment.title} failed (`{experiment.command()}`, "
                                 f"exit {proc.returncode}); "
                                 f"its output is in {log_path}; the experiments before it are kept, and "
                                 f"`bench reproduce {report.key}` resumes from it")
    return outcomes, log_path


def _read(path: Path) -> dict:
    """A JSON object from `path`, or {} when it is absent or unreadable (then the experiment is not done)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _quote(arg: str) -> str:
    """`arg` as a shell would need it."""
    return f"'{arg}'" if any(c in arg for c in " []{},") and not arg.startswith("--") else arg
