"""Turn a photo, scan or drawing-pad strokes of one digit into a 28x28 image made the way MNIST's
digits were: white ink on black, the digit fitted into a 20x20 box and centred by its mass.

Real pictures differ from MNIST in ways a model never saw, so ``prepare_digit`` evens them out
first: paper lit unevenly, sensor noise, a digit small in a big frame, a thin pen on a big canvas
(its strokes would shrink to a faint hairline) or a thick one.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

MAX_SIDE = 10_000  # refuse absurd images before decoding them into memory
BOX = 20  # MNIST's digits fill a 20x20 box in a 28x28 frame
WORK = 4 * BOX  # the crop is evened out at four times the box, where strokes span several pixels
MNIST_STROKE = 2.3  # the median stroke width of MNIST's digits, in pixels of the 28x28 frame


def load_digit_image(path) -> torch.Tensor:
    """Read one digit from a PNG/JPEG (any size, dark-on-light or light-on-dark) -> [1, 28, 28] in
    [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"image {str(path)!r} does not exist; pass the path of a PNG or JPEG of one digit"
        )
    try:
        with Image.open(path) as img:
            if max(img.size) > MAX_SIDE:
                raise ValueError(
                    f"image {str(path)!r} is {img.size[0]}x{img.size[1]} pixels; "
                    f"crop or shrink it to one digit under {MAX_SIDE} pixels a side"
                )
            gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable image ({type(exc).__name__}); pass a PNG or JPEG"
        ) from None
    return prepare_digit(gray, name=str(path))


def draw_strokes(strokes, size: int = 280, width: float = 20) -> np.ndarray:
    """Pen strokes (lists of (x, y) points on a ``size``-pixel square pad) drawn white on black with
    a round pen ``width`` pixels wide, as floats in [0, 1]."""
    pad = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(pad)
    for stroke in strokes:
        points = [tuple(point) for point in stroke]
        pen.line(points, fill=255, width=round(width), joint="curve")
        for x, y in points:
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return np.asarray(pad, dtype=np.float32) / 255.0


def border(gray: np.ndarray) -> list[np.ndarray]:
    """The picture's outermost pixels: its top, bottom, left and right sides."""
    return [gray[0], gray[-1], gray[:, 0], gray[:, -1]]


def paper(gray: np.ndarray) -> np.ndarray:
    """The dark background's brightness at every pixel, from the picture's border: a plane through
    the sides' darker quarters, tilted as when one side of a photo is lit better. Quarters, not
    medians, and never far above the picture's median: a thick digit may cover much of a side."""
    ceiling = np.median(gray) + 0.25
    top, bottom, left, right = [min(np.percentile(side, 25), ceiling) for side in border(gray)]
    height, width = gray.shape
    tilt_x = (right - left) / max(width - 1, 1)
    tilt_y = (bottom - top) / max(height - 1, 1)
    ys, xs = np.indices(gray.shape, dtype=np.float32)
    level = (top + bottom + left + right) / 4
    return level + tilt_x * (xs - (width - 1) / 2) + tilt_y * (ys - (height - 1) / 2)


def block_side(gray: np.ndarray) -> int:
    """The side of the squares a picture is made of when it was scaled up by repeating each pixel
    (nearest neighbour), as a low-resolution scan is; 1 when it was not."""
    height, width = gray.shape
    for side in range(16, 1, -1):
        if height % side or width % side:
            continue
        small = gray[::side, ::side]
        if np.array_equal(np.repeat(np.repeat(small, side, 0), side, 1), gray):
            return side
    return 1


def white_on_black(gray: np.ndarray, name: str) -> np.ndarray:
    """Ink in [0, 1] on a black background: light paper inverted, the paper's light and its noise
    taken away, the strongest ink scaled to 1."""
    if np.median(gray) > 0.5:  # mostly light, so light paper: to MNIST's white-on-black
        gray = 1.0 - gray
    ink = gray - paper(gray)
    edge = np.concatenate(border(ink))
    noise = 1.4826 * np.median(np.abs(edge - np.median(edge)))  # robust standard deviation
    ink = np.clip(ink - 3 * noise, 0.0, 1.0)  # within three deviations of the paper is paper
    if ink.max() < 0.1:
        raise ValueError(
            f"{name} shows no digit (it is blank or has no contrast); pass an image of one digit"
        )
    return ink / ink.max()


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding every pixel brighter than a fifth of the strongest ink."""
    rows, cols = np.nonzero(ink > 0.2)
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def resize(ink: np.ndarray, width: int, height: int) -> np.ndarray:
    image = Image.fromarray((ink * 255).astype(np.uint8)).resize((width, height), Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes in pixels: twice their area over their outline's length (a long
    stroke of width w and length L has area w L and an outline of about 2 L)."""
    mask = np.pad(ink > 0.5, 1)
    edges = (mask[1:] != mask[:-1]).sum() + (mask[:, 1:] != mask[:, :-1]).sum()
    outline = edges * np.pi / 4  # pixel edges overcount a slanted outline by 4/pi on average
    return float(2 * mask.sum() / max(outline, 1))


def even_strokes(crop: np.ndarray) -> np.ndarray:
    """The crop with its long side ``WORK`` pixels and strokes about as wide as MNIST's: a thin pen
    on a big canvas would otherwise shrink to a faint hairline in 28x28."""
    height, width = crop.shape
    scale = WORK / max(height, width)
    work = resize(crop, max(1, round(width * scale)), max(1, round(height * scale)))
    work = work / max(float(work.max()), 1e-6)  # a hairline shrunk to grey is ink again
    target = MNIST_STROKE * WORK / BOX
    grow = round((target - stroke_width(work)) / 2)  # pixels to add on each side of a stroke
    if grow > 0:
        padded = np.pad(work, grow)  # room for the strokes at the edges to grow outwards
        image = Image.fromarray((padded * 255).astype(np.uint8)).filter(
            ImageFilter.MaxFilter(2 * grow + 1)
        )
        work = np.asarray(image, dtype=np.float32) / 255.0
    return work


def centre_in_frame(digit: np.ndarray) -> np.ndarray:
    """A digit that fits the 20x20 box, in a 28x28 frame with its centre of mass at the centre."""
    height, width = digit.shape
    canvas = np.zeros((28, 28), dtype=np.float32)
    top = (28 - height) // 2
    left = (28 - width) // 2
    canvas[top : top + height, left : left + width] = digit
    ys, xs = np.indices(canvas.shape)
    mass = canvas.sum()
    # moved by whole pixels, as MNIST was made, but never off the frame
    dy = np.clip(round(13.5 - (ys * canvas).sum() / mass), -top, 28 - top - height)
    dx = np.clip(round(13.5 - (xs * canvas).sum() / mass), -left, 28 - left - width)
    return np.roll(canvas, (int(dy), int(dx)), axis=(0, 1))


def prepare_digit(gray, name: str = "image", *, size: int = 280, width: float = 20) -> torch.Tensor:
    """Normalize a grayscale array in [0, 1], or pen strokes (lists of (x, y) points on a
    ``size``-pixel square pad, drawn ``width`` pixels wide), into an MNIST-style [1, 28, 28]
    tensor."""
    if not isinstance(gray, np.ndarray):
        gray = draw_strokes(gray, size, width)
    side = block_side(gray)
    if side > 1:  # only the small original: its blocks are smoothed when it is scaled up below
        gray = gray[::side, ::side]
    crop = even_strokes(crop_to_ink(white_on_black(gray, name)))
    crop_height, crop_width = crop.shape
    scale = BOX / max(crop_height, crop_width)  # fit the 20x20 box, keeping the aspect ratio
    digit = resize(crop, max(1, round(crop_width * scale)), max(1, round(crop_height * scale)))
    return torch.from_numpy(centre_in_frame(digit)).unsqueeze(0)
