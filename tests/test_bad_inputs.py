"""Every bad input at the public boundary: the exception type and the words of its message.

Each case is a function of (small_data, tmp_path) that must raise before any work starts.
"""

import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_utils import (
    MnistDataError,
    TrainConfig,
    UntrustedCheckpointError,
    build_model,
    fit,
    load_digit_image,
    load_mnist,
    load_model,
    save_model,
    select_device,
)
from mnist_utils.data import MNIST_FILES, ensure_mnist


def _fit(**options):
    return lambda data, tmp: fit("mlp", data, **options)


def _copy_mnist(tmp, corrupt_file: str, mutate):
    """A private copy of MNIST/raw with one file damaged by ``mutate(bytes) -> bytes``."""
    raw = tmp / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = ensure_mnist().parent.parent
    for name in MNIST_FILES:
        shutil.copyfile(os.path.join(source, "MNIST", "raw", name), raw / name)
    (raw / corrupt_file).write_bytes(mutate((raw / corrupt_file).read_bytes()))
    return tmp / "mnist"


def _no_download(tmp):
    from torchvision import datasets

    datasets.MNIST.mirrors = ["http://127.0.0.1:9/"]  # refused at once, with or without internet
    return tmp / "empty"


def _state_file(tmp, name="cnn"):
    _, state = save_model(build_model(name), tmp)
    return state


def _truncated(tmp):
    state = _state_file(tmp, "mlp")
    state.write_bytes(state.read_bytes()[:5000])
    return state


def _random_bytes(tmp):
    path = tmp / "random.pth"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def _not_an_image(tmp):
    path = tmp / "digit.png"
    path.write_text("this is a text file named like a PNG")
    return path


def _corrupt_png(tmp):
    path = tmp / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:40])
    return path


def _huge_image(tmp):
    path = tmp / "huge.png"
    Image.new("L", (12_000, 20), 255).save(path)
    return path


CASES = [
    # learning rate
    ("lr zero", _fit(lr=0), ValueError, ["lr", "> 0", "0.0"]),
    ("lr negative", _fit(lr=-0.01), ValueError, ["lr", "-0.01"]),
    ("lr NaN", _fit(lr=float("nan")), ValueError, ["lr", "finite", "nan"]),
    ("lr string", _fit(lr="fast"), TypeError, ["lr", "'fast'", "number"]),
    # batch size
    ("batch size zero", _fit(batch_size=0), ValueError, ["batch_size", ">= 1"]),
    ("batch size negative", _fit(batch_size=-32), ValueError, ["batch_size", "-32"]),
    (
        "batch size > dataset",
        _fit(batch_size=5000),
        ValueError,
        ["batch_size", "5000", "larger", "2000"],
    ),
    # epochs
    ("epochs zero", _fit(epochs=0), ValueError, ["epochs", ">= 1"]),
    ("epochs negative", _fit(epochs=-3), ValueError, ["epochs", "-3"]),
    ("epochs 2.5", _fit(epochs=2.5), TypeError, ["epochs", "whole number", "2.5"]),
    ("epochs 'ten'", _fit(epochs="ten"), TypeError, ["epochs", "'ten'", "epochs=10"]),
    ("epochs True", _fit(epochs=True), TypeError, ["epochs", "whole number"]),
    # model hyperparameters
    (
        "dropout < 0",
        lambda d, t: build_model("mlp", dropout=-0.1),
        ValueError,
        ["dropout", ">= 0", "-0.1"],
    ),
    ("dropout = 1", lambda d, t: build_model("mlp", dropout=1.0), ValueError, ["dropout", "< 1"]),
    (
        "hidden empty",
        lambda d, t: build_model("mlp", hidden=()),
        ValueError,
        ["hidden", "two", "[]"],
    ),
    (
        "hidden zero",
        lambda d, t: build_model("mlp", hidden=(128, 0)),
        ValueError,
        ["hidden[1]", ">= 1"],
    ),
    ("hidden text", lambda d, t: build_model("mlp", hidden="big"), TypeError, ["hidden", "'big'"]),
    (
        "unknown model",
        lambda d, t: build_model("resnet"),
        ValueError,
        ["model", "'resnet'", "'mlp'", "'cnn'"],
    ),
    (
        "unknown optimizer",
        _fit(optimizer="adamw"),
        ValueError,
        ["optimizer", "'adamw'", "'adam'", "'sgd'"],
    ),
    ("unknown option", _fit(epoch=3), TypeError, ["epoch", "valid", "epochs"]),
    (
        "onecycle with too few steps",
        _fit(schedule="onecycle", batch_size=1000, epochs=1),
        ValueError,
        ["onecycle", "2", "steps", "batch_size"],
    ),
    (
        "momentum 1",
        lambda d, t: TrainConfig(optimizer="sgd", momentum=1.0),
        ValueError,
        ["momentum", "< 1"],
    ),
    # data
    (
        "train subset > set",
        lambda d, t: load_mnist(train_subset=60_000),
        ValueError,
        ["train_subset", "<= 55000", "60000"],
    ),
    ("val size > set", lambda d, t: load_mnist(val_size=70_000), ValueError, ["val_size", "70000"]),
    (
        "unknown normalization",
        lambda d, t: load_mnist(normalize="zscore"),
        ValueError,
        ["normalize", "'mnist'"],
    ),
    (
        "missing data, no download",
        lambda d, t: load_mnist(_no_download(t)),
        MnistDataError,
        ["empty", "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "MNIST_DATA_DIR"],
    ),
    (
        "data dir is a file",
        lambda d, t: load_mnist(_not_an_image(t)),
        MnistDataError,
        ["is a file", "MNIST/raw"],
    ),
    (
        "truncated IDX",
        lambda d, t: load_mnist(_copy_mnist(t, "train-images-idx3-ubyte", lambda b: b[:-1000])),
        MnistDataError,
        ["train-images-idx3-ubyte", "truncated", "download MNIST again"],
    ),
    (
        "corrupt IDX header",
        lambda d, t: load_mnist(
            _copy_mnist(t, "t10k-labels-idx1-ubyte", lambda b: b"\xff" * 8 + b[8:])
        ),
        MnistDataError,
        ["t10k-labels-idx1-ubyte", "bad header"],
    ),
    (
        "corrupt IDX labels",
        lambda d, t: load_mnist(
            _copy_mnist(t, "train-labels-idx1-ubyte", lambda b: b[:8] + b"\x63" * (len(b) - 8))
        ),
        MnistDataError,
        ["train-labels-idx1-ubyte", "corrupt"],
    ),
    # checkpoints
    (
        "checkpoint missing",
        lambda d, t: load_model(t / "nope.pth"),
        FileNotFoundError,
        ["nope.pth", "does not exist"],
    ),
    (
        "checkpoint truncated",
        lambda d, t: load_model(_truncated(t)),
        ValueError,
        ["truncated or corrupt"],
    ),
    (
        "random bytes .pth",
        lambda d, t: load_model(_random_bytes(t)),
        ValueError,
        ["random.pth", "not a readable"],
    ),
    (
        "cnn state loaded as mlp",
        lambda d, t: load_model(_state_file(t), model="mlp"),
        ValueError,
        ["'cnn'", "not 'mlp'"],
    ),
    (
        "cnn state into an mlp module",
        lambda d, t: load_model(_state_file(t), model=build_model("mlp")),
        ValueError,
        ["'cnn'", "'mlp'"],
    ),
    (
        "whole pickle untrusted",
        lambda d, t: load_model(save_model(build_model("mlp"), t)[0]),
        UntrustedCheckpointError,
        ["pickled", "trusted=True"],
    ),
    # images
    (
        "image is text",
        lambda d, t: load_digit_image(_not_an_image(t)),
        ValueError,
        ["digit.png", "not a readable image"],
    ),
    (
        "image truncated",
        lambda d, t: load_digit_image(_corrupt_png(t)),
        ValueError,
        ["not a readable image"],
    ),
    (
        "image missing",
        lambda d, t: load_digit_image(t / "none.png"),
        FileNotFoundError,
        ["none.png", "does not exist"],
    ),
    (
        "image absurdly large",
        lambda d, t: load_digit_image(_huge_image(t)),
        ValueError,
        ["12000x20", "crop"],
    ),
    # devices
    ("unknown device", lambda d, t: select_device("tpu"), ValueError, ["'tpu'", "'cpu'"]),
]
if not torch.cuda.is_available():
    CASES.append(
        ("cuda absent", _fit(device="cuda"), ValueError, ["cuda", "not available", "device='cpu'"])
    )


@pytest.mark.parametrize("call, error, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(small_data, tmp_path, monkeypatch, call, error, words):
    from torchvision import datasets

    monkeypatch.setattr(
        datasets.MNIST, "mirrors", datasets.MNIST.mirrors
    )  # undo _no_download afterwards
    with pytest.raises(error) as info:
        call(small_data, tmp_path)
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


def test_an_image_several_digits_wide_is_resized_not_refused(tmp_path):
    page = np.full((400, 2400), 255, np.uint8)
    page[100:300, 1000:1100] = 0
    Image.fromarray(page).save(tmp_path / "wide.png")
    assert load_digit_image(tmp_path / "wide.png").shape == (1, 28, 28)
