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


@pytest.mark.parametrize(
    "size, dark_on_light", [(28, False), (280, True), (1000, True), (57, False)]
)
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
    return [
        [
            (
                140 + scale * ((x - 140) * np.cos(a) - (y - 140) * np.sin(a)) + dx,
                140 + scale * ((x - 140) * np.sin(a) + (y - 140) * np.cos(a)) + dy,
            )
            for x, y in s
        ]
        for s in strokes
    ]


def _centred_in_box(digit: torch.Tensor) -> None:
    ys, xs = torch.nonzero(digit > 0.2, as_tuple=True)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (
        19,
        20,
        21,
    )  # fitted into MNIST's 20x20 box
    mass = digit.sum()
    grid_y, grid_x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    assert (
        abs((grid_y * digit).sum() / mass - 13.5) < 1
        and abs((grid_x * digit).sum() / mass - 13.5) < 1
    )


@pytest.mark.parametrize(
    "case, kwargs, width, close_to_reference",
    [
        ("thick pen", {}, 45, 0.7),
        ("thin pen", {}, 5, 0.75),
        ("off-centre", {"dx": 55, "dy": 40}, 20, 0.99),
        ("small", {"scale": 0.35, "dx": -60}, 7, 0.9),
        ("rotated 20 degrees", {"degrees": 20}, 20, 0.3),
    ],
)
def test_strokes_become_mnist_like(case, kwargs, width, close_to_reference):
    from mnist_utils.images import prepare_digit

    reference = prepare_digit(SEVEN)[0]
    digit = prepare_digit(_strokes(SEVEN, **kwargs), width=width)[0]
    assert digit.shape == (28, 28) and digit.min() >= 0 and 0.5 < digit.max() <= 1
    _centred_in_box(digit)
    assert _similarity(digit, reference) > close_to_reference, case
    if case == "rotated 20 degrees":  # not straightened: the rotation is the model's to cope with
        assert _similarity(digit, reference) < 0.8
    if case == "thin pen":  # widened to MNIST's strokes, not a faint hairline
        assert 0.7 < (digit > 0.5).sum() / (reference > 0.5).sum() < 1.5


def test_strokes_and_an_image_of_them_in_either_colours_give_the_same_input():
    from PIL import ImageDraw

    from mnist_utils.images import prepare_digit

    page = Image.new(
        "L", (280, 280), 255
    )  # the same strokes drawn dark on light paper, as a photo would show
    ImageDraw.Draw(page).line(SEVEN[0], fill=0, width=20, joint="curve")
    gray = np.asarray(page, dtype=np.float32) / 255
    from_strokes = prepare_digit(SEVEN)[0]
    for array in (gray, 1 - gray):  # dark on light and light on dark
        assert _similarity(prepare_digit(array)[0], from_strokes) > 0.97


def test_nothing_drawn_is_refused_with_a_clear_message():
    from mnist_utils.images import prepare_digit

    with pytest.raises(ValueError, match="the pad shows no digit"):
        prepare_digit([], name="the pad")


def _page(strokes, size=(600, 500), paper=235, ink=40, width=3):
    """Strokes drawn dark on light paper, as a photo would show them, as floats in [0, 1]."""
    from PIL import ImageDraw

    page = Image.new("L", size, paper)
    ImageDraw.Draw(page).line(strokes, fill=ink, width=width, joint="curve")
    return np.asarray(page, dtype=np.float32) / 255


def test_a_small_thin_digit_in_a_big_frame_fills_the_box_with_mnist_like_strokes():
    from mnist_utils.images import MNIST_STROKE, prepare_digit, stroke_width

    small = [(x / 4 + 380, y / 4 + 90) for x, y in SEVEN[0]]  # a 7 of 43 px, thin pen, far right
    digit = prepare_digit(_page(small))[0]
    _centred_in_box(digit)
    assert _similarity(digit, prepare_digit(SEVEN)[0]) > 0.9
    assert abs(stroke_width(digit.numpy()) - MNIST_STROKE) < 0.8


def test_paper_lit_from_one_side_and_noise_leave_no_grey_behind():
    from mnist_utils.images import prepare_digit

    light = np.linspace(0.6, 1.0, 400)[None, :].repeat(300, 0)  # the left side in shadow
    page = _page([(x + 60, y) for x, y in SEVEN[0]], size=(400, 300), width=20) * light
    page = page + np.random.default_rng(0).normal(0, 0.03, page.shape)
    digit = prepare_digit(np.clip(page, 0, 1).astype(np.float32))[0]
    _centred_in_box(digit)
    assert digit[:, :3].max() == 0 and digit[:, -3:].max() == 0  # paper is black, all over
    assert _similarity(digit, prepare_digit(SEVEN)[0]) > 0.9


def test_a_blocky_low_resolution_scan_reads_like_the_digit(data_dir):
    from mnist_utils.images import block_side, prepare_digit

    images, _ = load_raw(data_dir, train=False)
    for original in images[:5].float() / 255:
        pixels = Image.fromarray((original.numpy() * 255).astype(np.uint8))
        blocks = pixels.resize((12, 12), Image.BOX).resize((120, 120), Image.NEAREST)
        gray = np.asarray(blocks, dtype=np.float32) / 255
        assert block_side(gray) == 10 and block_side(original.numpy()) == 1
        digit = prepare_digit(gray)[0]
        ys, xs = torch.nonzero(digit > 0.2, as_tuple=True)
        assert 17 <= max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 <= 21  # smooth edges fade
        assert _similarity(digit, original) > 0.8
        # smoothed, not blocks: neighbouring pixels of the stroke differ, as in MNIST
        assert len(np.unique(digit.numpy())) > 40


def test_a_tight_crop_of_a_thick_zero_keeps_its_colours():
    from mnist_utils.images import prepare_digit

    ring = np.ones((40, 40), dtype=np.float32)  # a thick white 0 on black, touching every side
    ring[5:35, 5:35] = 0.0
    for page in (ring, 1 - ring):  # and dark on light
        digit = prepare_digit(page)[0]
        assert digit[14, 4:6].min() > 0.5 and digit[14, 13] == 0  # the ring is ink, its hole not
