"""Named training recipes: a network, its hyperparameters and a ``TrainConfig``.

Each was tuned on the validation split, never on the test set. ``mlp`` and ``cnn`` are the course's;
``fast``, ``best`` and ``robust`` are the speed and robustness recipes of notebooks 06 and 07.
"""

from dataclasses import dataclass, field

from .config import TrainConfig


@dataclass
class Recipe:
    model: str
    config: TrainConfig
    hparams: dict = field(default_factory=dict)
    normalize: str = "mnist"
    description: str = ""


MLP_RECIPE = Recipe(
    model="mlp",
    config=TrainConfig(epochs=10, batch_size=64, lr=1e-3, optimizer="adam"),
    hparams={"hidden": (256, 128), "dropout": 0.2},
    description="784-256-128-10 MLP, dropout 0.2, Adam",
)

CNN_RECIPE = Recipe(
    model="cnn",
    config=TrainConfig(epochs=3, batch_size=64, lr=1e-3, optimizer="adam"),
    description="historical CNN",
)

FAST_RECIPE = Recipe(
    model="fast",
    config=TrainConfig(
        epochs=1,
        batch_size=192,
        lr=1e-2,
        optimizer="adam",
        betas=(0.7, 0.9),
        schedule="onecycle",
        pct_start=0.25,
        label_smoothing=0.1,
        channels_last=True,
        bf16=True,
        fused=True,
    ),
    hparams={"channels": (24, 32), "stride": 2, "stride2": 2},
    description="99 % in 1 epoch: small strided CNN, large batch, short-memory Adam, OneCycle",
)

BEST_RECIPE = Recipe(
    model="best",
    config=TrainConfig(
        epochs=6,
        batch_size=256,
        lr=0.4,
        optimizer="sgd",
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        schedule="onecycle",
        label_smoothing=0.1,
        augment=2,
        channels_last=True,
        bf16=True,
    ),
    hparams={"widths": (16, 32, 64)},
    description=">= 99.6 %: narrow BatchNorm CNN, random shifts, SGD OneCycle, 6 epochs",
)

# the best recipe's network and schedule, one epoch longer, on handwriting-like distortions
ROBUST_RECIPE = Recipe(
    model="best",
    config=BEST_RECIPE.config.replace(epochs=7, distort=True),
    hparams={"widths": (16, 32, 64)},
    description="digits from outside MNIST: the best recipe's BatchNorm CNN, 7 epochs on "
    "handwriting-like distortions (distort.py)",
)

RECIPES: dict[str, Recipe] = {
    "mlp": MLP_RECIPE,
    "cnn": CNN_RECIPE,
    "fast": FAST_RECIPE,
    "best": BEST_RECIPE,
    "robust": ROBUST_RECIPE,
}
