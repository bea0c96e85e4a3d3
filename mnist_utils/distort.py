"""``RandomDistort``: the ``robust`` recipe's handwriting-like distortions (``TrainConfig.distort``).

Each image of a batch gets its own draw, from the augmentation's own seeded generator: an affine
warp (rotation up to 20 degrees, stretch, slant, shift) bent by a smooth elastic field, then one pen
change (thicker, thinner, blurred, blocky like a low-resolution scan, a piece of stroke missing, or
none), then a little noise. Part of the speed recipes; a learner can skip it.
"""

import torch
from torch.nn import functional as F

from .augment import RandomShift

PEN_CHANGES = 6  # thicker, thinner, blurred, blocky, a gap, unchanged


class RandomDistort(RandomShift):
    """Handwriting-like distortions for the ``robust`` recipe: warp, pen change and noise."""

    def __init__(self, max_shift: int = 2, *, seed: int = 0, degrees: float = 20, elastic=1.5):
        super().__init__(max_shift, seed=seed)
        self.degrees = degrees
        self.elastic = elastic  # the elastic field's largest displacement, in pixels

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = self.warp(x)
        x = self.change_pen(x)
        noise = torch.randn(x.shape, generator=self.generator).to(device=x.device, dtype=x.dtype)
        return x + 0.1 * x.std() * noise

    def uniform(self, n: int, columns: int) -> torch.Tensor:
        """[n, columns] numbers uniform in [-1, 1] from the distortion's generator."""
        return torch.rand(n, columns, generator=self.generator) * 2 - 1

    def affine(self, n: int, height: int, width: int) -> torch.Tensor:
        """[n, 2, 3] random affine maps, in units of half the image."""
        draw = self.uniform(n, 6)
        angle = draw[:, 0] * torch.pi * self.degrees / 180
        scale_x = 1 + 0.2 * draw[:, 1]  # each axis stretched or squeezed by up to 20 %
        scale_y = 1 + 0.15 * draw[:, 2]
        shear = draw[:, 3] * 0.3  # slant up to 0.3
        shift_x = draw[:, 4] * self.max_shift * 2 / width
        shift_y = draw[:, 5] * self.max_shift * 2 / height
        cos = angle.cos()
        sin = angle.sin()
        row_x = [scale_x * cos, scale_x * (shear * cos - sin), shift_x]
        row_y = [scale_y * sin, scale_y * (shear * sin + cos), shift_y]
        return torch.stack(row_x + row_y, 1).view(n, 2, 3)

    def warp(self, x: torch.Tensor) -> torch.Tensor:
        """The affine warp plus an elastic field: random offsets on a 4x4 grid, smoothly
        interpolated, so strokes bend as a hand's do rather than only turn and stretch."""
        n, _, height, width = x.shape
        theta = self.affine(n, height, width).to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        coarse = torch.randn(n, 2, 4, 4, generator=self.generator) * self.elastic / 2
        field = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
        field = field.permute(0, 2, 3, 1) * (2 / width)  # pixels to the grid's units
        grid = grid + field.to(device=x.device, dtype=x.dtype)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def change_pen(self, x: torch.Tensor) -> torch.Tensor:
        """One pen change per image, a sixth of the images each."""
        n = x.shape[0]
        kind = torch.randint(0, PEN_CHANGES, (n,), generator=self.generator).view(n, 1, 1, 1)
        kind = kind.to(x.device)
        thicker = F.max_pool2d(x, 3, 1, 1)
        thinner = -F.max_pool2d(-x, 2, 1, 1)[..., 1:, 1:]
        blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
        # averaged on 2x2 blocks, then each block repeated: a digit scanned at half the resolution
        blocky = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        x = torch.where(kind == 0, thicker, x)
        x = torch.where(kind == 1, thinner, x)
        x = torch.where(kind == 2, blurred, x)
        x = torch.where(kind == 3, blocky, x)
        return torch.where(kind == 4, self.gap(x), x)

    def gap(self, x: torch.Tensor) -> torch.Tensor:
        """Each image with a 4x4 patch set to the background: a stroke the pen skipped."""
        n, _, height, width = x.shape
        top = torch.randint(4, height - 8, (n,), generator=self.generator).to(x.device)
        left = torch.randint(4, width - 8, (n,), generator=self.generator).to(x.device)
        rows = torch.arange(height, device=x.device).view(1, height, 1)
        cols = torch.arange(width, device=x.device).view(1, 1, width)
        inside_rows = (rows >= top.view(n, 1, 1)) & (rows < top.view(n, 1, 1) + 4)
        inside_cols = (cols >= left.view(n, 1, 1)) & (cols < left.view(n, 1, 1) + 4)
        patch = (inside_rows & inside_cols).unsqueeze(1)
        background = x.amin(dim=(1, 2, 3), keepdim=True)
        return torch.where(patch, background, x)
