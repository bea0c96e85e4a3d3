"""MNIST in memory: where the files live, a seeded train/validation split, and shuffled batches sliced from one
tensor: the same numbers as torchvision's ``ToTensor`` + ``Normalize`` + ``DataLoader`` (notebook 01 checks it),
many times faster.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .validation import check_choice, check_int

# The checkout this package lives in (data/ and runs/ go there); the current folder for an installed copy.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if not (PROJECT_ROOT / "pyproject.toml").is_file():
    PROJECT_ROOT = Path.cwd()
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000
# name -> (mean, std) applied after scaling pixels to [0, 1]; None keeps raw [0, 1] pixels.
NORMALIZATIONS = {"none": None, "half": (0.5, 0.5), "mnist": (0.1307, 0.3081)}


class MnistDataError(FileNotFoundError):
    """The MNIST files are missing, truncated or corrupt, and could not be downloaded."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Where MNIST lives, for the CLI, the notebooks and the tests alike: the argument, else ``$MNIST_DATA_DIR``,
    else ``data/`` at the project root. A relative path is tried from the current folder, then from the project
    root, so ``"data"`` means the same in a terminal at the root and in a notebook kernel in ``notebooks/``."""
    if data_dir is None or data_dir == "":
        data_dir = os.environ.get("MNIST_DATA_DIR") or PROJECT_ROOT / "data"
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a folder path or None, got {data_dir!r}; pass e.g. data_dir='data'")
    path = Path(data_dir).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        path = PROJECT_ROOT / path
    if path.exists() and not path.is_dir():
        raise MnistDataError(f"data_dir {str(path)!r} is a file, not a folder; pass the folder that holds MNIST/raw/")
    return Path(os.path.abspath(path))  # absolute, but a symlinked data/ keeps its name


def _missing(raw: Path) -> list[str]:
    return [name for name in MNIST_FILES if not (raw / name).is_file()]


def ensure_mnist(data_dir=None) -> Path:
    """Return the raw folder, downloading MNIST with torchvision first if files are missing."""
    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    if not _missing(raw):
        return raw
    created = [p for p in (raw, raw.parent, root) if not p.exists()]  # innermost first, for rmdir
    try:
        from torchvision import datasets  # slow import: only when a download is needed

        for train in (True, False):
            datasets.MNIST(root=str(root), train=train, download=True)
        detail = f"still missing {', '.join(_missing(raw))}" if _missing(raw) else ""
    except Exception as exc:  # noqa: BLE001 (urllib, HTTP and checksum errors all mean the same to the user)
        detail = f"{type(exc).__name__}: {(str(exc) or 'no details').splitlines()[0]}"
        for folder in created:  # leave no empty MNIST/raw behind to puzzle the user
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    if detail:
        raise MnistDataError(f"MNIST not found under {str(root)!r} and the download failed ({detail}). Put the four "
                             f"files {', '.join(MNIST_FILES)} in {str(raw)!r}, or set MNIST_DATA_DIR (or pass "
                             "data_dir / --data-dir) to a folder that holds MNIST/raw/.")
    return raw


def read_idx(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """Read an uncompressed IDX file of uint8 images or labels, checking its header, its size and the labels."""
    data, fix = Path(path).read_bytes(), f"delete {str(path)!r} and download MNIST again"
    header = bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    if not data.startswith(header):
        raise MnistDataError(f"{str(path)!r} is not the MNIST IDX file expected (bad header); {fix}")
    if len(data) != len(header) + math.prod(shape):
        raise MnistDataError(f"{str(path)!r} is truncated or padded: {len(data)} bytes, expected "
                             f"{len(header) + math.prod(shape)}; {fix}")
    array = np.frombuffer(data, dtype=np.uint8, offset=len(header)).reshape(shape)
    if len(shape) == 1 and array.max() > 9:
        raise MnistDataError(f"{str(path)!r} holds labels above 9, so it is corrupt; {fix}")
    return torch.from_numpy(array.copy())


def load_raw(data_dir=None, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 28, 28] and int64 labels [N] of the training or test set."""
    raw = ensure_mnist(data_dir)
    prefix, count = ("train", TRAIN_SIZE) if train else ("t10k", TEST_SIZE)
    return read_idx(raw / f"{prefix}-images-idx3-ubyte", (count, 28, 28)), \
        read_idx(raw / f"{prefix}-labels-idx1-ubyte", (count,)).long()


def normalize_images(x: torch.Tensor, normalize: str = "mnist") -> torch.Tensor:
    """Apply a named normalization to float images scaled to [0, 1] ("none" returns ``x`` itself)."""
    stats = NORMALIZATIONS[check_choice("normalize", normalize, NORMALIZATIONS)]
    return x if stats is None else (x - stats[0]) / stats[1]


def _to_float(images: torch.Tensor, stats) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28]: (pixel / 255 - mean) / std, in one in-place pass."""
    mean, std = stats or (0.0, 1.0)
    return images.unsqueeze(1).float().mul_(1.0 / (255.0 * std)).sub_(mean / std)


def split_indices(val_size: int, train_subset: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded, disjoint (train, validation) indices into the 60k training set."""
    val_size = check_int("val_size", val_size, minimum=0, maximum=TRAIN_SIZE - 1, example=5000)
    if train_subset is not None:
        train_subset = check_int("train_subset", train_subset, maximum=TRAIN_SIZE - val_size, example=2000)
    perm = torch.randperm(TRAIN_SIZE, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:][:train_subset], perm[:val_size]


@dataclass
class MnistData:
    """The three splits as tensors in memory. ``x`` is float [N, 1, 28, 28], ``y`` int64 [N]."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    normalize: str = "mnist"

    @property
    def train(self):
        return self.train_x, self.train_y

    @property
    def val(self):
        return self.val_x, self.val_y

    @property
    def test(self):
        return self.test_x, self.test_y

    def to(self, device) -> MnistData:
        return MnistData(*(t.to(device) for t in (*self.train, *self.val, *self.test)), self.normalize)

    def __repr__(self) -> str:
        return (f"MnistData(train={len(self.train_y)}, val={len(self.val_y)}, test={len(self.test_y)}, "
                f"normalize={self.normalize!r})")


def load_mnist(data_dir=None, *, normalize: str = "mnist", val_size: int = 5000, train_subset: int | None = None,
               seed: int = 0) -> MnistData:
    """MNIST in memory: a seeded split of the 60k training images into training and validation (``val_size``
    images), and the 10k test set, which the split never touches. ``train_subset`` keeps only that many training
    images, for quick runs."""
    stats = NORMALIZATIONS[check_choice("normalize", normalize, NORMALIZATIONS)]
    train_idx, val_idx = split_indices(val_size, train_subset, check_int("seed", seed, minimum=0, example=0))
    images, labels = load_raw(data_dir, train=True)
    test_images, test_labels = load_raw(data_dir, train=False)
    return MnistData(_to_float(images[train_idx], stats), labels[train_idx], _to_float(images[val_idx], stats),
                     labels[val_idx], _to_float(test_images, stats), test_labels, normalize.lower())


class TensorBatches:
    """Shuffled batches sliced from in-memory tensors, reshuffled on every pass: what ``DataLoader(TensorDataset(x,
    y), batch_size, shuffle=True)`` gives, without collating image by image. The order comes from a seeded CPU
    generator, so a seed gives the same batches on every device."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, seed: int = 0):
        self.x, self.y = x, y
        self.batch_size = check_int("batch_size", batch_size, minimum=1, example=64)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)  # the last batch may be smaller

    def __iter__(self):
        perm = torch.randperm(len(self.y), generator=self.generator).to(self.x.device)
        for i in range(0, len(perm), self.batch_size):
            idx = perm[i:i + self.batch_size]
            yield self.x[idx], self.y[idx]
