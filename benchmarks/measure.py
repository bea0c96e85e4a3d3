"""One benchmark measurement, run in a process of its own: ``python -m benchmarks.measure KIND [SETTINGS_JSON]``.

It prints one JSON line. ``bench.py`` starts these processes, times each one whole from outside and reads its peak
memory; the times in the JSON are in-process, taken after a warm-up (first imports, first kernel calls), with the
data already in memory. KIND is one of:

- ``peak``: the machine's float32 matmul speed (2048 x 2048, best of 5), the yardstick for "share of the peak";
- ``seed``: the project's original pipeline (torchvision ``DataLoader`` + per-image ``ToTensor``, the historical
  CNN, batch 64, Adam 1e-3), epoch by epoch until 99.0 % test accuracy or ``max_epochs``;
- ``recipe``: ``fit`` with a recipe (``fast``, ``best``, ``cnn``...), optionally changed by ``config``/``hparams``.
"""

from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace

import torch
from torch.utils.flop_counter import FlopCounterMode

TARGET = 0.99


def matmul_peak() -> dict:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b  # warm-up
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * 2048**3 / (time.perf_counter() - start))
    return {"gflops": best / 1e9}


def flops_per_image(model: torch.nn.Module, batch: int = 64) -> float:
    """Forward + backward FLOPs of one training image (the optimizer step is not counted: it is per batch)."""
    x = torch.randn(batch, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


def seed_pipeline(data_dir=None, max_epochs: int = 5, train_subset: int | None = None) -> dict:
    from mnist_utils import build_model, evaluate
    from mnist_utils.train import train_one_epoch

    from .seed_pipeline import classic_loaders

    train, _, test = classic_loaders(data_dir, batch_size=64, train_subset=train_subset)
    loss_fn = torch.nn.CrossEntropyLoss()
    warm = build_model(
        "cnn"
    )  # a throwaway model: the first steps' one-off costs stay out of the timed epoch
    train_one_epoch(
        warm, [next(iter(train))] * 3, torch.optim.Adam(warm.parameters(), lr=1e-3), loss_fn
    )
    torch.manual_seed(0)
    model = build_model("cnn")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seconds, accuracy = [], []
    while len(seconds) < max_epochs and not (accuracy and accuracy[-1] >= TARGET):
        start = time.perf_counter()
        train_one_epoch(model, train, optimizer, loss_fn)
        seconds.append(time.perf_counter() - start)
        accuracy.append(evaluate(model, test).accuracy)  # not timed: monitoring only
    return {"epoch_seconds": seconds, "test_accuracies": accuracy, "images": len(train.dataset)}


def recipe(
    name: str,
    seed: int = 0,
    data_dir=None,
    train_subset: int | None = None,
    config: dict | None = None,
    hparams: dict | None = None,
    relu_inplace: bool = True,
) -> dict:
    from mnist_utils import TensorBatches, evaluate, fit, load_mnist, speed
    from mnist_utils.recipes import RECIPES

    if (
        not relu_inplace
    ):  # the ablation's "ReLU not in place": FastNet's ReLUs copy, in this process only
        speed.F = SimpleNamespace(relu=lambda x, inplace=False: torch.relu(x))

    chosen = RECIPES[name]
    settings = chosen.config.replace(seed=seed, **(config or {}))
    hparams = {**chosen.hparams, **(hparams or {})}
    data = load_mnist(data_dir, normalize=chosen.normalize, train_subset=train_subset, seed=seed)
    warm = TensorBatches(
        data.train_x[: 3 * settings.batch_size],
        data.train_y[: 3 * settings.batch_size],
        settings.batch_size,
    )  # a warm-up of 3 steps: torch.optim's first import, the first kernels
    fit(
        chosen.model,
        (warm, None),
        settings.replace(epochs=1, schedule="constant"),
        hparams=hparams,
        progress=False,
    )
    start = time.perf_counter()
    model, history = fit(chosen.model, data, settings, hparams=hparams, progress=False)
    seconds = time.perf_counter() - start
    return {
        "train_seconds": seconds,
        "test_accuracy": evaluate(model, data.test).accuracy,
        "val_accuracy": history.val_acc[-1],
        "images": history.epochs * len(data.train_y),
    }


if __name__ == "__main__":
    kind, settings = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    result = {"peak": matmul_peak, "seed": seed_pipeline, "recipe": recipe}[kind](**settings)
    print(json.dumps({**result, "threads": torch.get_num_threads()}))
