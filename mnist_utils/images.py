"""Turn a photo, scan or drawing-pad strokes of one digit into a 28x28 image made the way MNIST's digits were."""
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, UnidentifiedImageError

MAX_SIDE = 10_000  # refuse absurd images before decoding them into memory


def load_digit_image(path) -> torch.Tensor:
    """Read one digit from a PNG/JPEG (any size, dark-on-light or light-on-dark) -> float [1, 28, 28] in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} does not exist; pass the path of a PNG or JPEG of one digit")
    try:
        with Image.open(path) as img:
            if max(img.size) > MAX_SIDE:
                raise ValueError(f"image {str(path)!r} is {img.size[0]}x{img.size[1]} pixels; "
                                 f"crop or shrink it to one digit under {MAX_SIDE} pixels a side")
            gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable image ({type(exc).__name__}); pass a PNG or JPEG") from None
    return prepare_digit(gray, name=str(path))


def prepare_digit(gray, name: str = "image", *, size: int = 280, width: float = 20) -> torch.Tensor:
    """Normalize a grayscale array in [0, 1], or pen strokes (lists of (x, y) points on a ``size``-pixel square
    pad, drawn ``width`` pixels wide), into an MNIST-style [1, 28, 28] tensor."""
    if not isinstance(gray, np.ndarray):  # strokes: draw them white on black, round pen
        draw = ImageDraw.Draw(pad := Image.new("L", (size, size), 0))
        for stroke in gray:
            draw.line([tuple(p) for p in stroke], fill=255, width=round(width), joint="curve")
            for x, y in stroke:
                draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
        gray = np.asarray(pad, dtype=np.float32) / 255.0
    background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))  # the border
    if background > 0.5:  # light background: invert to MNIST's white-on-black
        gray, background = 1.0 - gray, 1.0 - background
    gray = np.clip(gray - background, 0.0, 1.0)  # paper grey or sensor noise becomes black
    if gray.max() < 0.1:
        raise ValueError(f"{name} shows no digit (it is blank or has no contrast); pass an image of one digit")
    gray = gray / gray.max()
    rows, cols = np.nonzero(gray > 0.2)
    crop = gray[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)  # fit a 20x20 box, keeping the aspect ratio, in a 28x28 frame
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.LANCZOS),
                       dtype=np.float32) / 255.0
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = small
    ys, xs = np.indices(canvas.shape)  # then move the centre of mass to the centre, as MNIST was made
    mass = canvas.sum()
    dy, dx = round(13.5 - (ys * canvas).sum() / mass), round(13.5 - (xs * canvas).sum() / mass)
    canvas = np.roll(canvas, (int(np.clip(dy, -top, 27 - top - new_h + 1)),
                              int(np.clip(dx, -left, 27 - left - new_w + 1))), axis=(0, 1))
    return torch.from_numpy(canvas).unsqueeze(0)
