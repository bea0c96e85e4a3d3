"""Named training recipes: the model to build, its hyperparameters and the training settings.

The command line (``train --model NAME``), the panel and the notebooks start from these; any flag or argument
overrides a field. Each is made of the same plain blocks as everything else: a model from ``models.py``, a
``TrainConfig`` and, for ``best`` and ``robust``, an augmentation. Settings were chosen on the validation split,
never the test set.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import TrainConfig


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
    # 99 % in one epoch: a small CNN, a large batch, Adam with a short memory (betas 0.7/0.9) and a OneCycle
    # schedule, label smoothing; bfloat16 where the CPU or GPU has it natively.
    "fast": Recipe("fast", TrainConfig(epochs=1, batch_size=256, lr=1e-2, optimizer="adam", betas=(0.7, 0.9),
                                       schedule="onecycle", pct_start=0.25, label_smoothing=0.1, bf16=True),
                   description="small CNN (16/32 ch, 213k params), 1 epoch, batch 256, Adam 1e-2 betas (0.7, 0.9), "
                               "OneCycle, label smoothing 0.1"),
    # >= 99.6 %: a BatchNorm CNN, random shifts of up to 2 pixels, SGD Nesterov with OneCycle, 6 epochs.
    "best": Recipe("best", TrainConfig(epochs=6, batch_size=256, lr=0.4, optimizer="sgd", momentum=0.9,
                                       nesterov=True, weight_decay=5e-4, schedule="onecycle",
                                       label_smoothing=0.1, augment=2, bf16=True),
                   description="BatchNorm CNN (32/64/128 ch), 6 epochs, batch 256, random shifts of up to 2 px, "
                               "SGD Nesterov OneCycle 0.4, label smoothing 0.1"),
    # digits from outside MNIST: FastNet, twice as wide, 4 epochs of handwriting-like distortions (RandomDistort)
    "robust": Recipe("fast", TrainConfig(epochs=4, batch_size=128, lr=5e-3, optimizer="adam", betas=(0.7, 0.9),
                                         schedule="onecycle", pct_start=0.25, label_smoothing=0.1, augment=2,
                                         bf16=True, distort=True), {"channels": (32, 64), "fc": 256},
                     description="FastNet 32/64 ch, 4 epochs, batch 128, random rotation/scale/slant/shift, stroke "
                                 "width, blur and noise, Adam 5e-3 betas (0.7, 0.9), OneCycle, label smoothing 0.1"),
}
