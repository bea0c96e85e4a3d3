"""``TrainConfig``: every training setting, checked when made, before any data loads.
``History``: what a run records. ``TrainingDiverged``: the error of a run whose loss became NaN."""

import dataclasses

from .validation import check_bool, check_choice, check_float, check_int

# the settings that are fractions in [0, 1): momentum, Adam's betas, label smoothing
FRACTION = {"at_least": 0, "below": 1}


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3  # with schedule="onecycle": the peak learning rate
    optimizer: str = "adam"  # or "sgd"
    betas: tuple = (0.9, 0.999)  # Adam only
    momentum: float = 0.9  # SGD only
    nesterov: bool = False  # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"  # or "onecycle": warm up to lr, then anneal to 0, per batch
    pct_start: float = 0.3  # onecycle: the share of the steps spent warming up
    cycle_momentum: bool = False  # onecycle: also cycle Adam's beta1 / SGD's momentum
    label_smoothing: float = 0.0
    augment: int = 0  # random shifts of up to this many pixels per training image (0: none)
    distort: bool = False  # with augment: handwriting-like distortions too (distort.py)
    # the speed recipes' options (speed.py); a learner can leave them as they are
    channels_last: bool = False  # NHWC memory layout: faster convolutions on CPUs
    bf16: bool = False  # bfloat16 autocast where the device runs it natively; else float32
    fused: bool = False  # torch.optim's fused update: one kernel for all weights
    threads: int | None = None  # CPU threads for this run (None: torch's default)
    seed: int = 0  # fixes the initial weights, the batch order and the augmentation

    def __post_init__(self):
        # checked here, so every way of making a config (notebook, CLI, panel, grid) is checked
        self.epochs = check_int("epochs", self.epochs, minimum=1, example=10)
        self.batch_size = check_int("batch_size", self.batch_size, minimum=1, example=64)
        self.augment = check_int("augment", self.augment, minimum=0, maximum=8, example=2)
        self.seed = check_int("seed", self.seed, minimum=0, example=0)
        if self.threads is not None:
            self.threads = check_int("threads", self.threads, minimum=1, example=2)
        self.lr = check_float("lr", self.lr, example=1e-3, above=0, at_most=10)
        self.momentum = check_float("momentum", self.momentum, example=0.9, **FRACTION)
        self.weight_decay = check_float("weight_decay", self.weight_decay, example=0.0, at_least=0)
        self.label_smoothing = check_float(
            "label_smoothing", self.label_smoothing, example=0.1, **FRACTION
        )
        self.pct_start = check_float("pct_start", self.pct_start, example=0.3, above=0, below=1)
        self.optimizer = check_choice("optimizer", self.optimizer, ("adam", "sgd"))
        self.schedule = check_choice("schedule", self.schedule, ("constant", "onecycle"))
        self.betas = check_betas(self.betas)
        for name in ("nesterov", "cycle_momentum", "distort", "channels_last", "bf16", "fused"):
            check_bool(name, getattr(self, name))
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError(
                "nesterov=True needs optimizer='sgd' with momentum > 0; drop nesterov or use SGD"
            )

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed, checked like a new config; unknown names are errors."""
        names = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(
                f"unknown training option {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        return dataclasses.replace(self, **changes)


def check_betas(betas) -> tuple[float, float]:
    """Adam's two betas, each in [0, 1)."""
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise TypeError(f"betas must be two numbers in [0, 1) such as (0.9, 0.999), got {betas!r}")
    beta1 = check_float("betas[0]", betas[0], example=0.9, **FRACTION)
    beta2 = check_float("betas[1]", betas[1], example=0.999, **FRACTION)
    return beta1, beta2


@dataclasses.dataclass
class History:
    train_loss: list[float] = dataclasses.field(default_factory=list)
    train_acc: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    val_acc: list[float] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    batch_loss: list[float] = dataclasses.field(default_factory=list)
    batch_lr: list[float] = dataclasses.field(default_factory=list)
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def record(self, train_loss: float, train_acc: float, val_result, seconds: float) -> None:
        """One finished epoch; ``val_result``: an EvalResult, or None without a validation split."""
        self.train_loss.append(train_loss)
        self.train_acc.append(train_acc)
        if val_result is not None:
            self.val_loss.append(val_result.loss)
            self.val_acc.append(val_result.accuracy)
        self.seconds.append(seconds)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``history`` holds the epochs finished before that."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history
