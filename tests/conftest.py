"""Shared fixtures. Tests read the real MNIST from $MNIST_DATA_DIR, else ../shared/data beside the project."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

if not os.environ.get("MNIST_DATA_DIR") and (SHARED_DATA / "MNIST" / "raw").is_dir():
    os.environ["MNIST_DATA_DIR"] = str(SHARED_DATA)
os.environ.setdefault("MNIST_NO_PROGRESS", "1")


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
