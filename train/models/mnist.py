"""MNIST MLP (report 002) and CNNs (report 003)."""

from __future__ import annotations

import torch
from torch import nn

from train.data.registry import get_dataset
from train.registry import ModelSpec, TensorSpec, register_model

MNIST_CLASSES = get_dataset("mnist").num_classes
_IMAGE = TensorSpec("image", ("batch", 1, 28, 28))
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_INITS = ("default", "zeros", "kaiming")


class MnistMLP(nn.Module):
    """Flatten · Linear(784→hidden) · [BN] · act · [Dropout] · Linear(hidden→10)."""

    def __init__(self, hidden: int = 128, activation: str = "relu", dropout: float = 0.0,
                 batchnorm: bool = False, init: str = "default") -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(28 * 28, hidden)]
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(_ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden, MNIST_CLASSES))
        self.net = nn.Sequential(*layers)
        _initialise(self.net, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _initialise(module: nn.Module, init: str) -> None:
    """Apply the report's weight initialisation to every Linear layer."""
    for layer in module.modules():
        if not isinstance(layer, nn.Linear):
            continue
        if init == "zeros":
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif init == "kaiming":
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)


class MnistCNN(nn.Module):
    """Conv(1→32,3)·[BN]·ReLU · Conv(32→64,3)·[BN]·ReLU · MaxPool(2) · Flatten · FC 9216→128→10."""

    def __init__(self, batchnorm: bool = False, dropout: float = 0.0) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            conv = [nn.Conv2d(cin, cout, 3)]
            return conv + ([nn.BatchNorm2d(cout)] if batchnorm else []) + [nn.ReLU()]

        self.features = nn.Sequential(*block(1, 32), *block(32, 64), nn.MaxPool2d(2), nn.Flatten())
        head: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        self.classifier = nn.Sequential(
            *head, nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Linear(128, MNIST_CLASSES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


register_model(ModelSpec(
    "mnist-mlp", "mnist", MNIST_CLASSES, MnistMLP, (_IMAGE,),
    "MLP 784-128-10 (act/dropout/BN/init variants)",
))
register_model(ModelSpec(
    "mnist-cnn", "mnist", MNIST_CLASSES, MnistCNN, (_IMAGE,), "2 conv + 2 FC",
))
register_model(ModelSpec(
    "mnist-cnn-bn", "mnist", MNIST_CLASSES, MnistCNN, (_IMAGE,),
    "2 conv + BatchNorm + Dropout(0.25) + 2 FC",
    default_kwargs={"batchnorm": True, "dropout": 0.25},
))
