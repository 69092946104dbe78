"""TensorBoard logging of one training run: per-epoch scalars, model graph, hparams with final metrics."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from train.loop import EpochStats


class TensorBoardLog:
    """One run directory: `train/loss`, `val/loss`, `train/acc`, `val/acc`, `val/f1`, `lr` per epoch (and
    `test/acc` where the task scores the test split every epoch)."""

    def __init__(self, log_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir))

    def log_epoch(self, stats: EpochStats) -> None:
        """Scalars of one epoch, stepped by epoch number."""
        step = stats.epoch
        for tag, value in (("train/loss", stats.train_loss), ("val/loss", stats.val_loss),
                           ("train/acc", stats.train_acc), ("val/acc", stats.val_acc),
                           ("val/f1", stats.val_f1), ("lr", stats.lr),
                           ("time/compute_s", stats.compute_s)):
            self.writer.add_scalar(tag, value, step)
        if stats.test_acc is not None:
            self.writer.add_scalar("test/acc", stats.test_acc, step)

    def log_histograms(self, model: nn.Module, epoch: int) -> None:
        """Each parameter's weights (`weights/<name>`) and its gradient from the epoch's last step
        (`gradients/<name>`), stepped by epoch: vanishing or exploding gradients show layer by layer
        (report 002's BatchNorm and initialisation study)."""
        for name, parameter in model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", parameter.detach().cpu(), epoch)
            if parameter.grad is not None:
                self.writer.add_histogram(f"gradients/{name}", parameter.grad.detach().cpu(), epoch)

    def log_graph(self, model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
        """Trace the model graph; returns why it could not be traced (None when it was)."""
        was_training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings say nothing to a user here
                self.writer.add_graph(model, inputs)
            return None
        except Exception as exc:  # the tracer raises many types for models it cannot follow
            return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
        finally:
            model.train(was_training)

    def log_hparams(self, config: dict[str, Any], metrics: dict[str, float]) -> None:
        """The run's config next to its final metrics (HParams tab), in this run's directory."""
        hparams = {k: v if isinstance(v, (int, float, str, bool)) else str(v)
                   for k, v in config.items() if v is not None}
        final = {f"hparam/{k}": float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        self.writer.add_hparams(hparams, final, run_name=".")

    def close(self) -> None:
        """Flush and close the event files."""
        self.writer.close()
