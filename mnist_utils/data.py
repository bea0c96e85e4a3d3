"""MNIST in memory: where the files live, a seeded train/validation split, and shuffled batches.

The batches are sliced from one tensor: the numbers of torchvision's ``ToTensor`` + ``Normalize`` +
``DataLoader`` (notebook 01), many times faster.
"""

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .paths import PROJECT_ROOT, project_path
from .validation import check_choice, check_int

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TRAIN_SIZE = 60_000
TEST_SIZE = 10_000
# name -> (mean, std) applied after scaling pixels to [0, 1]; None keeps raw [0, 1] pixels.
NORMALIZATIONS = {"none": None, "half": (0.5, 0.5), "mnist": (0.1307, 0.3081)}


class MnistDataError(FileNotFoundError):
    """The MNIST files are missing, truncated or corrupt, and could not be downloaded."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Where MNIST lives: the argument, else ``$MNIST_DATA_DIR``, else ``data/`` at the project
    root."""
    if data_dir is None or data_dir == "":
        data_dir = os.environ.get("MNIST_DATA_DIR") or PROJECT_ROOT / "data"
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"data_dir must be a folder path or None, got {data_dir!r}; pass e.g. data_dir='data'"
        )
    path = project_path(data_dir)
    if path.exists() and not path.is_dir():
        raise MnistDataError(
            f"data_dir {str(path)!r} is a file, not a folder; pass the folder that holds MNIST/raw/"
        )
    return Path(os.path.abspath(path))  # absolute, but a symlinked data/ keeps its name


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove each folder that exists and is empty, innermost first."""
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def ensure_mnist(data_dir=None) -> Path:
    """The raw folder, after downloading MNIST with torchvision if files are missing."""
    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for name in MNIST_FILES):
        return raw
    created = []  # the folders a failed download must not leave behind, innermost first
    for folder in (raw, raw.parent, root):
        if not folder.exists():
            created.append(folder)
    try:
        from torchvision import datasets  # a slow import: only when a download is needed

        datasets.MNIST(root=str(root), train=True, download=True)
        datasets.MNIST(root=str(root), train=False, download=True)
        return raw
    # urllib, HTTP and checksum errors all mean the same to a user
    except Exception as exc:  # noqa: BLE001
        remove_empty_folders(created)
        reason = (str(exc) or "no details").splitlines()[0]
        raise MnistDataError(
            f"MNIST not found under {str(root)!r} and the download failed "
            f"({type(exc).__name__}: {reason}). Put the four files {', '.join(MNIST_FILES)} in "
            f"{str(raw)!r}, or set MNIST_DATA_DIR (or pass data_dir / --data-dir) to a folder that "
            "holds MNIST/raw/."
        ) from None


def read_idx(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """Read an uncompressed IDX file of uint8 images or labels, checking its header, size and
    labels."""
    data = Path(path).read_bytes()
    fix = f"delete {str(path)!r} and download MNIST again"
    header = bytes([0, 0, 8, len(shape)])
    for size in shape:
        header += size.to_bytes(4, "big")
    if not data.startswith(header):
        raise MnistDataError(
            f"{str(path)!r} is not the MNIST IDX file expected (bad header); {fix}"
        )
    expected = len(header) + math.prod(shape)
    if len(data) != expected:
        raise MnistDataError(
            f"{str(path)!r} is truncated or padded: {len(data)} bytes, expected {expected}; {fix}"
        )
    values = torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=len(header))
    values = values.reshape(shape)
    if len(shape) == 1 and values.max() > 9:
        raise MnistDataError(f"{str(path)!r} holds labels above 9, so it is corrupt; {fix}")
    return values


def load_raw(data_dir=None, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 28, 28] and int64 labels [N] of the training or test set."""
    raw = ensure_mnist(data_dir)
    if train:
        prefix = "train"
        count = TRAIN_SIZE
    else:
        prefix = "t10k"
        count = TEST_SIZE
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte", (count, 28, 28))
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte", (count,))
    return images, labels.long()


def normalize_images(x: torch.Tensor, normalize: str = "mnist") -> torch.Tensor:
    """Apply a named normalization to float images in [0, 1] ("none" returns ``x`` itself)."""
    stats = NORMALIZATIONS[check_choice("normalize", normalize, NORMALIZATIONS)]
    if stats is None:
        return x
    mean, std = stats
    return (x - mean) / std


def split_indices(val_size: int, train_subset: int | None, seed: int):
    """Seeded, disjoint (train, validation) indices into the 60k training set."""
    val_size = check_int("val_size", val_size, minimum=0, maximum=TRAIN_SIZE - 1, example=5000)
    if train_subset is not None:
        largest = TRAIN_SIZE - val_size
        train_subset = check_int("train_subset", train_subset, maximum=largest, example=2000)
    order = torch.randperm(TRAIN_SIZE, generator=torch.Generator().manual_seed(seed))
    return order[val_size:][:train_subset], order[:val_size]


def to_float_images(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28]: (pixel / 255 - mean) / std, in one in-place
    pass."""
    return images.unsqueeze(1).float().mul_(1.0 / (255.0 * std)).sub_(mean / std)


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

    # (x, y) pairs, as evaluate() takes them
    @property
    def train(self):
        return self.train_x, self.train_y

    @property
    def val(self):
        return self.val_x, self.val_y

    @property
    def test(self):
        return self.test_x, self.test_y

    def __repr__(self) -> str:
        sizes = f"train={len(self.train_y)}, val={len(self.val_y)}, test={len(self.test_y)}"
        return f"MnistData({sizes}, normalize={self.normalize!r})"


def load_mnist(
    data_dir=None,
    *,
    normalize: str = "mnist",
    val_size: int = 5000,
    train_subset: int | None = None,
    seed: int = 0,
) -> MnistData:
    """The 10k test set, and the 60k training images split by ``seed`` into validation and train."""
    normalize = check_choice("normalize", normalize, NORMALIZATIONS)
    mean, std = NORMALIZATIONS[normalize] or (0.0, 1.0)
    seed = check_int("seed", seed, minimum=0, example=0)
    train_idx, val_idx = split_indices(val_size, train_subset, seed)
    images, labels = load_raw(data_dir, train=True)
    test_images, test_labels = load_raw(data_dir, train=False)
    return MnistData(
        train_x=to_float_images(images[train_idx], mean, std),
        train_y=labels[train_idx],
        val_x=to_float_images(images[val_idx], mean, std),
        val_y=labels[val_idx],
        test_x=to_float_images(test_images, mean, std),
        test_y=test_labels,
        normalize=normalize,
    )


class TensorBatches:
    """What ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`` gives, without collating
    image by image: shuffled (x, y) batches sliced from two tensors, the last one possibly smaller.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, seed: int = 0):
        self.x = x
        self.y = y
        self.batch_size = check_int("batch_size", batch_size, minimum=1, example=64)
        # on the CPU: a seed gives the same batches on every device
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.y), generator=self.generator).to(self.x.device)
        for indices in order.split(self.batch_size):
            yield self.x[indices], self.y[indices]
