"""The shared training loop: epochs, validation, best-by-val-accuracy weights, timings (seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from train.config import TrainConfig
from train.device import synchronize
from train.optim import build_optimizer, build_scheduler
from train.tasks import Task


@dataclass
class EpochStats:
    """What one epoch produced; times in seconds."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    val_f1: float
    lr: float
    compute_s: float  # forward + backward + step of this epoch
    data_s: float  # waiting for batches in this epoch
    elapsed_s: float  # wall time since the loop started, evaluation included
    test_acc: float | None = None  # test split after this epoch, where the task scores it every epoch

    def to_dict(self) -> dict[str, float]:
        """Plain dict for JSON."""
        return asdict(self)


@dataclass
class FitResult:
    """The loop's outcome: history, best weights (by val accuracy) and the run's timings (s)."""

    history: list[EpochStats]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    total_train_time_s: float  # sum of per-epoch forward + backward + step
    train_loop_time: float  # wall time of the whole loop, per-epoch evaluation included
    data_time_s: float
    time_to_target_s: float | None = None  # total_train_time_s when val accuracy first reached the target
    epochs_to_target: int | None = None
    time_to_target_wall_s: float | None = None  # wall time of the loop until then, evaluation included
    interrupted: bool = False  # Ctrl-C ended the loop early: history and best weights cover finished epochs


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the weights (the model keeps training after this)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def fit(model: nn.Module, task: Task, cfg: TrainConfig, device: torch.device,
        on_epoch: Callable[[EpochStats], None] | None = None) -> FitResult:
    """Train `model` for `cfg.epochs`, validating after each epoch; keeps the best val-accuracy weights
    (the earliest epoch on ties). The model ends with its last-epoch weights."""
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    history: list[EpochStats] = []
    best_acc, best_epoch, best_state = -1.0, 0, _snapshot(model)
    total_compute = total_data = 0.0
    to_target: tuple[float, int, float] | None = None  # (compute s, epoch, wall s) at the target
    target_on_test = cfg.target_accuracy is not None and cfg.target_split == "test"
    splits = ("val", "test") if task.tests_every_epoch or target_on_test else ("val",)
    synchronize(device)
    loop_start = time.perf_counter()
    interrupted = False
    try:
        for epoch in range(1, cfg.epochs + 1):
            lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trains with
            trained = task.train_epoch(model, optimizer)
            if scheduler is not None:
                scheduler.step()
            scored = task.evaluate(model, splits)
            val = scored["val"]
            val_acc = val.accuracy()
            test_acc = scored["test"].accuracy() if "test" in scored else None
            total_compute += trained.compute_s
            total_data += trained.data_s
            if val_acc > best_acc:
                best_acc, best_epoch, best_state = val_acc, epoch, _snapshot(model)
            watched = test_acc if target_on_test else val_acc
            synchronize(device)
            if cfg.target_accuracy is not None and to_target is None and watched >= cfg.target_accuracy:
                to_target = (total_compute, epoch, time.perf_counter() - loop_start)
            stats = EpochStats(epoch, trained.loss, trained.accuracy, val.loss, val_acc,
                               val.macro_f1(task.num_classes), lr, trained.compute_s, trained.data_s,
                               time.perf_counter() - loop_start, test_acc)
            history.append(stats)
            if on_epoch is not None:
                on_epoch(stats)
    except KeyboardInterrupt:  # Ctrl-C: keep the finished epochs (the caller saves them and says where)
        if not history:
            raise
        interrupted = True
    synchronize(device)
    loop_time = time.perf_counter() - loop_start
    return FitResult(
        history, best_epoch, best_state, total_compute, loop_time, total_data,
        time_to_target_s=to_target[0] if to_target else None,
        epochs_to_target=to_target[1] if to_target else None,
        time_to_target_wall_s=to_target[2] if to_target else None,
        interrupted=interrupted,
    )
