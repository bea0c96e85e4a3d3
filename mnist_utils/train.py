"""The training loop: ``fit`` a model with CrossEntropyLoss and Adam or SGD, recording a per-epoch history."""
from __future__ import annotations

import dataclasses
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .data import MnistData, TensorBatches
from .evaluate import evaluate
from .models import build_model
from .optim import make_optimizer, make_scheduler
from .validation import check_bool, check_choice, check_float, check_int

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "onecycle")


@dataclass
class TrainConfig:
    """Every training knob in one place; values are checked when the config is made."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"  # or "onecycle": warm up to lr, then anneal, stepped per batch
    label_smoothing: float = 0.0
    seed: int = 0
    # Speed and accuracy knobs (the "fast" and "best" recipes in recipes.py use them; defaults keep the
    # plain behaviour above).
    betas: tuple = (0.9, 0.999)  # Adam only
    nesterov: bool = False  # SGD only
    pct_start: float = 0.3  # onecycle: fraction of the steps spent warming up
    augment: int = 0  # random shifts of up to this many pixels per image (0: none)
    rotate: float = 0.0  # with augment: random rotations of up to this many degrees
    channels_last: bool = False  # NHWC memory layout: faster convolutions on many CPUs
    bf16: bool = False  # bfloat16 autocast where the device runs it natively, float32 otherwise
    lean: bool = False  # optim.LeanOptimizer + LeanOneCycle: skips torch.optim's ~1.4 s first import
    threads: int | None = None  # torch.set_num_threads for the run (None: leave as is)

    def __post_init__(self):
        self.epochs = check_int("epochs", self.epochs, minimum=1, example=10)
        self.batch_size = check_int("batch_size", self.batch_size, minimum=1, example=64)
        self.lr = check_float("lr", self.lr, above=0.0, at_most=10.0, example=1e-3)
        self.optimizer = check_choice("optimizer", self.optimizer, OPTIMIZERS)
        self.momentum = check_float("momentum", self.momentum, at_least=0.0, below=1.0, example=0.9)
        self.weight_decay = check_float("weight_decay", self.weight_decay, at_least=0.0, example=0.0)
        self.schedule = check_choice("schedule", self.schedule, SCHEDULES)
        self.label_smoothing = check_float("label_smoothing", self.label_smoothing, at_least=0.0, below=1.0,
                                           example=0.1)
        self.seed = check_int("seed", self.seed, minimum=0, example=0)
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise TypeError(f"betas must be two numbers in [0, 1) such as (0.9, 0.999), got {self.betas!r}")
        self.betas = tuple(check_float(f"betas[{i}]", b, at_least=0.0, below=1.0, example=0.9)
                           for i, b in enumerate(self.betas))
        for name in ("nesterov", "channels_last", "bf16", "lean"):
            check_bool(name, getattr(self, name))
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov=True needs optimizer='sgd' with momentum > 0; drop nesterov or use SGD")
        self.pct_start = check_float("pct_start", self.pct_start, above=0.0, below=1.0, example=0.3)
        self.augment = check_int("augment", self.augment, minimum=0, maximum=8, example=2)
        self.rotate = check_float("rotate", self.rotate, at_least=0.0, at_most=45.0, example=10.0)
        if self.threads is not None:
            self.threads = check_int("threads", self.threads, minimum=1, example=2)

    def replace(self, **changes) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown training option {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **changes)


@dataclass
class History:
    """Per-epoch metrics. Validation lists stay empty when there is no validation split."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``history`` holds the epochs finished before that."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


def select_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA, then Apple's MPS, then the CPU, unless a device is named; a named device must exist."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'mps' or None to pick automatically") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available here; "
                         "use device='cpu' or leave device unset to pick automatically")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but MPS is not available here; "
                         "use device='cpu' or leave device unset to pick automatically")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a CPU run repeats exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 matmuls and convolutions natively (CPU: AVX-512 BF16 or AMX)."""
    try:
        if device.type == "cpu":
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported())
    except (AttributeError, RuntimeError):
        pass
    return False


def progress_enabled() -> bool:
    """Show a progress bar in a terminal or a JupyterLab kernel; not under papermill, nbval or CI."""
    if os.environ.get("CI") or os.environ.get("MNIST_NO_PROGRESS"):
        return False
    if "ipykernel" in sys.modules:
        # Jupyter Server sets JPY_SESSION_NAME for kernels it starts; papermill and nbclient do not.
        return "JPY_SESSION_NAME" in os.environ
    return sys.stderr.isatty()


def train_one_epoch(model, batches, optimizer, loss_fn, device, *, scheduler=None, should_stop=None,
                    on_batch=None, transform=None, bf16: bool = False, channels_last: bool = False
                    ) -> tuple[float, bool]:
    """One pass over ``batches``. Returns (mean training loss, whether ``should_stop`` ended it early).

    ``transform(x)`` (e.g. random shifts) is applied to each input batch; ``bf16`` runs the forward pass
    under bfloat16 autocast (the loss is computed in float32); ``channels_last`` feeds NHWC batches.
    Raises ``FloatingPointError`` as soon as a batch loss is NaN or infinite.
    """
    model.train()
    device = torch.device(device)
    total, count = 0.0, 0
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if transform is not None:
            x = transform(x)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        if bf16:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                out = model(x)
            loss = loss_fn(out.float(), y)
        else:
            loss = loss_fn(model(x), y)
        value = loss.item()
        if not np.isfinite(value):
            raise FloatingPointError(value)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += value * len(y)
        count += len(y)
        if on_batch is not None:
            on_batch(value)
        if should_stop is not None and should_stop():
            return total / max(count, 1), True
    return total / max(count, 1), False


def fit(
    model: nn.Module | str,
    data,
    config: TrainConfig | None = None,
    *,
    hparams: dict | None = None,
    device=None,
    callback: Callable[[History], bool | None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: bool | None = None,
    **options,
) -> tuple[nn.Module, History]:
    """Train ``model`` on ``data`` and return ``(model, history)``.

    ``model``: a module, or a name for :func:`build_model` with ``hparams`` (built after seeding, so
    the seed fixes its initial weights too). ``data``: an :class:`MnistData` (the fast in-memory path) or a
    ``(train_batches, val_data)`` pair such as the first two of :func:`classic_loaders`.
    ``config`` and keyword ``options`` (``epochs=3, lr=1e-3, ...``) set the :class:`TrainConfig`.
    ``callback(history)`` runs after every epoch; returning True stops training there.
    ``should_stop()`` is asked after every batch; True ends training cleanly at that batch.
    Speed knobs (``channels_last``, ``bf16``, ``lean``, ``threads``) and augmentation (``augment``,
    ``rotate``) are :class:`TrainConfig` fields too; ``RECIPES["fast"].config`` sets them for you.
    """
    config = (config or TrainConfig()).replace(**options) if options else (config or TrainConfig())
    device = select_device(device)
    if isinstance(data, MnistData):
        if config.batch_size > len(data.train_y):
            raise ValueError(f"batch_size {config.batch_size} is larger than the training set "
                             f"({len(data.train_y)} images); pass a smaller batch_size or a larger train_subset")
        data = data.to(device)
        train_batches = TensorBatches(data.train_x, data.train_y, config.batch_size, seed=config.seed)
        val_data = data.val if len(data.val_y) else None
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        train_batches, val_data = data
    else:
        raise TypeError(f"data must be MnistData (from load_mnist) or a (train_batches, val_data) pair, "
                        f"got {type(data).__name__}")

    seed_everything(config.seed)
    if isinstance(model, str):
        model = build_model(model, **(hparams or {}))
    elif hparams:
        raise TypeError("hparams only apply when model is given by name, e.g. fit('mlp', data, hparams={...})")
    model = model.to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    bf16 = config.bf16 and bf16_supported(device)
    if config.bf16 and not bf16:
        warnings.warn(f"bf16=True but {device} has no native bfloat16 support; training in float32 instead",
                      RuntimeWarning, stacklevel=2)
    transform = None
    if config.augment or config.rotate:
        from .augment import RandomShift

        transform = RandomShift(config.augment, config.rotate, seed=config.seed)
    optimizer = make_optimizer(model, config)
    steps = len(train_batches)
    scheduler = make_scheduler(optimizer, config, steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    history = History()
    show = progress_enabled() if progress is None else progress
    from tqdm.auto import tqdm

    bar = tqdm(total=config.epochs * steps, disable=not show, unit="batch", leave=False)
    on_batch = (lambda v: (bar.update(1), bar.set_postfix(loss=f"{v:.3f}"))) if show else None
    threads = torch.get_num_threads()
    try:
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        for epoch in range(1, config.epochs + 1):
            bar.set_description(f"epoch {epoch}/{config.epochs}")
            start = time.perf_counter()
            try:
                train_loss, stopped = train_one_epoch(
                    model, train_batches, optimizer, loss_fn, device, scheduler=scheduler, should_stop=should_stop,
                    on_batch=on_batch, transform=transform, bf16=bf16, channels_last=config.channels_last)
            except FloatingPointError as exc:
                raise TrainingDiverged(
                    f"training diverged in epoch {epoch}: the loss became {exc.args[0]} with lr={config.lr:g}; "
                    f"try a smaller learning rate such as lr={config.lr / 10:g}", history) from None
            if stopped:
                history.stopped_early = True
                break
            history.train_loss.append(train_loss)
            if val_data is not None:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):  # monitoring only
                    result = evaluate(model, val_data)
                history.val_loss.append(result.loss)
                history.val_acc.append(result.accuracy)
            history.seconds.append(time.perf_counter() - start)
            if callback is not None and callback(history):
                history.stopped_early = epoch < config.epochs
                break
    finally:
        bar.close()
        if config.threads is not None:
            torch.set_num_threads(threads)
    return model, history
