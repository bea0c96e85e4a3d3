"""Named training recipes (model, hyperparameters, ``TrainConfig``), tuned on the validation split, never on test."""
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
                  {"hidden": (256, 128), "dropout": 0.2}, description="784-256-128-10 MLP, dropout 0.2, Adam"),
    "cnn": Recipe("cnn", TrainConfig(epochs=3, batch_size=64, lr=1e-3, optimizer="adam"), description="historical CNN"),
    "fast": Recipe("fast", TrainConfig(epochs=1, batch_size=192, lr=1e-2, optimizer="adam", betas=(0.7, 0.9),
                                       schedule="onecycle", pct_start=0.25, label_smoothing=0.1, channels_last=True,
                                       bf16=True, fused=True), {"channels": (24, 32), "stride": 2, "stride2": 2},
                   description="99 % in 1 epoch: small strided CNN, large batch, Adam with a short memory, OneCycle"),
    "best": Recipe("best", TrainConfig(epochs=6, batch_size=256, lr=0.4, optimizer="sgd", momentum=0.9, nesterov=True,
                                       weight_decay=5e-4, schedule="onecycle", label_smoothing=0.1, augment=2,
                                       channels_last=True, bf16=True), {"widths": (16, 32, 64)},
                   description=">= 99.6 %: narrow BatchNorm CNN, random shifts, SGD OneCycle, 6 epochs"),
    "robust": Recipe("fast", TrainConfig(epochs=4, batch_size=128, lr=5e-3, optimizer="adam", betas=(0.7, 0.9),
                                         schedule="onecycle", pct_start=0.25, label_smoothing=0.1, augment=2,
                                         channels_last=True, bf16=True, distort=True), {"channels": (32, 64), "fc": 256},
                     description="digits from outside MNIST: a wide FastNet on handwriting-like distortions"),
}
