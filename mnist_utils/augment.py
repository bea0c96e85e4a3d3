"""Data augmentation on whole batches of tensors: random shifts (and optional rotations) per image.

One ``affine_grid`` + ``grid_sample`` call per batch, no per-image Python. Pixels that move in from
outside the image copy the border (MNIST borders are background), so any normalization works.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .validation import check_float, check_int


class RandomShift:
    """Shift every image by a random whole number of pixels in [-max_shift, max_shift] on each axis, and
    rotate it by a random angle in [-max_degrees, max_degrees]. Seeded: the same seed gives the same
    sequence of shifts on every device."""

    def __init__(self, max_shift: int = 2, max_degrees: float = 0.0, *, seed: int = 0):
        self.max_shift = check_int("max_shift", max_shift, minimum=0, maximum=8, example=2)
        self.max_degrees = check_float("max_degrees", max_degrees, at_least=0.0, at_most=45.0, example=10.0)
        self.generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0, example=0) + 7919)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"RandomShift expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        n, _, h, w = x.shape
        s = self.max_shift
        shift = torch.randint(-s, s + 1, (n, 2), generator=self.generator).float()
        angle = (torch.rand(n, generator=self.generator) * 2 - 1) * math.radians(self.max_degrees)
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack([
            torch.stack([cos, -sin, shift[:, 0] * (2.0 / w)], 1),
            torch.stack([sin, cos, shift[:, 1] * (2.0 / h)], 1),
        ], 1).to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, max_degrees={self.max_degrees})"
