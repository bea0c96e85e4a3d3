"""MNIST in memory: where the files live, a seeded train/validation split, and shuffled batches sliced from one
tensor: the numbers of torchvision's ``ToTensor`` + ``Normalize`` + ``DataLoader`` (notebook 01), many times faster."""
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .validation import check_choice, check_int

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout (data/, runs/); for an installed copy, the cwd
if not (PROJECT_ROOT / "pyproject.toml").is_file():
    PROJECT_ROOT = Path.cwd()
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000
# name -> (mean, std) applied after scaling pixels to [0, 1]; None keeps raw [0, 1] pixels.
NORMALIZATIONS = {"none": None, "half": (0.5, 0.5), "mnist": (0.1307, 0.3081)}


class MnistDataError(FileNotFoundError):
    """The MNIST files are missing, truncated or corrupt, and could not be downloaded."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Where MNIST lives: the argument, else ``$MNIST_DATA_DIR``, else ``data/`` at the project root."""
    if data_dir is None or data_dir == "":
        data_dir = os.environ.get("MNIST_DATA_DIR") or PROJECT_ROOT / "data"
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a folder path or None, got {data_dir!r}; pass e.g. data_dir='data'")
    path = Path(data_dir).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        path = PROJECT_ROOT / path  # so "data" means the same in a terminal at the root and in notebooks/
    if path.exists() and not path.is_dir():
        raise MnistDataError(f"data_dir {str(path)!r} is a file, not a folder; pass the folder that holds MNIST/raw/")
    return Path(os.path.abspath(path))  # absolute, but a symlinked data/ keeps its name


def ensure_mnist(data_dir=None) -> Path:
    """The raw folder, after downloading MNIST with torchvision if files are missing."""
    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for name in MNIST_FILES):
        return raw
    created = [p for p in (raw, raw.parent, root) if not p.exists()]  # innermost first, for rmdir
    try:
        from torchvision import datasets  # slow import: only when a download is needed

        for train in (True, False):
            datasets.MNIST(root=str(root), train=train, download=True)
        return raw
    except Exception as exc:  # noqa: BLE001 (urllib, HTTP and checksum errors all mean the same to the user)
        for folder in created:  # leave no empty MNIST/raw behind to puzzle the user
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        detail = f"{type(exc).__name__}: {(str(exc) or 'no details').splitlines()[0]}"
        raise MnistDataError(f"MNIST not found under {str(root)!r} and the download failed ({detail}). Put the four "
                             f"files {', '.join(MNIST_FILES)} in {str(raw)!r}, or set MNIST_DATA_DIR (or pass "
                             "data_dir / --data-dir) to a folder that holds MNIST/raw/.") from None


def read_idx(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """Read an uncompressed IDX file of uint8 images or labels, checking its header, its size and the labels."""
    data, fix = Path(path).read_bytes(), f"delete {str(path)!r} and download MNIST again"
    header = bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    if not data.startswith(header):
        raise MnistDataError(f"{str(path)!r} is not the MNIST IDX file expected (bad header); {fix}")
    if len(data) != (size := len(header) + math.prod(shape)):
        raise MnistDataError(f"{str(path)!r} is truncated or padded: {len(data)} bytes, expected {size}; {fix}")
    values = torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=len(header)).reshape(shape)
    if len(shape) == 1 and values.max() > 9:
        raise MnistDataError(f"{str(path)!r} holds labels above 9, so it is corrupt; {fix}")
    return values


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
    train = property(lambda self: (self.train_x, self.train_y))  # (x, y) pairs, as evaluate() takes them
    val = property(lambda self: (self.val_x, self.val_y))
    test = property(lambda self: (self.test_x, self.test_y))

    def __repr__(self) -> str:
        sizes = f"train={len(self.train_y)}, val={len(self.val_y)}, test={len(self.test_y)}"
        return f"MnistData({sizes}, normalize={self.normalize!r})"


def load_mnist(data_dir=None, *, normalize: str = "mnist", val_size: int = 5000, train_subset: int | None = None,
               seed: int = 0) -> MnistData:
    """The 10k test set, and the 60k training images split by ``seed`` into validation and training (or a subset)."""
    mean, std = NORMALIZATIONS[check_choice("normalize", normalize, NORMALIZATIONS)] or (0.0, 1.0)
    train_idx, val_idx = split_indices(val_size, train_subset, check_int("seed", seed, minimum=0, example=0))
    images, labels = load_raw(data_dir, train=True)
    test_images, test_labels = load_raw(data_dir, train=False)
    # uint8 [N, 28, 28] -> float32 [N, 1, 28, 28]: (pixel / 255 - mean) / std, in one in-place pass
    train_x, val_x, test_x = (x.unsqueeze(1).float().mul_(1.0 / (255.0 * std)).sub_(mean / std)
                              for x in (images[train_idx], images[val_idx], test_images))
    return MnistData(train_x, labels[train_idx], val_x, labels[val_idx], test_x, test_labels, normalize.lower())


class TensorBatches:
    """What ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`` gives, without collating image by image."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, seed: int = 0):
        self.x, self.y = x, y
        self.batch_size = check_int("batch_size", batch_size, minimum=1, example=64)
        self.generator = torch.Generator().manual_seed(seed)  # on the CPU: a seed gives the same batches everywhere

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self):
        perm = torch.randperm(len(self.y), generator=self.generator).to(self.x.device)
        for idx in perm.split(self.batch_size):  # the last batch may be smaller
            yield self.x[idx], self.y[idx]
