"""``RandomDistort``: the ``robust`` recipe's handwriting-like distortions (TrainConfig.distort).

Each image of a batch gets its own draw, from the augmentation's own seeded generator: an affine
warp (rotation up to 20 degrees, stretch, slant, shift) bent by a smooth elastic field, then one pen
change (thicker, thinner, blurred, scanned at a half or a third of the resolution, a piece of stroke
missing, or none), then a little noise. Given the labels too, it first draws a flag (and sometimes a
base) on a quarter of the 1s: MNIST has few of those, and a model trained on it reads them as 7s.
Part of the speed recipes; a learner can skip it.
"""

import torch
from torch.nn import functional as F

from .augment import RandomShift

PEN_CHANGES = 7  # thicker, thinner, blurred, two low resolutions, a gap, unchanged


def low_resolution(x: torch.Tensor, side: int) -> torch.Tensor:
    """Images averaged down to ``side`` x ``side`` pixels and smoothly scaled back up, as
    ``prepare_digit`` scales up a low-resolution scan."""
    small = F.interpolate(x, size=(side, side), mode="area")
    return F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)


class RandomDistort(RandomShift):
    """Handwriting-like distortions for the ``robust`` recipe: warp, pen change and noise."""

    def __init__(self, max_shift: int = 2, *, seed: int = 0, degrees: float = 20, elastic=1.5):
        super().__init__(max_shift, seed=seed)
        self.degrees = degrees
        self.elastic = elastic  # the elastic field's largest displacement, in pixels

    def __call__(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:  # writers' variants that only the labels can tell where to draw
            x = add_flags(x, labels, self.generator)
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
        """One pen change per image, a seventh of the images each."""
        n = x.shape[0]
        kind = torch.randint(0, PEN_CHANGES, (n,), generator=self.generator).view(n, 1, 1, 1)
        kind = kind.to(x.device)
        thicker = F.max_pool2d(x, 3, 1, 1)
        thinner = -F.max_pool2d(-x, 2, 1, 1)[..., 1:, 1:]
        blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
        x = torch.where(kind == 0, thicker, x)
        x = torch.where(kind == 1, thinner, x)
        x = torch.where(kind == 2, blurred, x)
        x = torch.where(kind == 3, low_resolution(x, 14), x)
        x = torch.where(kind == 4, low_resolution(x, 9), x)
        return torch.where(kind == 5, self.gap(x), x)

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


def segments(height: int, width: int, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """[n, height, width] distance in pixels from every pixel to each image's segment from
    ``start`` to ``end`` ([n, 2] as (row, column))."""
    rows = torch.arange(height, dtype=torch.float32).view(1, height, 1)
    cols = torch.arange(width, dtype=torch.float32).view(1, 1, width)
    d_row = (end[:, 0] - start[:, 0]).view(-1, 1, 1)
    d_col = (end[:, 1] - start[:, 1]).view(-1, 1, 1)
    from_row = rows - start[:, 0].view(-1, 1, 1)
    from_col = cols - start[:, 1].view(-1, 1, 1)
    along = (from_row * d_row + from_col * d_col) / (d_row**2 + d_col**2).clamp(min=1e-6)
    along = along.clamp(0, 1)
    return ((from_row - along * d_row) ** 2 + (from_col - along * d_col) ** 2).sqrt()


def stem_ends(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The top and the bottom of each image's ink as [n, 2] (row, column): the topmost and the
    bottommost rows holding bright ink, each at the mean column of its bright pixels."""
    n, _, height, width = x.shape
    ink = x.amax(dim=(1, 2, 3)).view(n, 1, 1)
    background = x.amin(dim=(1, 2, 3)).view(n, 1, 1)
    bright = x[:, 0] > (background + ink) / 2
    rows = torch.arange(height, device=x.device).view(1, height, 1).expand(n, height, width)
    cols = torch.arange(width, device=x.device).view(1, 1, width).expand(n, height, width)
    top = torch.where(bright, rows, height).flatten(1).amin(1).clamp(max=height - 1)
    bottom = torch.where(bright, rows, -1).flatten(1).amax(1).clamp(min=0)
    ends = []
    for row in (top, bottom):
        on_row = bright & (rows == row.view(n, 1, 1))
        column = (cols * on_row).flatten(1).sum(1) / on_row.flatten(1).sum(1).clamp(min=1)
        ends.append(torch.stack([row.float(), column.float()], 1).cpu())
    return ends[0], ends[1]


def add_flags(
    x: torch.Tensor, labels: torch.Tensor, generator: torch.Generator, share: float = 0.25
) -> torch.Tensor:
    """A ``share`` of the upright or right-leaning 1s with a flag from the top of the stem down to
    the left, and a third of those with a base too: the 1s of writers MNIST has few of, which a
    model trained on it reads as 7s and 2s. Needs the labels, so it runs on batches before the
    model's augmentation."""
    n, _, height, width = x.shape
    draw = torch.rand(n, 4, generator=generator)
    top, bottom = stem_ends(x)
    chosen = (labels.cpu() == 1) & (draw[:, 0] < share)
    chosen = chosen & (top[:, 1] >= bottom[:, 1] - 1)  # a 1 leaning left with a flag is a 7
    flag_end = top + torch.stack([2 + 3 * draw[:, 1], -(3 + 4 * draw[:, 2])], 1)
    side = torch.tensor([0.0, 4.0])
    flag = segments(height, width, top, flag_end) < 1.0
    base = segments(height, width, bottom - side, bottom + side) < 1.0
    base = base & (draw[:, 3] < 0.33).view(n, 1, 1)
    stroke = ((flag | base) & chosen.view(n, 1, 1)).unsqueeze(1).to(x.device)
    ink = x.amax(dim=(1, 2, 3), keepdim=True)
    return torch.where(stroke, ink, x)
