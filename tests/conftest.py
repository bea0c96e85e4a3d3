"""Shared fixtures. MNIST is found by the package's own resolver: $MNIST_DATA_DIR, else data/ at the root."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding MNIST/raw/ (downloaded into data/ when missing and the network answers).

    Without data every test that needs it fails with the resolver's one-line message, which names the fix;
    the tests that need no data still run.
    """
    from mnist_utils.data import MnistDataError, ensure_mnist

    try:
        return ensure_mnist().parent.parent
    except MnistDataError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def small_data(data_dir):
    """2,000 training images, 1,000 validation images, the full test set."""
    from mnist_utils import load_mnist

    return load_mnist(data_dir, train_subset=2000, val_size=1000, seed=0)


@pytest.fixture
def count_fits(monkeypatch):
    """The TrainConfig of every fit a grid search starts, in order (fit itself still runs)."""
    from mnist_utils import grid_search

    calls = []
    real_fit = grid_search.fit

    def counting_fit(*args, **kwargs):
        calls.append(args[2])  # the trial's TrainConfig
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(grid_search, "fit", counting_fit)
    return calls
