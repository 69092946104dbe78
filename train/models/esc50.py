"""ESC-50 log-mel CNN (report 001)."""

from __future__ import annotations

import torch
from torch import nn

from train.data.audio import CLIP_SECONDS, SAMPLE_RATE, LogMelFrontEnd
from train.data.registry import get_dataset
from train.registry import ModelSpec, TensorSpec, register_model

ESC50_CLASSES = get_dataset("esc50").num_classes
N_MELS = 64
N_FRAMES = 501  # 5 s at 16 kHz, hop 160, centred STFT
CLIP_SAMPLES = CLIP_SECONDS * SAMPLE_RATE  # 80000: esc50-wave's input length


class ESC50CNN(nn.Module):
    """Three Conv·BN·ReLU·MaxPool(2) blocks, global average pool, Linear(→50)."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), kernel_size: int = 5,
                 num_classes: int = ESC50_CLASSES) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep 'same' padding, got {kernel_size}")
        blocks: list[nn.Module] = []
        in_ch = 1
        for out_ch in channels:
            blocks += [
                nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, classes) of log-mel features (batch, 1, 64, 501)."""
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class ESC50Wave(ESC50CNN):
    """ESC50CNN fed the raw waveform: LogMelFrontEnd (training's own feature transform) in the graph.
    Same parameters and state-dict keys as ESC50CNN (the front end's buffers are not persistent), so an
    esc50-cnn checkpoint loads as it is."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), kernel_size: int = 5,
                 num_classes: int = ESC50_CLASSES) -> None:
        super().__init__(channels, kernel_size, num_classes)
        self.front_end = LogMelFrontEnd()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, classes) of waveforms (batch, 80000) at 16 kHz."""
        return self.classify(self.front_end(x))


register_model(ModelSpec(
    "esc50-cnn", "esc50", ESC50_CLASSES,
    lambda channels=(32, 64, 128), kernel_size=5: ESC50CNN(tuple(channels), kernel_size),
    (TensorSpec("logmel", ("batch", 1, N_MELS, N_FRAMES)),),
    "3 conv blocks [32,64,128], kernel 5, GAP, Linear(128→50)",
))

register_model(ModelSpec(
    "esc50-wave", "esc50", ESC50_CLASSES,
    lambda channels=(32, 64, 128), kernel_size=5: ESC50Wave(tuple(channels), kernel_size),
    (TensorSpec("wave", ("batch", CLIP_SAMPLES)),),
    "esc50-cnn with its log-mel front end in the graph: 5 s of 16 kHz audio in, esc50-cnn's weights",
    weights_of="esc50-cnn",
    default=False,  # 4 of a default run's 11 minutes here: `--models esc50-wave` (or all) asks for it
))
