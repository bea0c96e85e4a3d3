"""The networks of the speed recipes (see recipes.py): ``"fast"`` (99 % in one short epoch on a CPU) and
``"best"`` (≥ 99.6 % in a few minutes). Importing this module registers both with ``build_model``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .models import register_model
from .validation import check_int


def _widths(name: str, value, count: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != count:
        raise TypeError(f"{name} must be {count} whole numbers, got {value!r}")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1, example=32) for i, v in enumerate(value))


class FastNet(nn.Module):
    """Small CNN for one-epoch training: conv 5x5 -> max-pool -> ReLU -> conv 3x3 -> max-pool -> ReLU ->
    linear -> ReLU -> linear (default 16/32 channels, fc 256: 212,682 parameters).

    Pooling before the ReLU gives the same result as after it (both are monotone) on a quarter of the
    pixels, so the ReLU and its backward pass cost four times less.
    """

    def __init__(self, channels=(16, 32), fc: int = 256):
        super().__init__()
        c1, c2 = _widths("channels", channels, 2)
        fc = check_int("fc", fc, minimum=1, example=256)
        self.conv1 = nn.Conv2d(1, c1, 5)  # 28 -> 24, pooled to 12
        self.conv2 = nn.Conv2d(c1, c2, 3)  # 12 -> 10, pooled to 5
        self.fc1 = nn.Linear(c2 * 5 * 5, fc)
        self.fc2 = nn.Linear(fc, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        # flatten in (height, width, channel) order: a free view of a channels_last tensor, a copy otherwise
        return self.fc2(F.relu(self.fc1(x.permute(0, 2, 3, 1).flatten(1))))


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class BestNet(nn.Module):
    """BatchNorm CNN for the high-accuracy recipe: three stages of 3x3 conv + BN + ReLU blocks with
    max-pooling between them (28 -> 14 -> 7 -> 3), then one linear layer on the flattened features."""

    def __init__(self, widths=(32, 64, 128)):
        super().__init__()
        w1, w2, w3 = _widths("widths", widths, 3)
        self.features = nn.Sequential(
            _conv_bn(1, w1), _conv_bn(w1, w1), nn.MaxPool2d(2),
            _conv_bn(w1, w2), _conv_bn(w2, w2), nn.MaxPool2d(2),
            _conv_bn(w2, w3), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(w3 * 3 * 3, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).permute(0, 2, 3, 1).flatten(1))  # see FastNet.forward


register_model("fast", FastNet, {"channels": (16, 32), "fc": 256})
register_model("best", BestNet, {"widths": (32, 64, 128)})
