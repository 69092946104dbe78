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

from train.checkpoint import checkpoint_path, library_versions, save_checkpoint
from train.config import TrainConfig
from train.data.registry import data_key, load_data
from train.data.splits import Splits
from train.device import resolve_device
from train.errors import BenchError
from train.fileio import ensure_output_dir, write_json
from train.loop import EpochStats, fit
from train.metrics import mean_std
from train.registry import ModelSpec, get_model, models_for_dataset
from train.seeding import seed_everything
from train.tasks import Task, make_task

# Metrics summarised as mean ± std over seeds (those a run has).
SUMMARY_KEYS = ("test_acc", "test_f1", "val_acc", "val_f1", "test_loss", "final_test_acc", "final_test_f1",
                "total_train_time_s", "train_loop_time", "time_to_target_s", "epochs_to_target")


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

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise BenchError(f"--seeds must be at least 1, got {self.seeds}")
        if self.threads is not None and self.threads < 1:
            raise BenchError(f"--threads must be at least 1, got {self.threads}")


class TrainingInterrupted(BenchError):
    """Ctrl-C during `bench train`: the finished epochs were saved (the message says where); exit 130."""

    exit_code = 130


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
    checkpoint: Path | None = None
    metrics_path: Path | None = None


def check_model(cfg: TrainConfig) -> ModelSpec:
    """The spec of `cfg.model`, which must train on `cfg.dataset`."""
    spec = get_model(cfg.model)
    if spec.dataset != cfg.dataset:
        names = ", ".join(s.name for s in models_for_dataset(cfg.dataset))
        raise BenchError(f"model {cfg.model!r} trains on {spec.dataset}, not {cfg.dataset}; "
                         f"choose one of: {names}")
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
        observer.epoch_done(cfg, stats)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)  # peak of this run's training loop only
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
    if peak is not None:
        metrics["peak_memory_bytes"] = int(peak)
        metrics["peak_memory_method"] = "CUDA allocator peak during the training loop"
    if cfg.target_accuracy is not None:
        metrics["target_accuracy"] = cfg.target_accuracy
        metrics["time_to_target_s"] = result.time_to_target_s
        metrics["epochs_to_target"] = result.epochs_to_target
    if log is not None:
        log.log_hparams(cfg.to_dict(), {k: v for k, v in metrics.items()
                                        if k in ("val_acc", "test_acc", "test_f1", "total_train_time_s")})
        log.close()
    observer.run_finished(cfg, metrics)
    return SeedRun(cfg, metrics, [s.to_dict() for s in result.history], result.best_state)


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
    """All seeds of one model; saves the best-val-accuracy seed's checkpoint and a metrics JSON."""
    runs = []
    for offset in range(options.seeds):
        seeded = dataclasses.replace(cfg, seed=cfg.seed + offset)
        runs.append(train_seed(seeded, data, options, device, _run_dir(options, seeded, stamp), observer))
        if "interrupted_after_epoch" in runs[-1].metrics:
            break  # Ctrl-C: no further seeds
    best = max(runs, key=lambda r: r.metrics["val_acc"])  # first seed wins ties
    report = ModelReport(cfg.model, cfg.dataset, runs, summarise(runs), best.config.seed)
    if options.save:
        report.checkpoint, report.metrics_path = _save(report, best, options)
    stopped = runs[-1].metrics.get("interrupted_after_epoch")
    if stopped is not None:
        where = (f"best checkpoint so far in {report.checkpoint}, metrics in {report.metrics_path}"
                 if options.save else "nothing saved (saving is off)")
        raise TrainingInterrupted(
            f"interrupted: {cfg.model} stopped after {stopped} of {cfg.epochs} epoch(s); {where}")
    return report


def _save(report: ModelReport, best: SeedRun, options: RunOptions) -> tuple[Path, Path]:
    """Checkpoint of the selected seed, and every seed's metrics and history as JSON."""
    results = Path(options.results_dir)
    seeds = [r.config.seed for r in report.runs]
    metrics = {**best.metrics, "seeds": seeds, "summary": report.summary}
    ckpt = save_checkpoint(checkpoint_path(results, report.model), report.model, best.best_state,
                           best.config.to_dict(), metrics, dict(best.config.to_dict()["model_kwargs"]))
    path = results / "training" / report.dataset / f"{report.model}.json"
    write_json(path, {
        "model": report.model,
        "dataset": report.dataset,
        "created": datetime.now().isoformat(timespec="seconds"),
        "checkpoint": str(ckpt),
        "selected_seed": best.config.seed,
        "summary": report.summary,
        "runs": [{"config": r.config.to_dict(), "metrics": r.metrics, "history": r.history}
                 for r in report.runs],
        "versions": library_versions(),
    })
    return ckpt, path


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
    reports = []
    for cfg in configs:
        key = data_key(cfg)
        if key not in loaded:
            loaded[key] = load_data(cfg, options.data_dir, options.download)
        reports.append(train_model(cfg, loaded[key], options, device, stamp, observer))
    return reports
