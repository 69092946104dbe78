"""The reports' own experiment definitions that both `bench report` (to match records to the reports'
rows) and `bench reproduce` (to run them) read: one definition, two readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from train.registry import VARIANT_MARK


@dataclass(frozen=True)
class MnistConfiguration:
    """One configuration of the MNIST CNN report and the `bench train` options that reproduce it."""

    name: str
    model: str
    optimizer: str
    lr: float
    scheduler: str
    options: str  # appended to `bench train mnist --model <model> --name <variant>`
    variant: str  # the named variant its command trains: the five configurations never overwrite each other

    def matches(self, config: dict[str, Any]) -> bool:
        """Whether a record's config is this configuration (the model itself or any variant of it)."""
        model = str(config.get("model", "")).partition(VARIANT_MARK)[0]
        return (model == self.model and config.get("optimizer") == self.optimizer
                and abs(float(config.get("lr", 0)) - self.lr) < 1e-12
                and config.get("scheduler", "none") == self.scheduler)


MNIST_CONFIGURATIONS = (
    MnistConfiguration("SGD", "mnist-cnn", "sgd-momentum", 0.01, "none", "", "sgd"),
    MnistConfiguration("SGD + BN", "mnist-cnn-bn", "sgd-momentum", 0.01, "none",
                       "--set optimizer=sgd-momentum --lr 0.01", "sgd-bn"),
    MnistConfiguration("Adam", "mnist-cnn", "adam", 0.001, "none", "--set optimizer=adam --lr 0.001", "adam"),
    MnistConfiguration("Adam + BN", "mnist-cnn-bn", "adam", 0.001, "none", "", "adam-bn"),
    MnistConfiguration("Adam + BN + StepLR", "mnist-cnn-bn", "adam", 0.002, "step",
                       "--lr 0.002 --set scheduler=step --set step_size=3 --set gamma=0.5", "adam-bn-steplr"),
)
