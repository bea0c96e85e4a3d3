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


# Pen strokes on the drawing pad (280 px, pen 20 px) go through the same prepare_digit as image files.
SEVEN = [[(70, 60), (210, 60), (120, 230)]]


def _strokes(strokes, dx=0.0, dy=0.0, scale=1.0, degrees=0.0):
    a = np.radians(degrees)
    return [[(140 + scale * ((x - 140) * np.cos(a) - (y - 140) * np.sin(a)) + dx,
              140 + scale * ((x - 140) * np.sin(a) + (y - 140) * np.cos(a)) + dy) for x, y in s] for s in strokes]


def _centred_in_box(digit: torch.Tensor) -> None:
    ys, xs = torch.nonzero(digit > 0.2, as_tuple=True)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (19, 20, 21)  # fitted into MNIST's 20x20 box
    mass = digit.sum()
    grid_y, grid_x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    assert abs((grid_y * digit).sum() / mass - 13.5) < 1 and abs((grid_x * digit).sum() / mass - 13.5) < 1


@pytest.mark.parametrize("case, kwargs, width, close_to_reference", [
    ("thick pen", {}, 45, 0.7), ("thin pen", {}, 5, 0.75), ("off-centre", {"dx": 55, "dy": 40}, 20, 0.99),
    ("small", {"scale": 0.35, "dx": -60}, 7, 0.9), ("rotated 20 degrees", {"degrees": 20}, 20, 0.3)])
def test_strokes_become_mnist_like(case, kwargs, width, close_to_reference):
    from mnist_utils.images import prepare_digit

    reference = prepare_digit(SEVEN)[0]
    digit = prepare_digit(_strokes(SEVEN, **kwargs), width=width)[0]
    assert digit.shape == (28, 28) and digit.min() >= 0 and 0.5 < digit.max() <= 1
    _centred_in_box(digit)
    assert _similarity(digit, reference) > close_to_reference, case
    if case == "rotated 20 degrees":  # not straightened: the rotation is the model's to cope with
        assert _similarity(digit, reference) < 0.8
    if case == "thin pen":
        assert (digit > 0.5).sum() < 0.7 * (reference > 0.5).sum() < (prepare_digit(SEVEN, width=45)[0] > 0.5).sum()


def test_strokes_and_an_image_of_them_in_either_colours_give_the_same_input():
    from PIL import ImageDraw

    from mnist_utils.images import prepare_digit

    page = Image.new("L", (280, 280), 255)  # the same strokes drawn dark on light paper, as a photo would show
    ImageDraw.Draw(page).line(SEVEN[0], fill=0, width=20, joint="curve")
    gray = np.asarray(page, dtype=np.float32) / 255
    from_strokes = prepare_digit(SEVEN)[0]
    for array in (gray, 1 - gray):  # dark on light and light on dark
        assert _similarity(prepare_digit(array)[0], from_strokes) > 0.97


def test_nothing_drawn_is_refused_with_a_clear_message():
    from mnist_utils.images import prepare_digit

    with pytest.raises(ValueError, match="the pad shows no digit"):
        prepare_digit([], name="the pad")
