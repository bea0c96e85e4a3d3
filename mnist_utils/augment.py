"""Data augmentation on whole batches: one ``affine_grid`` + ``grid_sample`` per batch, no per-image
Python.

Pixels that move in from outside copy the border (MNIST's borders are background), so any
normalization works. ``RandomShift`` serves ``TrainConfig.augment``; with ``distort=True`` the
robust recipe's ``RandomDistort`` (``distort.py``) is used instead.
"""

import torch
from torch.nn import functional as F


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Images ``x`` [N, 1, H, W] moved by affine maps ``theta`` [N, 2, 3], in units of half the
    image."""
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class RandomShift:
    """Shift each image by up to ``max_shift`` whole pixels on each axis; a seed gives the same
    shifts
    anywhere."""

    def __init__(self, max_shift: int = 2, *, seed: int = 0):
        self.max_shift = max_shift
        # a generator of its own, apart from the batch order's
        self.generator = torch.Generator().manual_seed(seed + 7919)

    def __call__(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` shifted; the labels are not needed (``RandomDistort`` uses them)."""
        n, _, h, w = x.shape
        shift = torch.randint(-self.max_shift, self.max_shift + 1, (n, 2), generator=self.generator)
        theta = torch.eye(2, 3).repeat(n, 1, 1)
        theta[:, :, 2] = shift * torch.tensor([2.0 / w, 2.0 / h])
        return warp(x, theta)


def make_augment(config):
    """The augmentation a ``TrainConfig`` asks for, or None: shifts, or with ``distort``
    handwriting-like warps."""
    if not config.augment:
        return None
    if config.distort:
        from .distort import RandomDistort  # the robust recipe's, apart from the course's core

        return RandomDistort(config.augment, seed=config.seed)
    return RandomShift(config.augment, seed=config.seed)
