"""The project's original data pipeline, kept as the benchmark's yardstick: torchvision ``datasets.MNIST`` with a
per-image ``ToTensor`` (+ ``Normalize``) and a ``DataLoader``, on the same seeded split as ``load_mnist``."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset

from mnist_utils.data import NORMALIZATIONS, ensure_mnist, split_indices


def classic_loaders(
    data_dir=None,
    *,
    batch_size: int = 64,
    normalize: str = "mnist",
    val_size: int = 5000,
    train_subset: int | None = None,
    seed: int = 0,
    num_workers: int = 0,
):
    """``(train, val, test)`` DataLoaders over torchvision's MNIST, split as :func:`mnist_utils.load_mnist` does."""
    from torchvision import datasets, transforms

    steps = [transforms.ToTensor()]
    if NORMALIZATIONS[normalize] is not None:
        mean, std = NORMALIZATIONS[normalize]
        steps.append(transforms.Normalize((mean,), (std,)))
    transform = transforms.Compose(steps)
    root = ensure_mnist(data_dir).parent.parent
    train_set = datasets.MNIST(root=str(root), train=True, download=False, transform=transform)
    test_set = datasets.MNIST(root=str(root), train=False, download=False, transform=transform)
    train_idx, val_idx = split_indices(val_size, train_subset, seed)
    return (
        DataLoader(
            Subset(train_set, train_idx.tolist()),
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
            num_workers=num_workers,
        ),
        DataLoader(Subset(train_set, val_idx.tolist()), batch_size=1000, num_workers=num_workers),
        DataLoader(test_set, batch_size=1000, num_workers=num_workers),
    )
