"""The networks: ``MLP`` and the historical ``CNN`` (notebooks 02 and 03), ``FastNet`` and ``BestNet`` of the speed
recipes, and ``build_model``, which records ``model.arch`` and ``model.hparams`` so a saved model can be rebuilt."""
import inspect

import torch
from torch import nn
from torch.nn import functional as F

from .validation import check_choice, check_float, check_int, check_sizes


class MLP(nn.Module):
    """784 -> hidden[0] -> hidden[1] -> 10, ReLU between layers, optional dropout after each hidden layer."""

    def __init__(self, hidden=(256, 128), dropout: float = 0.0):
        super().__init__()
        h1, h2 = check_sizes("hidden", hidden, 2)
        dropout = check_float("dropout", dropout, at_least=0.0, below=1.0, example=0.2)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, h1), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(h1, h2), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(h2, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """The project's historical CNN: two 3x3 convolutions, one max-pool, two linear layers (1,625,866 params)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),   # 1x28x28 -> 32x28x28
                                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),  # -> 64x28x28
                                      nn.MaxPool2d(2))                             # -> 64x14x14
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 14 * 14, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class FastNet(nn.Module):
    """The speed recipes' small CNN: a 5x5 then a 3x3 convolution, each max-pooled. ``stride=2``: the 5x5 one steps
    two pixels instead (a quarter of its work); ``stride2=2``: the 3x3 one too, then BatchNorm (``fast``: both)."""

    def __init__(self, channels=(16, 32), fc: int = 256, stride: int = 1, stride2: int = 1):
        super().__init__()
        (c1, c2), (fc,) = check_sizes("channels", channels, 2), check_sizes("fc", [fc], 1)
        stride = check_int("stride", stride, maximum=2, example=2)
        stride2 = check_int("stride2", stride2, maximum=2, example=2)
        self.conv1 = nn.Conv2d(1, c1, 5, stride=stride, padding=2 * (stride - 1))  # 28 -> 24 pooled to 12, or 14
        self.pool1 = nn.MaxPool2d(2) if stride == 1 else nn.Identity()
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=stride2)  # -> 10 or 12 pooled to 5 or 6, or strided to 5 or 6
        self.pool2 = nn.MaxPool2d(2) if stride2 == 1 else nn.Identity()
        self.norm2 = nn.BatchNorm2d(c2) if stride2 == 2 else nn.Identity()  # it won back what striding lost
        self.fc1 = nn.Linear(c2 * (5 if stride == 1 else 6) ** 2, fc)
        self.fc2 = nn.Linear(fc, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.pool1(self.conv1(x)), inplace=True)  # pooled first: same result, a quarter of the values
        x = F.relu(self.norm2(self.pool2(self.conv2(x))), inplace=True)  # in place: no copy to allocate each step
        # flatten in (height, width, channel) order: a free view of a channels_last tensor (TrainConfig.channels_last)
        return self.fc2(F.relu(self.fc1(x.permute(0, 2, 3, 1).flatten(1)), inplace=True))


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class BestNet(nn.Module):
    """The ``best`` recipe's BatchNorm CNN: 3x3 conv + BN + ReLU stages, max-pooled 28 -> 14 -> 7 -> 3, one linear."""

    def __init__(self, widths=(32, 64, 128)):
        super().__init__()
        w1, w2, w3 = check_sizes("widths", widths, 3)
        self.features = nn.Sequential(conv_bn(1, w1), conv_bn(w1, w1), nn.MaxPool2d(2),
                                      conv_bn(w1, w2), conv_bn(w2, w2), nn.MaxPool2d(2),
                                      conv_bn(w2, w3), nn.MaxPool2d(2))
        self.classifier = nn.Linear(w3 * 3 * 3, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).permute(0, 2, 3, 1).flatten(1))  # see FastNet.forward


MODELS = {"mlp": MLP, "cnn": CNN, "fast": FastNet, "best": BestNet}


def build_model(name: str, **hparams) -> nn.Module:
    cls = MODELS[check_choice("model", name, MODELS)]
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}  # the class's own defaults
    if unknown := sorted(set(hparams) - set(defaults)):
        raise TypeError(f"model {name!r} takes no hyperparameter {', '.join(unknown)}; "
                        f"allowed: {', '.join(sorted(defaults)) or 'none'}")
    merged = {**defaults, **{k: v for k, v in hparams.items() if v is not None}}  # None: the default
    model = cls(**merged)
    model.arch = name.lower()
    model.hparams = {k: tuple(v) if isinstance(v, list) else v for k, v in merged.items()}  # JSON gives lists
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
