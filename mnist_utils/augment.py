"""Data augmentation on whole batches: one ``affine_grid`` + ``grid_sample`` per batch, no per-image Python. Pixels
that move in from outside copy the border (MNIST's borders are background), so any normalization works."""
import torch
from torch.nn import functional as F


def _warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:  # theta [N, 2, 3], in units of half the image
    grid = F.affine_grid(theta.to(device=x.device, dtype=x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class RandomShift:
    """Shift each image by up to ``max_shift`` whole pixels on each axis; a seed gives the same shifts on any device."""

    def __init__(self, max_shift: int = 2, *, seed: int = 0):
        self.max_shift = max_shift
        self.generator = torch.Generator().manual_seed(seed + 7919)  # apart from the batch order's generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        shift = torch.randint(-self.max_shift, self.max_shift + 1, (n, 2), generator=self.generator)
        theta = torch.eye(2, 3).repeat(n, 1, 1)
        theta[:, :, 2] = shift * torch.tensor([2.0 / w, 2.0 / h])
        return _warp(x, theta)


class RandomDistort(RandomShift):
    """Handwriting-like distortions for the ``robust`` recipe: an affine warp, stroke width or blur, and noise."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        u = torch.rand(n, 7, generator=self.generator) * 2 - 1  # uniform in [-1, 1]
        angle, shear = u[:, 0] * torch.pi / 12, u[:, 3] * 0.3  # up to 15 degrees; slant up to 0.3
        sx, sy = 1 + 0.15 * u[:, 1], 1 + 0.15 * u[:, 2]  # zoom out or in by up to 15 %, each axis
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack([sx * cos, sx * (shear * cos - sin), u[:, 4] * self.max_shift * 2 / w,
                             sy * sin, sy * (shear * sin + cos), u[:, 5] * self.max_shift * 2 / h], 1).view(n, 2, 3)
        x = _warp(x, theta)
        kind = ((u[:, 6] + 1) * 2).long().clamp(max=3).to(x.device).view(n, 1, 1, 1)  # 0..3, a quarter each
        x = torch.where(kind == 0, F.max_pool2d(x, 3, 1, 1), x)  # thicker strokes
        x = torch.where(kind == 1, -F.max_pool2d(-x, 2, 1, 1)[..., 1:, 1:], x)  # thinner strokes
        x = torch.where(kind == 2, F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1), x)  # blur
        return x + 0.1 * x.std() * torch.randn(x.shape, generator=self.generator).to(device=x.device, dtype=x.dtype)
