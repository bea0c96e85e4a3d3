"""Shared fixtures. The environment defaults (MNIST_DATA_DIR, MNIST_QUICK) are set by ../conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ["MNIST_DATA_DIR"]).resolve()
    assert (path / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file(), f"MNIST missing under {path}"
    return path


@pytest.fixture(scope="session")
def small_data(data_dir):
    """2,000 training images, 1,000 validation images, the full test set."""
    from mnist_utils import load_mnist

    return load_mnist(data_dir, train_subset=2000, val_size=1000, seed=0)
