"""LR range test (report 001): one step per batch at log-spaced learning rates, loss recorded per step."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import torch
from torch import nn

from train.config import TrainConfig
from train.errors import BenchError
from train.fileio import write_json
from train.optim import build_optimizer
from train.tasks import Task


@dataclass
class LRFindResult:
    """Learning rates tried, raw and smoothed losses, and the suggested rate."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None  # steepest descent of the smoothed loss
    min_loss_lr: float | None  # rate at the lowest smoothed loss (a tenth of it is the classic choice)
    stopped_early: bool  # the loss diverged before the last rate

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def lr_schedule(start: float, end: float, steps: int) -> list[float]:
    """`steps` log-spaced rates from `start` to `end` inclusive."""
    if steps < 2:
        return [start]
    ratio = end / start
    return [start * ratio ** (i / (steps - 1)) for i in range(steps)]


def steepest_descent(lrs: list[float], losses: list[float], skip: int = 5) -> float | None:
    """The rate where d(loss)/d(log lr) is most negative, ignoring `skip` noisy points at each end."""
    if len(lrs) < 2 * skip + 3:
        return None
    best_i, best_slope = None, 0.0
    for i in range(skip, len(lrs) - skip - 1):
        slope = (losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i]))
        if slope < best_slope:
            best_i, best_slope = i, slope
    return lrs[best_i] if best_i is not None else None


def lr_find(model: nn.Module, task: Task, cfg: TrainConfig, start_lr: float = 1e-7, end_lr: float = 1.0,
            iterations: int = 200, beta: float = 0.98, diverge: float = 4.0) -> LRFindResult:
    """Train `model` one batch per rate (the config's optimiser, weight decay); stop once the smoothed loss
    exceeds `diverge` times its minimum. `model` is left in whatever state the sweep ends in."""
    optimizer = build_optimizer(model, cfg)
    rates = lr_schedule(start_lr, end_lr, iterations)
    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    model.train()
    stopped = False
    batches = task.loss_closures()  # endless
    for i, (lr, compute_loss) in enumerate(zip(rates, batches, strict=False)):
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss = compute_loss(model)
        value = float(loss.detach())
        if not math.isfinite(value):
            stopped = True
            break
        loss.backward()
        optimizer.step()
        # Bias-corrected exponential moving average, as in fastai's LR finder.
        average = beta * average + (1 - beta) * value
        smooth = average / (1 - beta ** (i + 1))
        lrs.append(lr)
        losses.append(value)
        smoothed.append(smooth)
        best = min(best, smooth)
        if smooth > diverge * best:
            stopped = True
            break
    min_i = min(range(len(smoothed)), key=smoothed.__getitem__) if smoothed else None
    return LRFindResult(lrs, losses, smoothed, steepest_descent(lrs, smoothed),
                        lrs[min_i] if min_i is not None else None, stopped)


def run_lr_find(cfg: TrainConfig, data, device: torch.device, **kwargs) -> LRFindResult:
    """A fresh `cfg.model` (seeded) on `data`, swept by `lr_find`."""
    from train.runner import prepare

    _spec, model, task = prepare(cfg, data, device)
    return lr_find(model, task, cfg, **kwargs)


def run_lr_find_and_save(cfg: TrainConfig, options, start_lr: float, end_lr: float,
                         iterations: int) -> tuple[LRFindResult, Path]:
    """Load the data, run the range test, write `<results>/lr_find/<model>.json` and TensorBoard scalars
    (`lr_find/loss`, `lr_find/smoothed_loss`, `lr_find/lr` by step) under `runs/<dataset>/<model>/`."""
    from train.data.registry import load_data
    from train.device import resolve_device

    if not 0 < start_lr < end_lr:
        raise BenchError(f"need 0 < --start < --end, got {start_lr:g} and {end_lr:g}")
    if iterations < 2:
        raise BenchError(f"--iterations must be at least 2, got {iterations}")
    device = resolve_device(options.device)
    data = load_data(cfg, options.data_dir, options.download)
    result = run_lr_find(cfg, data, device, start_lr=start_lr, end_lr=end_lr, iterations=iterations)
    results = Path(options.results_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    if options.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(str(results / "runs" / cfg.dataset / cfg.model / f"lr-find-{stamp}")) as writer:
            points = zip(result.lrs, result.losses, result.smoothed, strict=True)
            for i, (lr, loss, smooth) in enumerate(points):
                writer.add_scalar("lr_find/lr", lr, i)
                writer.add_scalar("lr_find/loss", loss, i)
                writer.add_scalar("lr_find/smoothed_loss", smooth, i)
    path = write_json(results / "lr_find" / f"{cfg.model}.json",
                      {"model": cfg.model, "config": cfg.to_dict(), "created": stamp, **result.to_dict()})
    return result, path
