"""How one epoch feeds a model: full-graph, neighbour-sampled graph, or plain mini-batches.

Every task times forward + backward + optimiser step per step (synchronised on CUDA), apart from the
time spent waiting for data, so `compute_s` is what the reports call the training time.
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torch_geometric.data import Data

from train.config import TrainConfig
from train.data.splits import Splits
from train.device import synchronize
from train.errors import BenchError
from train.graph_forward import sage_projects_first
from train.metrics import accuracy, macro_f1
from train.sampling import neighbor_loader


@dataclass
class Evaluation:
    """Mean loss, predictions and targets of one split."""

    loss: float
    preds: torch.Tensor
    targets: torch.Tensor

    def accuracy(self) -> float:
        """Fraction correct."""
        return accuracy(self.preds, self.targets)

    def macro_f1(self, num_classes: int) -> float:
        """Macro-averaged F1."""
        return macro_f1(self.preds, self.targets, num_classes)


@dataclass
class TrainEpoch:
    """One epoch of training: mean loss and accuracy over the samples seen, and its timings (s)."""

    loss: float
    accuracy: float
    compute_s: float  # forward + backward + optimiser step
    data_s: float  # waiting for batches (sampling, collation, host-to-device copies)
    samples: int


class _Meter:
    """Sums loss and correct counts over steps without a host sync per step."""

    def __init__(self) -> None:
        self.loss_sum, self.correct, self.count = 0.0, 0, 0
        self._pending: list[tuple[torch.Tensor, torch.Tensor, int]] = []

    def add(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """Queue one step's mean loss and number correct (read back once, at the end)."""
        n = int(targets.numel())
        self._pending.append((loss.detach() * n, (logits.detach().argmax(1) == targets).sum(), n))

    def result(self) -> tuple[float, float, int]:
        """(mean loss, accuracy, samples)."""
        for loss_sum, correct, n in self._pending:
            self.loss_sum += float(loss_sum)
            self.correct += int(correct)
            self.count += n
        self._pending.clear()
        if self.count == 0:
            return 0.0, 0.0, 0
        return self.loss_sum / self.count, self.correct / self.count, self.count


def _check_finite(loss: torch.Tensor) -> None:
    """Stop with one line when training diverges instead of saving NaN weights."""
    if not torch.isfinite(loss):
        raise BenchError(f"training loss became {float(loss)}; lower the learning rate (--lr)")


class Task(ABC):
    """Feeds one dataset to a model: training epochs, evaluation of named splits, a sample input."""

    num_classes: int
    # Whether the loop scores the test split every epoch too: where it costs (almost) nothing, as on a
    # full graph, whose one forward pass serves every split (report 000 quotes last-epoch and best test).
    tests_every_epoch: bool = False

    @abstractmethod
    def train_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> TrainEpoch:
        """Run one epoch of training."""

    @abstractmethod
    def evaluate(self, model: nn.Module, splits: Sequence[str]) -> dict[str, Evaluation]:
        """Loss and predictions on each of `splits` ('train', 'val', 'test'), in eval mode."""

    @abstractmethod
    def example_inputs(self) -> tuple[torch.Tensor, ...]:
        """A small real input on the task's device (for tracing the model graph)."""

    @abstractmethod
    def loss_closures(self) -> Iterator[LossFn]:
        """Endless training batches, each as a function model -> mean loss (LR finder, sanity checks)."""


# One training batch, ready to run: model -> mean cross-entropy on that batch.
LossFn = Callable[[nn.Module], torch.Tensor]


class FullGraphTask(Task):
    """Cora full batch: one step per epoch on the whole graph, loss on the train mask."""

    tests_every_epoch = True

    def __init__(self, data: Data, uses_edges: bool, device: torch.device, num_classes: int) -> None:
        # Data.to() moves in place: copy first so the loaded graph, shared by models, stays put.
        self.data = copy.copy(data).to(device)
        self.uses_edges = uses_edges
        self.device = device
        self.num_classes = num_classes

    def _forward(self, model: nn.Module, mask: torch.Tensor) -> torch.Tensor:
        """Logits of the nodes in `mask`. A model that ignores edges treats nodes independently,
        so it only runs on those rows: same result, a twentieth of the work for 140 train nodes."""
        if self.uses_edges:
            return model(self.data.x, self.data.edge_index)[mask]
        return model(self.data.x[mask])

    def train_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> TrainEpoch:
        model.train()
        mask, meter = self.data.train_mask, _Meter()
        synchronize(self.device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = self._forward(model, mask)
        loss = F.cross_entropy(logits, self.data.y[mask])
        loss.backward()
        optimizer.step()
        synchronize(self.device)
        compute = time.perf_counter() - start
        _check_finite(loss)
        meter.add(loss, logits, self.data.y[mask])
        mean_loss, acc, n = meter.result()
        return TrainEpoch(mean_loss, acc, compute, 0.0, n)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, splits: Sequence[str]) -> dict[str, Evaluation]:
        model.eval()
        masks = {split: self.data[f"{split}_mask"] for split in splits}
        if self.uses_edges:  # one full-graph pass serves every split
            with sage_projects_first():  # the same sums, a fifth of the aggregation (W·mean x = mean W·x)
                full = model(self.data.x, self.data.edge_index)
            logits = {split: full[mask] for split, mask in masks.items()}
        else:
            logits = {split: self._forward(model, mask) for split, mask in masks.items()}
        out = {}
        for split, mask in masks.items():
            targets = self.data.y[mask]
            loss = float(F.cross_entropy(logits[split], targets))
            out[split] = Evaluation(loss, logits[split].argmax(1).cpu(), targets.cpu())
        return out

    def example_inputs(self) -> tuple[torch.Tensor, ...]:
        return (self.data.x, self.data.edge_index) if self.uses_edges else (self.data.x,)

    def loss_closures(self) -> Iterator[LossFn]:
        mask = self.data.train_mask
        while True:  # full batch: every step sees the whole graph
            yield lambda model: F.cross_entropy(self._forward(model, mask), self.data.y[mask])


class SampledGraphTask(FullGraphTask):
    """GraphSAGE: mini-batches of seed nodes with sampled neighbourhoods; evaluation on the full graph."""

    def __init__(self, data: Data, cfg: TrainConfig, device: torch.device, num_classes: int) -> None:
        super().__init__(data, True, device, num_classes)
        # Sampling runs on CPU from a CPU copy of the graph, as PyG's loaders do.
        on_cpu = copy.copy(data).cpu()
        self.loader = neighbor_loader(on_cpu, on_cpu.train_mask, cfg.num_neighbors, cfg.batch_size,
                                      shuffle=True, num_workers=cfg.num_workers)

    def train_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> TrainEpoch:
        model.train()
        meter, compute, waited = _Meter(), 0.0, 0.0
        ready = time.perf_counter()
        for batch in self.loader:
            batch = batch.to(self.device)
            synchronize(self.device)
            start = time.perf_counter()
            waited += start - ready
            optimizer.zero_grad(set_to_none=True)
            # Seeds come first in every sampled subgraph: the loss is on them only.
            logits = model(batch.x, batch.edge_index)[: batch.batch_size]
            targets = batch.y[: batch.batch_size]
            loss = F.cross_entropy(logits, targets)
            loss.backward()
            optimizer.step()
            synchronize(self.device)
            ready = time.perf_counter()
            compute += ready - start
            _check_finite(loss)
            meter.add(loss, logits, targets)
        mean_loss, acc, n = meter.result()
        return TrainEpoch(mean_loss, acc, compute, waited, n)

    def loss_closures(self) -> Iterator[LossFn]:
        while True:
            for batch in self.loader:
                batch = batch.to(self.device)
                yield lambda model, b=batch: F.cross_entropy(
                    model(b.x, b.edge_index)[: b.batch_size], b.y[: b.batch_size])


class BatchTask(Task):
    """Images and spectrograms: shuffled mini-batches for training, fixed-order batches for evaluation."""

    def __init__(self, splits: Splits, cfg: TrainConfig, device: torch.device) -> None:
        self.splits = splits
        self.device = device
        self.num_classes = splits.num_classes
        # A last batch of one sample breaks BatchNorm in train mode: drop it in that one case only.
        lone_last = len(splits.train) % cfg.batch_size == 1 and len(splits.train) > 1
        self.train_loader = DataLoader(splits.train, batch_size=cfg.batch_size, shuffle=True,
                                       num_workers=cfg.num_workers, drop_last=lone_last)
        self.eval_batch_size = cfg.eval_batch_size
        self.num_workers = cfg.num_workers

    def train_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> TrainEpoch:
        model.train()
        meter, compute, waited = _Meter(), 0.0, 0.0
        ready = time.perf_counter()
        for inputs, targets in self.train_loader:
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            synchronize(self.device)
            start = time.perf_counter()
            waited += start - ready
            optimizer.zero_grad(set_to_none=True)
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
            loss.backward()
            optimizer.step()
            synchronize(self.device)
            ready = time.perf_counter()
            compute += ready - start
            meter.add(loss, logits, targets)
        mean_loss, acc, n = meter.result()
        _check_finite(torch.tensor(mean_loss))  # checked once per epoch: a per-step check would sync
        return TrainEpoch(mean_loss, acc, compute, waited, n)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, splits: Sequence[str]) -> dict[str, Evaluation]:
        model.eval()
        out = {}
        for split in splits:
            loader = DataLoader(getattr(self.splits, split), batch_size=self.eval_batch_size,
                                shuffle=False, num_workers=self.num_workers)
            loss_sum, preds, targets = 0.0, [], []
            for inputs, labels in loader:
                inputs, labels = inputs.to(self.device), labels.to(self.device)
                logits = model(inputs)
                loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
                preds.append(logits.argmax(1).cpu())
                targets.append(labels.cpu())
            n = sum(len(t) for t in targets)
            out[split] = Evaluation(loss_sum / max(n, 1), torch.cat(preds), torch.cat(targets))
        return out

    def example_inputs(self) -> tuple[torch.Tensor, ...]:
        sample = self.splits.val[0][0]
        return (sample.unsqueeze(0).to(self.device),)

    def loss_closures(self) -> Iterator[LossFn]:
        while True:
            for inputs, targets in self.train_loader:
                inputs, targets = inputs.to(self.device), targets.to(self.device)
                yield lambda model, x=inputs, y=targets: F.cross_entropy(model(x), y)


def make_task(cfg: TrainConfig, data: Splits | Data, uses_edges: bool, num_classes: int,
              device: torch.device) -> Task:
    """The task that trains `cfg.model` on `data`: sampled graph when `num_neighbors` is set."""
    if isinstance(data, Data):
        if cfg.num_neighbors:
            return SampledGraphTask(data, cfg, device, num_classes)
        return FullGraphTask(data, uses_edges, device, num_classes)
    return BatchTask(data, cfg, device)
