"""``TrainConfig``: every training knob, checked when made, before any data loads; ``History``: what a run records."""
import dataclasses

from .validation import check_bool, check_choice, check_float, check_int

UNIT = {"at_least": 0, "below": 1}  # [0, 1): momentum, betas, label smoothing


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
    schedule: str = "constant"  # or "onecycle": warm up to lr, then anneal towards 0, stepped per batch
    pct_start: float = 0.3  # onecycle: share of the steps spent warming up
    cycle_momentum: bool = False  # onecycle: also cycle Adam's beta1 / SGD's momentum (off: they stay as set)
    label_smoothing: float = 0.0
    augment: int = 0  # random shifts of up to this many pixels per training image (0: none)
    distort: bool = False  # with augment: also rotate, scale, slant, thicken, thin, blur and add noise (RandomDistort)
    channels_last: bool = False  # NHWC memory format for the model: faster convolutions on CPUs (benchmarks/)
    bf16: bool = False  # bfloat16 autocast where the device runs bf16 natively; float32 elsewhere, silently
    fused: bool = False  # torch.optim's fused update: one kernel for all weights (not bit-equal to the default)
    threads: int | None = None  # CPU threads for this run (None: torch's default)
    seed: int = 0  # fixes the initial weights, the batch order and the augmentation

    def __post_init__(self):  # here, so every way of making a config (notebook, CLI, panel, grid) is checked
        for name, low, high, example in (("epochs", 1, None, 10), ("batch_size", 1, None, 64), ("augment", 0, 8, 2),
                                         ("seed", 0, None, 0), ("threads", 1, None, 2)):
            if getattr(self, name) is not None or name != "threads":  # threads=None: torch's own default
                setattr(self, name, check_int(name, getattr(self, name), minimum=low, maximum=high, example=example))
        for name, example, bounds in (("lr", 1e-3, {"above": 0, "at_most": 10}), ("momentum", 0.9, UNIT),
                                      ("weight_decay", 0.0, {"at_least": 0}), ("label_smoothing", 0.1, UNIT),
                                      ("pct_start", 0.3, {"above": 0, "below": 1})):
            setattr(self, name, check_float(name, getattr(self, name), example=example, **bounds))
        self.optimizer = check_choice("optimizer", self.optimizer, ("adam", "sgd"))
        self.schedule = check_choice("schedule", self.schedule, ("constant", "onecycle"))
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise TypeError(f"betas must be two numbers in [0, 1) such as (0.9, 0.999), got {self.betas!r}")
        self.betas = tuple(check_float(f"betas[{i}]", b, example=0.9, **UNIT) for i, b in enumerate(self.betas))
        for name in ("nesterov", "cycle_momentum", "distort", "channels_last", "bf16", "fused"):
            check_bool(name, getattr(self, name))
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov=True needs optimizer='sgd' with momentum > 0; drop nesterov or use SGD")

    def replace(self, **changes) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(self)}
        if unknown := sorted(set(changes) - names):
            raise TypeError(f"unknown training option {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class History:
    train_loss: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    val_acc: list[float] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    batch_loss: list[float] = dataclasses.field(default_factory=list)
    batch_lr: list[float] = dataclasses.field(default_factory=list)
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def record(self, train_loss: float, val_result, seconds: float) -> None:
        self.train_loss.append(train_loss)
        if val_result is not None:  # an EvalResult; None without a validation split
            self.val_loss.append(val_result.loss)
            self.val_acc.append(val_result.accuracy)
        self.seconds.append(seconds)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``history`` holds the epochs finished before that."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history
