"""The course's networks: ``MLP`` (notebook 02) and the historical ``CNN`` (notebook 03).

``build_model`` makes any of the package's networks by name, these two or the speed recipes'
``FastNet`` and ``BestNet`` (``speed.py``), and records ``model.arch`` and ``model.hparams`` so a
saved model can be rebuilt.
"""

import inspect

import torch
from torch import nn

from .speed import BestNet, FastNet
from .validation import check_choice, check_float, check_sizes


class MLP(nn.Module):
    """784 -> hidden[0] -> hidden[1] -> 10, ReLU between layers, dropout after each hidden layer."""

    def __init__(self, hidden=(256, 128), dropout: float = 0.0):
        super().__init__()
        # a bad size or rate fails here, naming the parameter, rather than deep inside nn.Linear
        h1, h2 = check_sizes("hidden", hidden, 2)
        dropout = check_float("dropout", dropout, at_least=0.0, below=1.0, example=0.2)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, h1),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(h2, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """The project's historical CNN: two 3x3 convolutions, one max-pool, two linear layers."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),  # 1x28x28 -> 32x28x28
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),  # -> 64x28x28
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 64x14x14
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 14 * 14, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MODELS = {"mlp": MLP, "cnn": CNN, "fast": FastNet, "best": BestNet}


def model_defaults(cls) -> dict:
    """The hyperparameters a network class takes, with their default values."""
    defaults = {}
    for name, parameter in inspect.signature(cls).parameters.items():
        defaults[name] = parameter.default
    return defaults


def build_model(name: str, **hparams) -> nn.Module:
    """The network called ``name`` ('mlp', 'cnn', 'fast', 'best'); a hyperparameter set to None
    keeps
    its default."""
    name = check_choice("model", name, MODELS)
    cls = MODELS[name]
    settings = model_defaults(cls)
    unknown = sorted(set(hparams) - set(settings))
    if unknown:
        allowed = ", ".join(sorted(settings)) or "none"
        raise TypeError(
            f"model {name!r} takes no hyperparameter {', '.join(unknown)}; allowed: {allowed}"
        )
    for key, value in hparams.items():
        if value is not None:
            settings[key] = value
    model = cls(**settings)
    model.arch = name
    # saved as JSON, which turns tuples into lists: keep tuples, as the classes' defaults are
    model.hparams = {}
    for key, value in settings.items():
        model.hparams[key] = tuple(value) if isinstance(value, list) else value
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
