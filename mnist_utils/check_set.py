"""A check set of digits from outside MNIST: synthetic handwriting as image files, in three styles.

``build(folder)`` writes the PNGs (deterministic from a seed, a few seconds), ``load(folder)`` reads
them the way ``predict`` does, and ``accuracy_by`` breaks a model's accuracy down by digit or style.
Notebook 06 and ``benchmarks/handwriting.py`` use it. Files are named ``<digit>_<style>_<n>.png``.

Every digit is a pen drawing of one of several writers' variants (1 with a flag and a base, 7 with a
crossbar, open and closed 4, 9 with a straight or curled stem, 0 and 6 with open loops, 2 with a
loop...), each point jittered, slanted, stretched and turned. The styles:

* ``ink``: dark ink photographed on light paper, uneven light, often small or off-centre in a big
  frame;
* ``blocky``: white on black, drawn on 8-16 px and scaled up with nearest neighbour (thick pens);
* ``rotated``: turned 8-20 degrees, with a thick or a thin pen, thin lines often on big canvases.
"""

import itertools
import math
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

FOLDER = Path("runs/handwriting")
STYLES = ("ink", "blocky", "rotated")


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list:
    """Points along an ellipse from ``start`` to ``end`` degrees, clockwise from 12 o'clock."""
    steps = max(2, round(abs(end - start) / 45))  # few points: jitter bends, not frays
    points = []
    for i in range(steps + 1):
        angle = math.radians(start + (end - start) * i / steps)
        points.append((cx + rx * math.sin(angle), cy - ry * math.cos(angle)))
    return points


# Each digit: writers' variants, each a list of strokes; a stroke is (smooth?, [(x, y), ...]) in a
# unit box, y down. Smooth strokes get their corners rounded.
# fmt: off
SHAPES: dict[int, list[list[tuple[bool, list]]]] = {
    0: [
        [(True, arc(0.5, 0.5, 0.3, 0.45, 0, 360))],
        [(True, arc(0.5, 0.5, 0.3, 0.45, 30, 330))],  # open at the top
        [(True, arc(0.5, 0.5, 0.22, 0.45, -20, 370))],  # narrow, overlapping ends
    ],
    1: [
        [(False, [(0.5, 0.05), (0.5, 0.95)])],
        [(False, [(0.36, 0.18), (0.52, 0.05), (0.52, 0.95)])],  # a flag
        [(False, [(0.36, 0.18), (0.52, 0.05), (0.52, 0.95)]), (False, [(0.3, 0.95), (0.74, 0.95)])],
    ],
    2: [
        [(True, [(0.2, 0.2), (0.5, 0.05), (0.78, 0.22), (0.6, 0.55), (0.25, 0.9), (0.2, 0.8),
                 (0.35, 0.78), (0.4, 0.95), (0.85, 0.95)])],  # a loop at the foot
        [(True, [(0.2, 0.25), (0.35, 0.08), (0.6, 0.05), (0.78, 0.2), (0.72, 0.42), (0.45, 0.68),
                 (0.2, 0.95)]), (False, [(0.2, 0.95), (0.85, 0.93)])],
        [(True, [(0.2, 0.2), (0.5, 0.05), (0.78, 0.22), (0.6, 0.55), (0.22, 0.95), (0.35, 0.85),
                 (0.6, 0.88), (0.85, 0.95)])],
    ],
    3: [
        [(True, [(0.25, 0.15), (0.5, 0.05), (0.72, 0.15), (0.72, 0.35), (0.45, 0.5), (0.75, 0.62),
                 (0.75, 0.85), (0.5, 0.95), (0.22, 0.85)])],
        [(False, [(0.22, 0.05), (0.75, 0.05), (0.45, 0.42)]),  # a flat top
         (True, [(0.45, 0.42), (0.75, 0.55), (0.78, 0.8), (0.5, 0.95), (0.2, 0.85)])],
    ],
    4: [
        [(False, [(0.65, 0.95), (0.65, 0.05), (0.15, 0.65), (0.85, 0.65)])],  # closed
        [(False, [(0.3, 0.05), (0.2, 0.6), (0.8, 0.6)]), (False, [(0.65, 0.3), (0.65, 0.95)])],
        [(False, [(0.25, 0.05), (0.25, 0.55), (0.75, 0.55)]), (False, [(0.7, 0.05), (0.7, 0.95)])],
    ],
    5: [
        [(False, [(0.75, 0.05), (0.3, 0.05), (0.25, 0.45)]),
         (True, [(0.25, 0.45), (0.5, 0.38), (0.75, 0.5), (0.78, 0.75), (0.6, 0.93), (0.35, 0.95),
                 (0.2, 0.85)])],
        [(True, [(0.32, 0.05), (0.27, 0.45), (0.55, 0.4), (0.78, 0.6), (0.7, 0.9), (0.45, 0.96),
                 (0.22, 0.88)]), (False, [(0.32, 0.06), (0.78, 0.03)])],  # the bar drawn last
    ],
    6: [
        [(True, [(0.7, 0.05), (0.45, 0.2), (0.28, 0.5), (0.25, 0.75), (0.4, 0.95), (0.65, 0.92),
                 (0.75, 0.72), (0.6, 0.55), (0.4, 0.55), (0.27, 0.7)])],
        [(True, [(0.7, 0.05), (0.45, 0.2), (0.28, 0.5), (0.25, 0.75), (0.4, 0.95), (0.65, 0.92),
                 (0.75, 0.72), (0.62, 0.55), (0.47, 0.53)])],  # the loop left open
        [(True, [(0.62, 0.05), (0.35, 0.5), (0.27, 0.75), (0.4, 0.95), (0.65, 0.93), (0.75, 0.75),
                 (0.6, 0.58), (0.38, 0.62)])],  # a straight stem
    ],
    7: [
        [(False, [(0.2, 0.05), (0.8, 0.05), (0.4, 0.95)])],
        [(False, [(0.2, 0.05), (0.8, 0.05), (0.45, 0.95)]), (False, [(0.35, 0.5), (0.75, 0.5)])],
        [(False, [(0.2, 0.14), (0.25, 0.05), (0.8, 0.05)]),
         (True, [(0.8, 0.05), (0.6, 0.4), (0.5, 0.95)])],
    ],
    8: [
        [(True, [(0.5, 0.5), (0.75, 0.3), (0.65, 0.08), (0.5, 0.05), (0.35, 0.08), (0.25, 0.3),
                 (0.5, 0.5), (0.78, 0.7), (0.7, 0.93), (0.5, 0.95), (0.3, 0.93), (0.22, 0.7),
                 (0.5, 0.5)])],
        [(True, arc(0.5, 0.27, 0.2, 0.22, 0, 360)), (True, arc(0.5, 0.72, 0.26, 0.23, 0, 360))],
    ],
    9: [
        [(True, arc(0.48, 0.27, 0.24, 0.22, 90, 450)), (False, [(0.72, 0.27), (0.7, 0.95)])],
        [(True, arc(0.48, 0.27, 0.24, 0.22, 90, 450)
          + [(0.72, 0.7), (0.6, 0.93), (0.4, 0.95), (0.28, 0.85)])],  # a curled stem
        [(True, [(0.75, 0.15), (0.5, 0.05), (0.28, 0.2), (0.35, 0.42), (0.65, 0.38), (0.75, 0.15),
                 (0.65, 0.6), (0.5, 0.95)])],  # a slanted stem
    ],
}
# fmt: on


def chaikin(points: list, rounds: int = 3) -> list:
    """Round a polyline's corners (Chaikin's corner cutting), keeping its end points."""
    for _ in range(rounds):
        rounded = [points[0]]
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            rounded.append((0.75 * x0 + 0.25 * x1, 0.75 * y0 + 0.25 * y1))
            rounded.append((0.25 * x0 + 0.75 * x1, 0.25 * y0 + 0.75 * y1))
        rounded.append(points[-1])
        points = rounded
    return points


def handwriting(digit: int, rng: random.Random, degrees: float) -> list[list]:
    """One writer's ``digit``: strokes of (x, y) points centred on 0, about one unit high."""
    slant = rng.uniform(-0.2, 0.5)  # the top leans right for slant > 0
    aspect = rng.uniform(0.6, 1.3)
    jitter = rng.uniform(0.01, 0.04)
    cos = math.cos(math.radians(degrees))
    sin = math.sin(math.radians(degrees))
    strokes = []
    for smooth, points in rng.choice(SHAPES[digit]):
        moved = []
        for x, y in points:
            moved.append((x + rng.gauss(0, jitter), y + rng.gauss(0, jitter)))
        if smooth:
            moved = chaikin(moved)
        turned = []
        for x, y in moved:
            x = (x - 0.5) * aspect - slant * (y - 0.5)
            y = y - 0.5
            turned.append((x * cos - y * sin, x * sin + y * cos))
        strokes.append(turned)
    return strokes


def draw(strokes: list, frame: tuple[int, int], centre: tuple, height: float, pen: float):
    """The strokes as white ink on black, float [H, W] in [0, 1], in a frame of (width, height)
    pixels, scaled to ``height`` pixels around ``centre``; drawn at twice the size, then shrunk
    (anti-aliased)."""
    zoom = 2
    image = Image.new("L", (frame[0] * zoom, frame[1] * zoom), 0)
    pad = ImageDraw.Draw(image)
    width = max(1, round(pen * zoom))
    for stroke in strokes:
        xy = []
        for x, y in stroke:
            xy.append(((centre[0] + height * x) * zoom, (centre[1] + height * y) * zoom))
        pad.line(xy, fill=255, width=width, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen ends
            pad.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    image = image.resize(frame, Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255


def ink_on_paper(digit: int, rng: random.Random) -> np.ndarray:
    """A photo of dark ink on light paper, uneven light and noise, the digit often small or
    off-centre."""
    frame = (rng.randint(100, 400), rng.randint(100, 400))
    side = min(frame)
    height = side * rng.choice([rng.uniform(0.25, 0.45), rng.uniform(0.5, 0.85)])
    centre = (rng.uniform(0.3, 0.7) * frame[0], rng.uniform(0.3, 0.7) * frame[1])
    pen = height * rng.uniform(0.04, 0.14)
    strokes = handwriting(digit, rng, rng.uniform(-8, 8))
    ink = draw(strokes, frame, centre, height, pen)
    ink = Image.fromarray((ink * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.3, 2.0))
    )
    ink = np.asarray(ink, dtype=np.float32) / 255
    noise = np.random.default_rng(rng.randrange(2**32))
    light = np.linspace(-1, 1, frame[0])[None, :] * rng.uniform(-15, 15)  # one side lit better
    paper = rng.uniform(180, 250) + light
    pen_grey = rng.uniform(10, 90)
    gray = paper + (pen_grey - paper) * ink + noise.normal(0, rng.uniform(2, 8), ink.shape)
    return np.clip(gray, 0, 255)


def blocky_scan(digit: int, rng: random.Random) -> np.ndarray:
    """White on black drawn on an 8-16 px square, often with a thick pen, scaled up by nearest
    neighbour: the blocks of a low-resolution scan."""
    side = rng.randint(8, 16)
    height = side * rng.uniform(0.6, 0.8)
    centre = (side / 2 + rng.uniform(-0.5, 0.5), side / 2 + rng.uniform(-0.5, 0.5))
    pen = height * rng.uniform(0.1, 0.22)
    strokes = handwriting(digit, rng, rng.uniform(-8, 8))
    # drawn 8x finer, then averaged onto the small square
    fine = draw(strokes, (8 * side, 8 * side), (8 * centre[0], 8 * centre[1]), 8 * height, 8 * pen)
    small = Image.fromarray((fine * 255).astype(np.uint8)).resize((side, side), Image.BOX)
    levels = rng.choice([2, 4, 256])  # binary, a few greys, or full grey
    small = np.round(np.asarray(small, dtype=np.float32) / 255 * (levels - 1)) / (levels - 1)
    scale = rng.randint(5, 12)
    big = Image.fromarray((small * 255).astype(np.uint8)).resize(
        (side * scale, side * scale), Image.NEAREST
    )
    return np.asarray(big, dtype=np.float32)


def rotated(digit: int, rng: random.Random) -> np.ndarray:
    """Turned 8-20 degrees either way, a thick or a thin pen (thin often on a big canvas), either
    polarity."""
    thick = rng.random() < 0.5
    side = rng.randint(28, 120) if thick else rng.randint(100, 600)  # thick pens, small canvases
    height = side * rng.uniform(0.45, 0.85)
    centre = (
        side / 2 + rng.uniform(-0.08, 0.08) * side,
        side / 2 + rng.uniform(-0.08, 0.08) * side,
    )
    pen = height * (rng.uniform(0.14, 0.22) if thick else rng.uniform(0.012, 0.035))
    degrees = rng.choice([-1, 1]) * rng.uniform(8, 20)
    ink = draw(handwriting(digit, rng, degrees), (side, side), centre, height, pen)
    if rng.random() < 0.5:  # dark on light
        return 255 * (1 - 0.85 * ink)
    return 255 * ink


def build(folder: Path = FOLDER, *, per_style: int = 30, seed: int = 0) -> list[Path]:
    """Write ``per_style`` digits of each of the ten digits in each style into ``folder``."""
    makers = {"ink": ink_on_paper, "blocky": blocky_scan, "rotated": rotated}
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    paths = []
    for digit in range(10):
        for style in STYLES:
            for n in range(per_style):
                gray = makers[style](digit, rng)
                paths.append(folder / f"{digit}_{style}_{n:03d}.png")
                Image.fromarray(gray.astype(np.uint8)).save(paths[-1])
    return paths


def load(folder: Path = FOLDER) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The check set as the models see it: images [N, 1, 28, 28] in [0, 1] (the course's own
    preprocessing), labels and file names."""
    from .images import load_digit_image

    paths = sorted(Path(folder).glob("*.png"))
    if not paths:
        raise FileNotFoundError(
            f"no PNGs in {folder}; build it with mnist_utils.check_set.build(folder)"
        )
    images = []
    for path in paths:
        images.append(load_digit_image(path))
    labels = []
    for path in paths:
        labels.append(int(path.name[0]))
    return torch.stack(images), torch.tensor(labels), [p.name for p in paths]


def accuracy_by(
    labels: torch.Tensor, predicted: torch.Tensor, names: list[str], key: str = "digit"
):
    """Accuracy in % of each digit (``key="digit"``) or style (``key="style"``): a pandas Series."""
    import pandas as pd

    groups = []
    for label, name in zip(labels, names):
        groups.append(str(int(label)) if key == "digit" else name.split("_")[1])
    right = (predicted == labels).float().numpy()
    table = pd.DataFrame({key: groups, "accuracy (%)": 100 * right})
    return table.groupby(key)["accuracy (%)"].mean()
