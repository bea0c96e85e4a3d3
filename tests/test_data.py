import os

import pytest
import torch

from mnist_utils import MnistDataError, TensorBatches, load_mnist, resolve_data_dir
from mnist_utils import data as D


def test_data_dir_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "from_env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "from_env"
    monkeypatch.delenv("MNIST_DATA_DIR")
    assert resolve_data_dir() == D.PROJECT_ROOT / "data"
    with pytest.raises(TypeError, match="data_dir must be a folder path"):
        resolve_data_dir(5)


def test_a_relative_data_dir_means_the_same_from_the_root_and_from_notebooks(monkeypatch, data_dir):
    relative = os.path.relpath(data_dir, D.PROJECT_ROOT)  # e.g. ../shared/data or data
    for folder in (
        D.PROJECT_ROOT,
        D.PROJECT_ROOT / "notebooks",
    ):  # papermill from the root, JupyterLab from notebooks/
        monkeypatch.chdir(folder)
        assert resolve_data_dir(relative).resolve() == data_dir.resolve()


def test_load_mnist_shapes_split_and_normalization(data_dir):
    data = load_mnist(data_dir, val_size=5000, seed=0)
    assert data.train_x.shape == (55_000, 1, 28, 28) and data.train_y.shape == (55_000,)
    assert data.val_x.shape == (5_000, 1, 28, 28) and data.test_x.shape == (10_000, 1, 28, 28)
    assert data.train_x.dtype == torch.float32 and data.train_y.dtype == torch.int64
    # MNIST's own statistics normalize the training pixels to mean 0, std 1
    assert abs(data.train_x.mean().item()) < 0.01 and abs(data.train_x.std().item() - 1) < 0.01
    assert torch.bincount(data.test_y).tolist()[:2] == [
        980,
        1135,
    ]  # the official test set, untouched


def test_split_is_seeded_and_disjoint():
    train_a, val_a = D.split_indices(5000, None, seed=1)
    train_b, val_b = D.split_indices(5000, None, seed=1)
    train_c, _ = D.split_indices(5000, None, seed=2)
    assert torch.equal(train_a, train_b) and torch.equal(val_a, val_b)
    assert not torch.equal(train_a, train_c)
    assert len(set(train_a.tolist()) & set(val_a.tolist())) == 0
    assert len(train_a) + len(val_a) == 60_000
    subset, val = D.split_indices(5000, 2000, seed=1)
    assert torch.equal(subset, train_a[:2000]) and torch.equal(val, val_a)


@pytest.mark.parametrize("name, low, high", [("none", 0.0, 1.0), ("half", -1.0, 1.0)])
def test_other_normalizations(data_dir, name, low, high):
    data = load_mnist(data_dir, normalize=name, train_subset=100, val_size=10)
    assert data.train_x.min().item() == pytest.approx(
        low
    ) and data.train_x.max().item() == pytest.approx(high)


def test_tensor_batches_cover_everything_and_reshuffle():
    x, y = torch.arange(10).float().view(10, 1), torch.arange(10)
    batches = TensorBatches(x, y, batch_size=4, seed=0)
    assert len(batches) == 3
    first = torch.cat([b for _, b in batches])
    second = torch.cat([b for _, b in batches])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert first.tolist() != second.tolist()  # a new order every epoch
    again = torch.cat([b for _, b in TensorBatches(x, y, batch_size=4, seed=0)])
    assert again.tolist() == first.tolist()  # same seed, same order
    for xb, yb in batches:
        assert torch.equal(xb.view(-1).long(), yb)  # images stay paired with labels


def test_missing_data_and_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    from torchvision import datasets

    # a loopback port that refuses connections: the download fails here and on machines with internet
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(MnistDataError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "MNIST_DATA_DIR" in message
    for name in D.MNIST_FILES:
        assert name in message
    assert isinstance(info.value, FileNotFoundError)
