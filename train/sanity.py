"""Sanity checks (report 001): initial loss near ln(classes), overfitting a tiny subset, and the
majority-class and uniform-random baselines."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch.utils.data import Dataset, Subset, TensorDataset
from torch_geometric.data import Data

from train.config import TrainConfig
from train.data.registry import load_data
from train.data.splits import Splits, TransformSubset
from train.loop import fit
from train.metrics import accuracy


def initial_loss(cfg: TrainConfig, data: Splits | Data, device: torch.device) -> dict[str, Any]:
    """Loss of the untrained model on one training batch vs ln(classes), and the gradient norm after one
    backward (it must be finite and non-zero)."""
    from train.runner import prepare

    spec, model, task = prepare(cfg, data, device)
    model.train()
    loss = next(task.loss_closures())(model)
    loss.backward()
    grads = [p.grad.norm() for p in model.parameters() if p.grad is not None]
    grad_norm = float(torch.linalg.vector_norm(torch.stack(grads))) if grads else 0.0
    return {"model": spec.name, "expected_loss": math.log(spec.num_classes),
            "initial_loss": float(loss.detach()), "grad_norm": grad_norm,
            "grads_ok": bool(grads) and math.isfinite(grad_norm) and grad_norm > 0}


def overfit_config(cfg: TrainConfig, samples: int, epochs: int, lr: float,
                   weight_decay: float) -> TrainConfig:
    """`cfg` narrowed to `samples` training samples, no augmentation, validation on as few samples."""
    return dataclasses.replace(cfg, train_subset=samples, eval_subset=samples, augment=False, epochs=epochs,
                               lr=lr, weight_decay=weight_decay, batch_size=min(cfg.batch_size, samples),
                               scheduler="none", target_accuracy=None)


def overfit(cfg: TrainConfig, data: Splits | Data, device: torch.device) -> dict[str, Any]:
    """Train on the (already narrowed) training subset; the final train loss should approach 0."""
    from train.runner import prepare

    _spec, model, task = prepare(cfg, data, device)
    history = fit(model, task, cfg, device).history
    return {"samples": len(data.train) if isinstance(data, Splits) else int(data.train_mask.sum()),
            "epochs": cfg.epochs, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
            "first_train_loss": history[0].train_loss, "final_train_loss": history[-1].train_loss,
            "final_train_acc": history[-1].train_acc,
            # per epoch: the overfit-a-batch curve report 001/004 draw
            "history": [{"epoch": h.epoch, "train_loss": h.train_loss, "train_acc": h.train_acc}
                        for h in history]}


def run_sanity(cfg: TrainConfig, options, samples: int = 32, epochs: int = 200, lr: float = 1e-3,
               weight_decay: float = 1e-4) -> dict[str, Any]:
    """Initial-loss check on the full data, then the overfit check on `samples` training samples."""
    from train.device import resolve_device
    from train.seeding import seed_everything

    device = resolve_device(options.device)
    seed_everything(cfg.seed)
    first = initial_loss(cfg, load_data(cfg, options.data_dir, options.download), device)
    small = overfit_config(cfg, samples, epochs, lr, weight_decay)
    return {**first, "overfit": overfit(small, load_data(small, options.data_dir, options.download), device)}


def labels_of(dataset: Dataset) -> torch.Tensor:
    """All labels of a dataset without running its input transforms (cheap for CIFAR's PIL pipeline)."""
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[1]
    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[torch.as_tensor(list(dataset.indices), dtype=torch.long)]
    if isinstance(dataset, TransformSubset):
        return labels_of(dataset.base)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return torch.as_tensor(targets)
    return torch.tensor([int(y) for _, y in dataset])  # type: ignore[attr-defined]


def baselines(train_labels: torch.Tensor, test_labels: torch.Tensor, num_classes: int,
              seed: int = 42) -> dict[str, Any]:
    """Majority class of the train labels scored on test; uniform random: expected 1/C and one seeded draw."""
    majority = int(torch.bincount(train_labels, minlength=num_classes).argmax())
    gen = torch.Generator().manual_seed(seed)
    guesses = torch.randint(0, num_classes, (len(test_labels),), generator=gen)
    return {
        "majority_class": majority,
        "majority_test_acc": accuracy(torch.full_like(test_labels, majority), test_labels),
        "uniform_expected_acc": 1.0 / num_classes,
        "uniform_test_acc": accuracy(guesses, test_labels),
        "test_samples": len(test_labels),
    }


def dataset_baselines(cfg: TrainConfig, options, num_classes: int) -> dict[str, Any]:
    """Baselines of `cfg.dataset` on its test split."""
    data = load_data(cfg, options.data_dir, options.download)
    if isinstance(data, Data):
        train, test = data.y[data.train_mask], data.y[data.test_mask]
    else:
        train, test = labels_of(data.train), labels_of(data.test)
    return baselines(train.long(), test.long(), num_classes, cfg.seed)

