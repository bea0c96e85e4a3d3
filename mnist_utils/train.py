"""Training: ``train_one_epoch``, the canonical PyTorch loop of notebook 02, and ``fit``, which
runs it
epoch after epoch with a learning-rate schedule, a validation pass and a ``History``; and device
choice."""

import math
import time
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

from .augment import make_augment
from .config import History, TrainConfig, TrainingDiverged
from .data import MnistData, TensorBatches
from .evaluate import evaluate
from .models import build_model
from .progress import progress_bar
from .speed import apply_speed_options, optimizer_options


def select_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA, then Apple's MPS, then the CPU, unless a device is named; a named device must exist."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if device is None or device == "auto":
        for kind, present in available.items():
            if present:
                return torch.device(kind)
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"unknown device {device!r}; use 'cpu', 'cuda', 'mps' or None to pick automatically"
        ) from None
    if not available.get(device.type, True):
        raise ValueError(
            f"device '{device.type}' was asked for but {device.type.upper()} is not "
            "available here; "
            "use device='cpu' or leave device unset to pick automatically"
        )
    return device


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or SGD over the model's parameters, as ``config`` says."""
    extra = optimizer_options(config)
    if config.optimizer == "adam":
        return torch.optim.Adam(
            model.parameters(),
            lr=config.lr,
            betas=config.betas,
            weight_decay=config.weight_decay,
            **extra,
        )
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
        **extra,
    )


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    """The per-batch learning-rate schedule, or None. ``cycle_momentum=False`` keeps beta1/momentum
    as
    set."""
    if config.schedule == "constant":
        return None
    steps = config.epochs * steps_per_epoch
    if steps * config.pct_start <= 1:  # OneCycleLR would divide by zero
        raise ValueError(
            f"schedule='onecycle' needs more than {1 / config.pct_start:.0f} warm-up steps, "
            f"got {steps}; "
            "use more epochs or training images, a smaller batch_size, or schedule='constant'"
        )
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.lr,
        total_steps=steps,
        pct_start=config.pct_start,
        cycle_momentum=config.cycle_momentum,
    )


def train_one_epoch(
    model,
    batches,
    optimizer,
    loss_fn,
    *,
    scheduler=None,
    augment=None,
    autocast=nullcontext,
    on_batch=None,
) -> tuple[float, float, bool]:
    """One pass over ``batches``: (mean loss, accuracy, whether ``on_batch(loss)`` asked to stop).

    The accuracy is on the training batches as the model saw them, while it learned (dropout and
    augmentation on). A NaN or infinite loss raises FloatingPointError before its step.
    """
    model.train()
    device = next(model.parameters()).device
    loss_sum = 0.0
    correct = torch.zeros(
        (), dtype=torch.long, device=device
    )  # summed on the device: no sync per batch
    count = 0
    for x, y in batches:
        x = x.to(device)
        y = y.to(device)
        if augment is not None:
            x = augment(x, y)  # the labels too: the robust recipe draws flags on some 1s
        optimizer.zero_grad()
        with autocast():
            logits = model(x)
            loss = loss_fn(logits, y)
        value = (
            loss.item()
        )  # one read (a device sync on a GPU) serves the check, the sum and the hook
        if not math.isfinite(value):
            raise FloatingPointError(value)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += value * len(y)
        correct += (logits.argmax(1) == y).sum()
        count += len(y)
        if on_batch is not None and on_batch(value):
            return loss_sum / count, correct.item() / count, True
    count = max(count, 1)
    return loss_sum / count, correct.item() / count, False


def fit(
    model: nn.Module | str,
    data,
    config: TrainConfig | None = None,
    *,
    hparams: dict | None = None,
    device=None,
    callback=None,
    should_stop=None,
    progress: bool | None = None,
    **options,
) -> tuple[nn.Module, History]:
    """Train ``model`` (a module, or a name with ``hparams``) on ``MnistData`` or on a
    ``(batches, val_data)`` pair. ``callback(history)`` runs after each epoch, ``should_stop()``
    after each batch: True from either stops training. ``options`` change fields of ``config``.
    """
    config = (config or TrainConfig()).replace(**options)
    device = select_device(device)
    train_batches, val_data = batches_on_device(data, config, device)
    torch.manual_seed(config.seed)  # before the model is built: it fixes the initial weights too
    model = model_to_train(model, hparams)
    model, autocast = apply_speed_options(model.to(device), device, config)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, len(train_batches))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    augment = make_augment(config)
    history = History()
    bar = progress_bar(config.epochs * len(train_batches), progress)

    def after_batch(loss: float) -> bool:
        history.batch_loss.append(loss)
        history.batch_lr.append(optimizer.param_groups[0]["lr"])
        bar.update()
        return should_stop is not None and should_stop()

    with bar, cpu_threads(config.threads):
        for epoch in range(1, config.epochs + 1):
            start = time.perf_counter()
            try:
                loss, accuracy, stopped = train_one_epoch(
                    model,
                    train_batches,
                    optimizer,
                    loss_fn,
                    scheduler=scheduler,
                    augment=augment,
                    autocast=autocast,
                    on_batch=after_batch,
                )
            except FloatingPointError as exc:
                raise diverged(exc, epoch, config, history) from None
            if stopped:
                history.stopped_early = True
                break
            val_result = evaluate(model, val_data) if val_data else None
            history.record(loss, accuracy, val_result, time.perf_counter() - start)
            if callback is not None and callback(history):
                history.stopped_early = epoch < config.epochs
                break
    return model, history


@contextmanager
def cpu_threads(count: int | None):
    """Train with ``count`` CPU threads (None: torch's default), restoring the count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(count or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def model_to_train(model: nn.Module | str, hparams: dict | None) -> nn.Module:
    """``model`` itself, or the network that a name and its ``hparams`` build."""
    if isinstance(model, str):
        return build_model(model, **(hparams or {}))
    if hparams:
        raise TypeError(
            "hparams apply only to a model given by name, "
            "e.g. fit('mlp', data, hparams={'dropout': 0.2})"
        )
    return model


def diverged(exc: FloatingPointError, epoch: int, config: TrainConfig, history: History):
    return TrainingDiverged(
        f"training diverged in epoch {epoch}: the loss became {exc} with lr={config.lr:g}; "
        f"try a smaller learning rate such as lr={config.lr / 10:g}",
        history,
    )


def batches_on_device(data, config: TrainConfig, device: torch.device):
    """(training batches, validation (x, y) or None), with ``MnistData``'s tensors moved to
    ``device``.

    A ``(batches, val_data)`` pair is used as it is.
    """
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data
    if not isinstance(data, MnistData):
        raise TypeError(
            "data must be MnistData (from load_mnist) or a (batches, val_data) pair, "
            f"got {data!r:.60}"
        )
    if config.batch_size > len(data.train_y):
        raise ValueError(
            f"batch_size {config.batch_size} is larger than the "
            f"{len(data.train_y)} training images; "
            "lower it or train on more images"
        )
    train_x = data.train_x.to(device)
    train_y = data.train_y.to(device)
    batches = TensorBatches(train_x, train_y, config.batch_size, seed=config.seed)
    if len(data.val_y) == 0:
        return batches, None
    return batches, (data.val_x.to(device), data.val_y.to(device))
