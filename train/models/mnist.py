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
    """Flatten · [Linear(→hidden) · [BN] · act · [Dropout]] × layers · Linear(hidden→10); report 002's
    784-128-10 is layers=1, its "3-layer network" layers=2 (three Linear layers)."""

    def __init__(self, hidden: int = 128, activation: str = "relu", dropout: float = 0.0,
                 batchnorm: bool = False, init: str = "default", layers: int = 1) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"layers (hidden layers) must be an integer >= 1, got {layers!r}")
        modules: list[nn.Module] = [nn.Flatten()]
        width = 28 * 28
        for _ in range(layers):
            modules.append(nn.Linear(width, hidden))
            if batchnorm:
                modules.append(nn.BatchNorm1d(hidden))  # after the linear layer, before the activation
            modules.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
            width = hidden
        modules.append(nn.Linear(hidden, MNIST_CLASSES))
        self.net = nn.Sequential(*modules)
        _initialise_first_weight(self.net, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _initialise_first_weight(module: nn.Module, init: str) -> None:
    """Report 002's initialisation study, as it did it: only the first layer's weight (fc1.weight) is set
    (zeros, or Kaiming normal, fan_in); its bias and every other layer keep PyTorch's default. Zeroing
    every layer and bias instead would leave a ReLU/Tanh net with no gradient at all."""
    first = next(layer for layer in module.modules() if isinstance(layer, nn.Linear))
    if init == "zeros":
        nn.init.zeros_(first.weight)
    elif init == "kaiming":
        nn.init.kaiming_normal_(first.weight, mode="fan_in")


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
    "MLP 784-128-10 (act/dropout/BN/init/depth variants)",
))
register_model(ModelSpec(
    "mnist-cnn", "mnist", MNIST_CLASSES, MnistCNN, (_IMAGE,), "2 conv + 2 FC",
))
register_model(ModelSpec(
    "mnist-cnn-bn", "mnist", MNIST_CLASSES, MnistCNN, (_IMAGE,),
    "2 conv + BatchNorm + Dropout(0.25) + 2 FC",
    default_kwargs={"batchnorm": True, "dropout": 0.25},
))
