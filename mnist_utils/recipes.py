"""Named training recipes: the model to build, its hyperparameters and the training settings.

The command line and the notebooks start from these; any flag or argument overrides a field.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .train import TrainConfig


@dataclass
class Recipe:
    model: str
    config: TrainConfig
    hparams: dict = field(default_factory=dict)
    normalize: str = "mnist"
    description: str = ""


RECIPES: dict[str, Recipe] = {
    "mlp": Recipe("mlp", TrainConfig(epochs=10, batch_size=64, lr=1e-3, optimizer="adam"),
                  {"hidden": (256, 128), "dropout": 0.2},
                  description="784-256-128-10 MLP with dropout 0.2, Adam 1e-3, batch 64"),
    "cnn": Recipe("cnn", TrainConfig(epochs=3, batch_size=64, lr=1e-3, optimizer="adam"),
                  description="the project's historical CNN, Adam 1e-3, batch 64"),
}
