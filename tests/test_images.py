import numpy as np
import pytest
import torch
from PIL import Image

from mnist_utils import load_digit_image, load_raw


def _similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """Best correlation over shifts of up to one pixel (centring by mass may move a digit by one)."""
    def corr(u, v):
        u, v = u.flatten() - u.mean(), v.flatten() - v.mean()
        return float(u @ v / (u.norm() * v.norm()))

    return max(corr(torch.roll(a, (dy, dx), (0, 1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


@pytest.mark.parametrize("size, dark_on_light", [(28, False), (280, True), (1000, True), (57, False)])
def test_digit_photos_become_mnist_like(tmp_path, data_dir, size, dark_on_light):
    images, _ = load_raw(data_dir, train=False)
    original = images[0].float() / 255
    pixels = (original.numpy() * 255).astype(np.uint8)
    if dark_on_light:
        pixels = 255 - pixels
    path = tmp_path / "digit.png"
    Image.fromarray(pixels).resize((size, size), Image.BICUBIC).convert("RGB").save(path)
    prepared = load_digit_image(path)
    assert prepared.shape == (1, 28, 28) and prepared.min() >= 0 and prepared.max() <= 1
    assert _similarity(prepared[0], original) > 0.8


def test_off_centre_digit_on_a_wide_page_is_centred(tmp_path):
    page = np.full((300, 900), 240, dtype=np.uint8)  # light grey paper
    page[40:140, 700:730] = 20  # a thick dark stroke: a "1" near the right edge
    Image.fromarray(page).save(tmp_path / "one.jpg", quality=95)
    prepared = load_digit_image(tmp_path / "one.jpg")[0]
    ys, xs = torch.nonzero(prepared > 0.5, as_tuple=True)
    assert abs(xs.float().mean() - 13.5) < 1.5 and abs(ys.float().mean() - 13.5) < 1.5
    assert prepared[0].sum() == 0 and prepared[:, 0].sum() == 0  # nothing touches the border


def test_blank_image_is_refused(tmp_path):
    Image.fromarray(np.full((50, 50), 255, dtype=np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(ValueError, match="no digit"):
        load_digit_image(tmp_path / "blank.png")
