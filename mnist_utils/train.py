"""The training loop: ``train_one_epoch``, the canonical PyTorch loop of notebook 02, and ``fit``, which runs it."""
import math
import os
import sys
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

import torch
from torch import nn

from .augment import RandomDistort, RandomShift
from .config import History, TrainConfig, TrainingDiverged
from .data import MnistData, TensorBatches
from .evaluate import evaluate
from .models import build_model


def select_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA, then Apple's MPS, then the CPU, unless a device is named; a named device must exist."""
    has = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    try:
        device = torch.device(next(kind for kind in has if has[kind]) if device in (None, "auto") else device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'mps' or None to pick automatically") from None
    if not has.get(device.type, True):
        raise ValueError(f"device '{device.type}' was asked for but {device.type.upper()} is not available here; "
                         "use device='cpu' or leave device unset to pick automatically")
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (elsewhere it is emulated, slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper().startswith(("AVX2", "AVX", "SSE"))  # no bf16 kernels
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if device.type == "cpu" and cpuinfo.is_file() and not capped else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def speed_setup(model: nn.Module, device: torch.device, config: TrainConfig):
    """The two speed options, applied here only: ``channels_last`` (NHWC weights, so convolutions run in that
    layout) and ``bf16``, a bfloat16 autocast where the device runs it natively; float32 elsewhere, silently."""
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.bf16 and native_bf16(device):
        return model, lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return model, nullcontext


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    common = dict(lr=config.lr, weight_decay=config.weight_decay, fused=config.fused or None)  # None: the default
    if config.optimizer == "adam":  # (fused=False, unlike None, would also turn off foreach on a GPU)
        return torch.optim.Adam(model.parameters(), betas=config.betas, **common)
    return torch.optim.SGD(model.parameters(), momentum=config.momentum, nesterov=config.nesterov, **common)


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    """The per-batch learning-rate schedule, or None. ``cycle_momentum=False`` keeps beta1/momentum as configured."""
    if config.schedule == "constant":
        return None
    steps = config.epochs * steps_per_epoch
    if steps * config.pct_start <= 1:  # OneCycleLR would divide by zero
        raise ValueError(f"schedule='onecycle' needs more than {1 / config.pct_start:.0f} warm-up steps, got {steps}; "
                         "use more epochs or training images, a smaller batch_size, or schedule='constant'")
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=steps,
                                               pct_start=config.pct_start, cycle_momentum=config.cycle_momentum)


def make_augment(config: TrainConfig):
    """Random shifts of up to ``augment`` pixels (with ``distort``, handwriting-like distortions too), or None."""
    kind = RandomDistort if config.distort else RandomShift
    return kind(config.augment, seed=config.seed) if config.augment else None


def train_one_epoch(model, batches, optimizer, loss_fn, *, scheduler=None, augment=None, autocast=nullcontext,
                    on_batch=None) -> tuple[float, bool]:
    """One pass over ``batches``: (mean loss, whether ``on_batch(loss)`` asked to stop). NaN raises before a step."""
    model.train()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        if augment is not None:
            x = augment(x)
        optimizer.zero_grad()
        with autocast():
            loss = loss_fn(model(x), y)
        value = loss.item()  # one read (a device sync on a GPU) serves the check, the total and the hook
        if not math.isfinite(value):
            raise FloatingPointError(value)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total, count = total + value * len(y), count + len(y)
        if on_batch is not None and on_batch(value):
            return total / count, True
    return total / max(count, 1), False


def fit(model: nn.Module | str, data, config: TrainConfig | None = None, *, hparams: dict | None = None, device=None,
        callback=None, should_stop=None, progress: bool | None = None, **options) -> tuple[nn.Module, History]:
    """Train ``model`` (a module, or a name with ``hparams``) on ``MnistData`` or a ``(batches, val_data)`` pair."""
    config = (config or TrainConfig()).replace(**options)
    device = select_device(device)
    train_batches, val_data = split_batches(data, config, device)
    torch.manual_seed(config.seed)  # every device, before the model is built: it fixes the initial weights too
    if hparams and not isinstance(model, str):
        raise TypeError("hparams apply only to a model given by name, e.g. fit('mlp', data, hparams={'dropout': 0.2})")
    model = build_model(model, **(hparams or {})) if isinstance(model, str) else model
    model, autocast = speed_setup(model.to(device), device, config)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, len(train_batches))
    loss_fn, augment = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing), make_augment(config)
    history, bar = History(), progress_bar(config.epochs * len(train_batches), progress)

    def after_batch(loss: float) -> bool:
        history.batch_loss.append(loss)
        history.batch_lr.append(optimizer.param_groups[0]["lr"])
        bar.update()
        return should_stop is not None and should_stop()

    with bar, ExitStack() as on_exit:
        on_exit.callback(torch.set_num_threads, torch.get_num_threads())  # restored however the run ends
        torch.set_num_threads(config.threads or torch.get_num_threads())
        try:
            for epoch in range(1, config.epochs + 1):
                start = time.perf_counter()
                loss, stopped = train_one_epoch(model, train_batches, optimizer, loss_fn, scheduler=scheduler,
                                                augment=augment, autocast=autocast, on_batch=after_batch)
                if not stopped:
                    history.record(loss, evaluate(model, val_data) if val_data else None, time.perf_counter() - start)
                if stopped or (callback is not None and callback(history)):
                    history.stopped_early = stopped or epoch < config.epochs
                    break
        except FloatingPointError as exc:
            raise TrainingDiverged(f"training diverged in epoch {epoch}: the loss became {exc} with lr={config.lr:g}; "
                                   f"try a smaller learning rate such as lr={config.lr / 10:g}", history) from None
    return model, history


def split_batches(data, config: TrainConfig, device: torch.device):
    if isinstance(data, (tuple, list)) and len(data) == 2:  # (train_batches, val_data), used as they are
        return data
    if not isinstance(data, MnistData):
        raise TypeError(f"data must be MnistData (from load_mnist) or a (batches, val_data) pair, got {data!r:.60}")
    if config.batch_size > len(data.train_y):
        raise ValueError(f"batch_size {config.batch_size} is larger than the {len(data.train_y)} training images; "
                         "lower it or train on more images")
    batches = TensorBatches(data.train_x.to(device), data.train_y.to(device), config.batch_size, seed=config.seed)
    return batches, ((data.val_x.to(device), data.val_y.to(device)) if len(data.val_y) else None)


def progress_bar(total: int, show: bool | None):
    """A tqdm bar in a terminal or a JupyterLab kernel; none under papermill, nbval or CI (or ``show=False``)."""
    from tqdm.auto import tqdm
    if show is None:  # Jupyter Server sets JPY_SESSION_NAME for its kernels; papermill and nbclient do not
        interactive = "JPY_SESSION_NAME" in os.environ if "ipykernel" in sys.modules else sys.stderr.isatty()
        show = interactive and not (os.environ.get("CI") or os.environ.get("MNIST_NO_PROGRESS"))
    return tqdm(total=total, disable=not show, unit="batch", leave=False)
