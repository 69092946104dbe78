"""Train registered models on a dataset over one or more seeds; write checkpoints, metrics and logs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch_geometric.data import Data

from train.checkpoint import (
    checkpoint_path,
    library_versions,
    load_checkpoint,
    save_checkpoint,
    train_command,
)
from train.config import TrainConfig
from train.data.registry import data_key, load_data
from train.data.splits import Splits
from train.device import resolve_device
from train.errors import BenchError
from train.fileio import ensure_output_dir, json_text, write_json
from train.loop import EpochStats, fit
from train.memory import ResidentPeak
from train.metrics import mean_std
from train.processes import last_stop_signal
from train.registry import ModelSpec, get_model, models_for_dataset
from train.runs import (
    COMPLETE,
    INTERRUPTED,
    RUN_CHECKPOINT,
    RUN_RECORD,
    interruption_text,
    new_run_dir,
    promote,
    record_path,
    runs_dir,
)
from train.seeding import seed_everything
from train.tasks import Task, make_task

# Metrics summarised as mean ± std over seeds (those a run has).
SUMMARY_KEYS = ("test_acc", "test_f1", "val_acc", "val_f1", "test_loss", "final_test_acc", "final_test_f1",
                "best_test_acc_any_epoch", "time_per_epoch_s", "peak_rss_bytes", "peak_memory_bytes",
                "total_train_time_s", "train_loop_time", "time_to_target_s", "epochs_to_target",
                "time_to_target_wall_s")


@dataclass(frozen=True)
class RunOptions:
    """Where and how to train (not what: that is the TrainConfig)."""

    data_dir: Path
    results_dir: Path
    device: str = "auto"
    seeds: int = 1  # runs seeds cfg.seed, cfg.seed + 1, ...
    tensorboard: bool = True
    download: bool = True
    save: bool = True  # checkpoint and metrics JSON (sweeps turn this off)
    threads: int | None = None  # torch intra-op threads; None keeps torch's default
    histograms: bool = False  # every parameter's weights and gradients to TensorBoard after each epoch

    def __post_init__(self) -> None:
        if self.histograms and not self.tensorboard:
            raise BenchError("--histograms writes to TensorBoard, which --no-tensorboard turns off: drop one")
        if self.seeds < 1:
            raise BenchError(f"--seeds must be at least 1, got {self.seeds}")
        if self.threads is not None and self.threads < 1:
            raise BenchError(f"--threads must be at least 1, got {self.threads}")


class TrainingInterrupted(BenchError):
    """Ctrl-C (or SIGTERM/SIGHUP) during `bench train`: the finished epochs were kept in the run's own folder,
    never promoted (the message says where, and which checkpoint `bench run` uses); exit 128 + the signal.
    `reports` holds the models of the command that finished, then the interrupted one when it had something
    to keep."""

    def __init__(self, message: str, reports: list[ModelReport] | None = None) -> None:
        super().__init__(message)
        self.reports = list(reports or [])
        # 128 + the signal: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP (caught as KeyboardInterrupt)
        self.exit_code = 128 + last_stop_signal()


class Observer(Protocol):
    """Receives progress; the CLI shows it, tests ignore it. Implementations must not raise."""

    def run_started(self, cfg: TrainConfig) -> None: ...

    def epoch_done(self, cfg: TrainConfig, stats: EpochStats) -> None: ...

    def run_finished(self, cfg: TrainConfig, metrics: dict[str, Any]) -> None: ...


class SilentObserver:
    """An Observer that ignores everything."""

    def run_started(self, cfg: TrainConfig) -> None:
        """Ignore."""

    def epoch_done(self, cfg: TrainConfig, stats: EpochStats) -> None:
        """Ignore."""

    def run_finished(self, cfg: TrainConfig, metrics: dict[str, Any]) -> None:
        """Ignore."""


@dataclass
class SeedRun:
    """One trained seed: its metrics, per-epoch history and best weights."""

    config: TrainConfig
    metrics: dict[str, Any]
    history: list[dict[str, float]]
    best_state: dict[str, torch.Tensor]


@dataclass
class ModelReport:
    """All seeds of one model, their summary, and where the results went."""

    model: str
    dataset: str
    runs: list[SeedRun]
    summary: dict[str, dict[str, float]]
    best_seed: int
    checkpoint: Path | None = None  # the checkpoint this run wrote (its own folder's when interrupted)
    metrics_path: Path | None = None  # the metrics record this run wrote (idem)
    run_dir: Path | None = None  # results/training/<dataset>/runs/<model>-<UTC time>
    interrupted: dict[str, Any] | None = None  # seed, epochs_done/planned, seeds_done/planned; None: complete
    in_use: str = ""  # for an interrupted run: what `bench run` uses for this model instead
    seeds_planned: int = 1

    @property
    def status(self) -> str:
        return COMPLETE if self.interrupted is None else INTERRUPTED

    def record(self) -> dict[str, Any]:
        """The run's metrics record: every seed's config, metrics and history, its status and summary."""
        data: dict[str, Any] = {
            "model": self.model,
            "dataset": self.dataset,
            "status": self.status,
            "epochs_planned": self.runs[0].config.epochs,
            "seeds_planned": self.seeds_planned,
            "selected_seed": self.best_seed,
            "summary": self.summary,
            "runs": [{"config": r.config.to_dict(), "metrics": r.metrics, "history": r.history}
                     for r in self.runs],
        }
        if self.interrupted is not None:
            data["interrupted"] = self.interrupted
        return data


def check_model(cfg: TrainConfig) -> ModelSpec:
    """The spec of `cfg.model`, which must train on `cfg.dataset` and be trained on its own (a model with
    `weights_of` loads that model's checkpoint: training it would write a checkpoint nothing reads)."""
    spec = get_model(cfg.model)
    names = ", ".join(s.name for s in models_for_dataset(cfg.dataset, trained_only=True))
    if spec.dataset != cfg.dataset:
        raise BenchError(f"model {cfg.model!r} trains on {spec.dataset}, not {cfg.dataset}; "
                         f"choose one of: {names}")
    if spec.weights_of:
        raise BenchError(f"model {cfg.model!r} is not trained on its own: it runs {spec.weights_of}'s "
                         f"checkpoint; train that with {train_command(cfg.model)}")
    return spec


def build_model(spec: ModelSpec, cfg: TrainConfig) -> nn.Module:
    """The model with the config's kwargs, initialised from `cfg.seed`; bad kwargs are a BenchError."""
    try:
        return spec.build(seed=cfg.seed, **cfg.model_kwargs)
    except (TypeError, ValueError) as exc:
        raise BenchError(f"invalid model_kwargs {cfg.model_kwargs} for {spec.name}: {exc}") from None


def num_classes_of(data: Splits | Data, spec: ModelSpec) -> int:
    """The dataset's class count, which must match the model's output width."""
    found = data.num_classes if isinstance(data, Splits) else int(data.y.max()) + 1
    if found > spec.num_classes:
        raise BenchError(f"{spec.name} predicts {spec.num_classes} classes but the data has {found}")
    return spec.num_classes


def prepare(cfg: TrainConfig, data: Splits | Data, device: torch.device) -> tuple[ModelSpec, nn.Module, Task]:
    """Seed everything from `cfg.seed`, then build the model (on `device`) and the task feeding it."""
    spec = check_model(cfg)
    seed_everything(cfg.seed)
    model = build_model(spec, cfg).to(device)
    task = make_task(cfg, data, "edge_index" in spec.input_names, num_classes_of(data, spec), device)
    return spec, model, task


def train_seed(cfg: TrainConfig, data: Splits | Data, options: RunOptions, device: torch.device,
               run_dir: Path | None, observer: Observer) -> SeedRun:
    """Train `cfg.model` once with `cfg.seed`; test metrics are those of the best-val-accuracy weights."""
    _spec, model, task = prepare(cfg, data, device)
    log = None
    graph_note = "not logged"
    if run_dir is not None:
        from train.tblog import TensorBoardLog

        log = TensorBoardLog(run_dir)
        graph_note = log.log_graph(model, task.example_inputs()) or "traced"
    observer.run_started(cfg)

    def on_epoch(stats: EpochStats) -> None:
        if log is not None:
            log.log_epoch(stats)
            if options.histograms:
                log.log_histograms(model, stats.epoch)
        observer.epoch_done(cfg, stats)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)  # peak of this run's training loop only
    with ResidentPeak() as resident:  # CPU memory on every device (a CUDA run's host side too)
        result = fit(model, task, cfg, device, on_epoch)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    final = task.evaluate(model, ("test",))["test"]
    model.load_state_dict(result.best_state)
    best = task.evaluate(model, ("val", "test"))
    metrics: dict[str, Any] = {
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "best_epoch": result.best_epoch,
        "val_acc": best["val"].accuracy(),
        "val_f1": best["val"].macro_f1(task.num_classes),
        "val_loss": best["val"].loss,
        "test_acc": best["test"].accuracy(),
        "test_f1": best["test"].macro_f1(task.num_classes),
        "test_loss": best["test"].loss,
        "final_test_acc": final.accuracy(),
        "final_test_f1": final.macro_f1(task.num_classes),
        **_best_test_over_epochs(result.history),
        "total_train_time_s": result.total_train_time_s,
        "train_loop_time": result.train_loop_time,
        "data_time_s": result.data_time_s,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "graph": graph_note,
    }
    if result.interrupted:
        metrics["interrupted_after_epoch"] = len(result.history)  # Ctrl-C: best of the finished epochs
    metrics["time_per_epoch_s"] = result.total_train_time_s / max(1, len(result.history))
    if resident.bytes is not None:
        metrics["peak_rss_bytes"] = int(resident.bytes)
    metrics["peak_rss_method"] = resident.method
    if peak is not None:
        metrics["peak_memory_bytes"] = int(peak)
        metrics["peak_memory_method"] = "CUDA allocator peak during the training loop"
    if cfg.target_accuracy is not None:
        metrics["target_accuracy"] = cfg.target_accuracy
        metrics["time_to_target_s"] = result.time_to_target_s
        metrics["epochs_to_target"] = result.epochs_to_target
        metrics["time_to_target_wall_s"] = result.time_to_target_wall_s
        metrics["target_split"] = cfg.target_split
    if log is not None:
        log.log_hparams(cfg.to_dict(), {k: v for k, v in metrics.items()
                                        if k in ("val_acc", "test_acc", "test_f1", "total_train_time_s")})
        log.close()
    observer.run_finished(cfg, metrics)
    return SeedRun(cfg, metrics, [s.to_dict() for s in result.history], result.best_state)


def _best_test_over_epochs(history: list[EpochStats]) -> dict[str, Any]:
    """The best test accuracy any epoch reached and that epoch (the earliest on ties), where the loop
    scored the test split every epoch; {} otherwise. Selecting on test is not a model choice: report
    000 quotes it ("0.8060 best") beside the last epoch's."""
    scored = [s for s in history if s.test_acc is not None]
    if not scored:
        return {}
    best = max(scored, key=lambda s: (s.test_acc, -s.epoch))
    return {"best_test_acc_any_epoch": best.test_acc, "best_test_epoch": best.epoch}


def summarise(runs: list[SeedRun]) -> dict[str, dict[str, float]]:
    """Mean, sample std and count over seeds of every SUMMARY_KEYS metric that all runs have."""
    out = {}
    for key in SUMMARY_KEYS:
        values = [r.metrics.get(key) for r in runs]
        if values and all(isinstance(v, (int, float)) for v in values):
            mean, std = mean_std([float(v) for v in values])
            out[key] = {"mean": mean, "std": std, "n": len(values)}
    return out


def _run_dir(options: RunOptions, cfg: TrainConfig, stamp: str) -> Path | None:
    """`<results>/runs/<dataset>/<model>/<time>[-seed<k>]`, or None without TensorBoard."""
    if not options.tensorboard:
        return None
    name = stamp if options.seeds == 1 else f"{stamp}-seed{cfg.seed}"
    return Path(options.results_dir) / "runs" / cfg.dataset / cfg.model / name


def train_model(cfg: TrainConfig, data: Splits | Data, options: RunOptions, device: torch.device,
                stamp: str, observer: Observer) -> ModelReport:
    """All seeds of one model; the best-val-accuracy seed's checkpoint and every seed's metrics go to the
    run's own folder, and are promoted to the model's checkpoint and record only when every epoch of every
    seed ran. Ctrl-C returns the report with `interrupted` set (the caller raises TrainingInterrupted);
    Ctrl-C before any epoch finished raises TrainingInterrupted at once: there is nothing to keep."""
    runs: list[SeedRun] = []
    stopped: dict[str, Any] | None = None
    for offset in range(options.seeds):
        seeded = dataclasses.replace(cfg, seed=cfg.seed + offset)
        try:
            run = train_seed(seeded, data, options, device, _run_dir(options, seeded, stamp), observer)
        except KeyboardInterrupt:  # before this seed kept an epoch: the earlier seeds are all there is
            stopped = _stop(seeded, 0, runs, options)
            break
        runs.append(run)
        done = run.metrics.get("interrupted_after_epoch")
        if done is not None:  # Ctrl-C: no further seeds
            stopped = _stop(seeded, done, runs[:-1], options)
            break
    if not runs:
        raise TrainingInterrupted(f"interrupted: {cfg.model} stopped before its first epoch finished; "
                                  f"nothing kept for it; {_in_use(options, cfg.model)}")
    best = max(runs, key=lambda r: r.metrics["val_acc"])  # first seed wins ties
    report = ModelReport(cfg.model, cfg.dataset, runs, summarise(runs), best.config.seed, interrupted=stopped,
                         seeds_planned=options.seeds)
    if options.save:
        _save(report, best, options)
    return report


def _stop(cfg: TrainConfig, epochs_done: int, complete: list[SeedRun], options: RunOptions) -> dict[str, Any]:
    """Where Ctrl-C stopped a model's run: the seed, its finished epochs, the seeds that finished all."""
    return {"seed": cfg.seed, "epochs_done": epochs_done, "epochs_planned": cfg.epochs,
            "seeds_done": len(complete), "seeds_planned": options.seeds}


def _in_use(options: RunOptions, model: str, partial: Path | None = None) -> str:
    """What `bench run` exports for `model` now that an interrupted run left the model's files alone
    (`partial`: that run's checkpoint, named as the way to use it anyway)."""
    ckpt = checkpoint_path(Path(options.results_dir), model)
    if not ckpt.exists():
        anyway = f" (copy {partial} to {ckpt} to use the partial weights anyway)" if partial else ""
        return f"no complete checkpoint of {model} exists, so `bench run` uses untrained weights{anyway}"
    try:
        metrics = load_checkpoint(ckpt)["metrics"]
    except BenchError as exc:
        return f"{ckpt} is unchanged but unreadable ({exc})"
    earlier = interruption_text({"interrupted": metrics.get("interrupted"), "status": metrics.get("status"),
                                 "runs": [{"metrics": metrics, "config": {"epochs": metrics.get("epochs")}}]})
    if earlier is not None:  # written by a bench that still promoted interrupted runs, or copied there
        return (f"{ckpt} is unchanged (itself a partial run, {earlier}) and is the one `bench run` uses; "
                "a complete `bench train` replaces it")
    return f"{ckpt} still holds the previous complete run and is the one `bench run` uses"


def interrupted_message(report: ModelReport) -> str:
    """One line: where Ctrl-C stopped `report`'s model, where its partial run is, what `bench run` uses."""
    info = report.interrupted or {}
    where = f"stopped after {info.get('epochs_done')} of {info.get('epochs_planned')} epoch(s)"
    if report.seeds_planned > 1:
        where += (f" of seed {info.get('seed')} ({info.get('seeds_done')} of {report.seeds_planned} seeds "
                  "complete)")
    if report.run_dir is None:
        return f"interrupted: {report.model} {where}; nothing saved (saving is off)"
    return (f"interrupted: {report.model} {where}; its partial checkpoint and metrics are kept, marked "
            f"interrupted, in {report.run_dir}; {report.in_use}")


def _save(report: ModelReport, best: SeedRun, options: RunOptions) -> None:
    """Write the run's folder (checkpoint of the selected seed, every seed's metrics); promote it to the
    model's checkpoint and record only when it is complete. Sets the report's paths (and `in_use`)."""
    results = Path(options.results_dir)
    # An interrupted run is never promoted, not even when no complete checkpoint exists yet (`bench run`
    # then uses untrained weights, and the message says how to use the partial ones): the model's
    # checkpoint and record then only ever hold complete runs, which every reader of them (bench run,
    # export, accuracy, report) can trust without checking a mark, and an untrained export is already
    # labelled "untrained, seed N" in its manifest. A promoted partial checkpoint would look trained to
    # every reader that does not know about interruptions (the export manifest, the accuracy table).
    run_dir = new_run_dir(results, report.dataset, report.model)
    seeds = [r.config.seed for r in report.runs]
    metrics = {**best.metrics, "seeds": seeds, "summary": report.summary, "status": report.status}
    if report.interrupted is not None:
        metrics["interrupted"] = report.interrupted
    run_ckpt = save_checkpoint(run_dir / RUN_CHECKPOINT, report.model, best.best_state, best.config.to_dict(),
                               metrics, dict(best.config.to_dict()["model_kwargs"]))
    created = datetime.now().isoformat(timespec="seconds")
    record = {**report.record(), "created": created, "run": str(run_dir), "versions": library_versions()}
    report.run_dir = run_dir
    if report.interrupted is not None:
        report.checkpoint, report.in_use = run_ckpt, _in_use(options, report.model, run_ckpt)
        report.metrics_path = write_json(run_dir / RUN_RECORD, {**record, "checkpoint": str(run_ckpt)})
        return
    ckpt = checkpoint_path(results, report.model)
    path = record_path(results, report.dataset, report.model)
    write_json(run_dir / RUN_RECORD, {**record, "checkpoint": str(run_ckpt),
                                      "promoted_to": {"checkpoint": str(ckpt), "record": str(path)}})
    promote(run_ckpt, ckpt, path, json_text({**record, "checkpoint": str(ckpt)}))
    report.checkpoint, report.metrics_path = ckpt, path


def train_models(configs: list[TrainConfig], options: RunOptions,
                 observer: Observer | None = None) -> list[ModelReport]:
    """Train each config's model (data loaded once per distinct data setting), in order."""
    observer = observer or SilentObserver()
    device = resolve_device(options.device)
    if options.threads is not None:
        # Set here, per command, never at import; recorded in every run's metrics as "threads".
        torch.set_num_threads(options.threads)
    for cfg in configs:
        check_model(cfg)  # fail before loading any data
    if options.save or options.tensorboard:
        ensure_output_dir(options.results_dir)  # an unwritable results folder fails now, not after training
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    loaded: dict[tuple, Splits | Data] = {}
    reports: list[ModelReport] = []
    for index, cfg in enumerate(configs):
        rest = _not_trained(configs[index + 1:])
        try:
            key = data_key(cfg)
            if key not in loaded:
                loaded[key] = load_data(cfg, options.data_dir, options.download)
        except KeyboardInterrupt:
            untouched = _not_trained(configs[index:]).removeprefix("; ")
            raise TrainingInterrupted(f"interrupted while loading {cfg.dataset}; {untouched}",
                                      reports) from None
        try:
            report = train_model(cfg, loaded[key], options, device, stamp, observer)
        except KeyboardInterrupt:  # a second Ctrl-C while saving: each file is whole, old or new (atomic)
            folder = runs_dir(options.results_dir, cfg.dataset)
            raise TrainingInterrupted(
                f"interrupted: {cfg.model} stopped while its run was being saved; every file is either the "
                f"earlier one or the new one, never half-written: see {folder}{rest}", reports) from None
        except TrainingInterrupted as exc:
            raise TrainingInterrupted(f"{exc}{rest}", reports) from None
        reports.append(report)
        if report.interrupted is not None:
            raise TrainingInterrupted(f"{interrupted_message(report)}{rest}", reports)
    return reports


def _not_trained(configs: list[TrainConfig]) -> str:
    """'; not trained: a, b' for the models Ctrl-C stopped the command before, else ''."""
    return f"; not trained: {', '.join(c.model for c in configs)}" if configs else ""
