"""The networks of this course, and ``build_model`` to make any of them from plain data.

Every model built here remembers its name and hyperparameters (``model.arch``, ``model.hparams``)
so a checkpoint or a grid-search row can rebuild it.
"""
from __future__ import annotations

import torch
from torch import nn

from .validation import check_choice, check_float, check_hidden


class MLP(nn.Module):
    """784 -> hidden[0] -> hidden[1] -> 10, ReLU between layers, optional dropout after each hidden layer."""

    def __init__(self, hidden=(256, 128), dropout: float = 0.0):
        super().__init__()
        h1, h2 = check_hidden(hidden)
        dropout = check_float("dropout", dropout, at_least=0.0, below=1.0, example=0.2)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, h1), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(h1, h2), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(h2, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """The project's historical CNN: two 3x3 convolutions, one max-pool, two linear layers (1,625,866 params)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 14 * 14, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# name -> (class, default hyperparameters). Recipes register more models here (see recipes.py).
MODELS: dict[str, tuple[type[nn.Module], dict]] = {
    "mlp": (MLP, {"hidden": (256, 128), "dropout": 0.0}),
    "cnn": (CNN, {}),
}


def register_model(name: str, cls: type[nn.Module], defaults: dict | None = None) -> None:
    MODELS[name] = (cls, dict(defaults or {}))


def build_model(name: str, **hparams) -> nn.Module:
    """Build a model by name (``"mlp"``, ``"cnn"``, ...) from plain hyperparameters.

    Unknown hyperparameters are refused rather than silently ignored.
    """
    name = check_choice("model", name, MODELS)
    cls, defaults = MODELS[name]
    unknown = sorted(set(hparams) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise TypeError(f"model {name!r} takes no hyperparameter {', '.join(unknown)}; allowed: {allowed}")
    merged = {**defaults, **{k: v for k, v in hparams.items() if v is not None}}
    if "hidden" in merged:
        merged["hidden"] = tuple(check_hidden(merged["hidden"]))
    model = cls(**merged)
    model.arch = name
    model.hparams = merged
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
