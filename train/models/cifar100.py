"""CIFAR-100 ResNet-style bottleneck network (report 004)."""

from __future__ import annotations

import torch
from torch import nn

from train.data.registry import get_dataset
from train.registry import ModelSpec, TensorSpec, register_model

CIFAR100_CLASSES = get_dataset("cifar100").num_classes
EXPANSION = 4  # out channels = 4 × bottleneck width, as in ResNet


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    """Conv (no bias: BN follows) and BatchNorm."""
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)]


class Bottleneck(nn.Module):
    """1x1 reduce · 3x3 (stride) · 1x1 expand, BN after each, identity or 1x1 projection."""

    def __init__(self, cin: int, mid: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(cin, mid, 1), nn.ReLU(),
            *_conv_bn(mid, mid, 3, stride), nn.ReLU(),
            *_conv_bn(mid, cout, 1),
        )
        needs_projection = stride != 1 or cin != cout
        self.shortcut = nn.Sequential(*_conv_bn(cin, cout, 1, stride)) if needs_projection \
            else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class BottleneckNet(nn.Module):
    """Stem Conv3x3(3→64) · 3 bottleneck stages (width doubling, stride 2 at 2 and 3) · GAP · FC."""

    def __init__(self, blocks: tuple[int, int, int] = (3, 3, 3), width: int = 16,
                 num_classes: int = CIFAR100_CLASSES) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(3, 64, 3), nn.ReLU())
        stages: list[nn.Module] = []
        cin = 64
        for stage, count in enumerate(blocks):
            mid = width * 2**stage
            cout = mid * EXPANSION
            for i in range(count):
                stride = 2 if (stage > 0 and i == 0) else 1
                stages.append(Bottleneck(cin, mid, cout, stride))
                cin = cout
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


register_model(ModelSpec(
    "cifar100-bottleneck", "cifar100", CIFAR100_CLASSES,
    lambda blocks=(3, 3, 3), width=16: BottleneckNet(tuple(blocks), width),
    (TensorSpec("image", ("batch", 3, 32, 32)),),
    "ResNet bottleneck stages (3,3,3), width 16, GAP, Linear(256→100)",
))
