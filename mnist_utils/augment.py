"""Data augmentation on whole batches: every image shifted by a random whole number of pixels.

One ``affine_grid`` + ``grid_sample`` call per batch, no per-image Python. Pixels that move in from outside the
image copy the border (MNIST's borders are background), so any normalization works.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F


class RandomShift:
    """Shift each image by up to ``max_shift`` pixels on each axis (``TrainConfig.augment`` checks the value).
    Seeded: the same seed gives the same shifts on every device."""

    def __init__(self, max_shift: int = 2, *, seed: int = 0):
        self.max_shift = max_shift
        self.generator = torch.Generator().manual_seed(seed + 7919)  # apart from the batch order's generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        shift = torch.randint(-self.max_shift, self.max_shift + 1, (n, 2), generator=self.generator).float()
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, 0, 2], theta[:, 1, 2] = shift[:, 0] * (2.0 / w), shift[:, 1] * (2.0 / h)
        grid = F.affine_grid(theta.to(device=x.device, dtype=x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
