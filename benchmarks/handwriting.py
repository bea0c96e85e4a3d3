"""A check set of digits from outside MNIST, and the tools to score models on it.

    python -m benchmarks.handwriting build                      # writes runs/handwriting/*.png (about 10 s)
    python -m benchmarks.handwriting score runs/robust runs/fast # accuracy and mistakes of each saved model
    python -m benchmarks.handwriting reliability runs/robust     # writes img/reliability.png (README figure)

Run from the project root. The package never imports this folder. Nothing here is committed data: the PNGs are
generated, deterministically from a seed, into a git-ignored folder.

Two kinds of digit, one per PNG, named ``<digit>_<kind>_<n>.png``:

* ``pen``: stroke skeletons of each digit (several shapes per digit: 1 with and without a flag, open and closed
  4, 7 with and without a bar, 9 with a straight or a hooked tail...), every point jittered, drawn with a random
  pen width, slant, rotation and aspect, so no two are alike. Fonts are not handwriting; these come closer.
* ``font``: the digit in one of the machine's DejaVu fonts (sans, serif, mono; light, book, bold; upright or
  oblique), slanted, rotated, thickened or thinned.

Both are then drawn at 100-150 px, dark on light or light on dark paper, some blurred, some with sensor noise.
"""
from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FOLDER = Path("runs/handwriting")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# Each digit: shapes, each a list of strokes; a stroke is (smooth?, [(x, y), ...]) in a unit box, y down.
_LOOP0 = [(0.5 + 0.3 * math.sin(t / 8 * math.pi), 0.5 - 0.45 * math.cos(t / 8 * math.pi)) for t in range(17)]
SHAPES: dict[int, list[list[tuple[bool, list]]]] = {
    0: [[(True, _LOOP0)]],
    1: [[(False, [(0.5, 0.05), (0.5, 0.95)])], [(False, [(0.38, 0.17), (0.52, 0.05), (0.52, 0.95)])]],
    2: [[(True, [(0.2, 0.2), (0.5, 0.05), (0.78, 0.22), (0.6, 0.55), (0.25, 0.9), (0.2, 0.8), (0.35, 0.78),
                 (0.4, 0.95), (0.85, 0.95)])],
        [(True, [(0.2, 0.25), (0.35, 0.08), (0.6, 0.05), (0.78, 0.2), (0.72, 0.42), (0.45, 0.68), (0.2, 0.95)]),
         (False, [(0.2, 0.95), (0.85, 0.93)])],
        [(True, [(0.2, 0.2), (0.5, 0.05), (0.78, 0.22), (0.6, 0.55), (0.22, 0.95), (0.35, 0.85), (0.6, 0.88),
                 (0.85, 0.95)])]],
    3: [[(True, [(0.25, 0.15), (0.5, 0.05), (0.72, 0.15), (0.72, 0.35), (0.45, 0.5), (0.75, 0.62), (0.75, 0.85),
                 (0.5, 0.95), (0.22, 0.85)])],
        [(False, [(0.22, 0.05), (0.75, 0.05), (0.45, 0.42)]),
         (True, [(0.45, 0.42), (0.75, 0.55), (0.78, 0.8), (0.5, 0.95), (0.2, 0.85)])]],
    4: [[(False, [(0.65, 0.95), (0.65, 0.05), (0.15, 0.65), (0.85, 0.65)])],
        [(False, [(0.3, 0.05), (0.2, 0.6), (0.8, 0.6)]), (False, [(0.65, 0.3), (0.65, 0.95)])],
        [(False, [(0.25, 0.05), (0.25, 0.55), (0.75, 0.55)]), (False, [(0.7, 0.05), (0.7, 0.95)])]],
    5: [[(False, [(0.75, 0.05), (0.3, 0.05), (0.25, 0.45)]),
         (True, [(0.25, 0.45), (0.5, 0.38), (0.75, 0.5), (0.78, 0.75), (0.6, 0.93), (0.35, 0.95), (0.2, 0.85)])]],
    6: [[(True, [(0.7, 0.05), (0.45, 0.2), (0.28, 0.5), (0.25, 0.75), (0.4, 0.95), (0.65, 0.92), (0.75, 0.72),
                 (0.6, 0.55), (0.4, 0.55), (0.27, 0.7)])]],
    7: [[(False, [(0.2, 0.05), (0.8, 0.05), (0.4, 0.95)])],
        [(False, [(0.2, 0.12), (0.25, 0.05), (0.8, 0.05)]), (True, [(0.8, 0.05), (0.6, 0.4), (0.5, 0.95)])],
        [(False, [(0.2, 0.05), (0.8, 0.05), (0.45, 0.95)]), (False, [(0.35, 0.5), (0.75, 0.5)])]],
    8: [[(True, [(0.5, 0.5), (0.75, 0.3), (0.65, 0.08), (0.5, 0.05), (0.35, 0.08), (0.25, 0.3), (0.5, 0.5),
                 (0.78, 0.7), (0.7, 0.93), (0.5, 0.95), (0.3, 0.93), (0.22, 0.7), (0.5, 0.5)])]],
    9: [[(True, [(0.72, 0.3), (0.6, 0.08), (0.4, 0.06), (0.25, 0.25), (0.35, 0.45), (0.6, 0.45), (0.72, 0.3)]),
         (False, [(0.72, 0.3), (0.7, 0.95)])],
        [(True, [(0.72, 0.3), (0.6, 0.08), (0.4, 0.06), (0.25, 0.25), (0.35, 0.45), (0.6, 0.45), (0.72, 0.3),
                 (0.72, 0.7), (0.6, 0.93), (0.4, 0.95), (0.28, 0.85)])],
        [(True, [(0.75, 0.15), (0.5, 0.05), (0.28, 0.2), (0.35, 0.42), (0.65, 0.38), (0.75, 0.15), (0.7, 0.6),
                 (0.55, 0.9), (0.3, 0.9), (0.25, 0.75)])]],
}


def _chaikin(points: list, rounds: int = 3) -> list:
    """Round a polyline's corners (Chaikin's corner cutting), keeping its end points."""
    for _ in range(rounds):
        points = [points[0]] + [p for a, b in itertools.pairwise(points)
                                for p in ((0.75 * a[0] + 0.25 * b[0], 0.75 * a[1] + 0.25 * b[1]),
                                          (0.25 * a[0] + 0.75 * b[0], 0.25 * a[1] + 0.75 * b[1]))] + [points[-1]]
    return points


def _warp(points: list, rng: random.Random, slant: float, angle: float, aspect: float) -> list:
    cos, sin = math.cos(angle), math.sin(angle)
    out = []
    for x, y in points:
        x, y = (x - 0.5) * aspect - slant * (y - 0.5), y - 0.5  # slant: the top leans right for slant > 0
        out.append((x * cos - y * sin, x * sin + y * cos))
    return out


def pen_digit(digit: int, rng: random.Random, size: int = 512) -> np.ndarray:
    """One jittered pen drawing of ``digit``: white ink on black, float in [0, 1], ``size`` px square."""
    shape = rng.choice(SHAPES[digit])
    slant, angle, aspect = rng.uniform(-0.2, 0.6), math.radians(rng.uniform(-18, 18)), rng.uniform(0.6, 1.3)
    jitter = rng.uniform(0.01, 0.05)
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    width = int(size * rng.uniform(0.02, 0.2))
    for smooth, points in shape:
        points = [(x + rng.gauss(0, jitter), y + rng.gauss(0, jitter)) for x, y in points]
        points = _warp(_chaikin(points) if smooth else points, rng, slant, angle, aspect)
        xy = [(size / 2 + 0.7 * size * x, size / 2 + 0.7 * size * y) for x, y in points]
        draw.line(xy, fill=255, width=width, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen ends
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return np.asarray(img, dtype=np.float32) / 255


def font_digit(digit: int, rng: random.Random, fonts: list[Path], size: int = 512) -> np.ndarray:
    """``digit`` in a random font, slanted and rotated: white on black, float in [0, 1]."""
    font = ImageFont.truetype(str(rng.choice(fonts)), int(size * 0.6))
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).text((size / 2, size / 2), str(digit), fill=255, font=font, anchor="mm")
    slant = rng.uniform(-0.1, 0.35)
    img = img.transform(img.size, Image.AFFINE, (1, slant, -slant * size / 2, 0, 1, 0), Image.BILINEAR)
    img = img.rotate(rng.uniform(-12, 12), Image.BILINEAR)
    stroke = rng.choice([0, 0, 9, 15, -5])  # thicker or thinner strokes
    if stroke:
        img = img.filter(ImageFilter.MaxFilter(stroke) if stroke > 0 else ImageFilter.MinFilter(-stroke))
    return np.asarray(img, dtype=np.float32) / 255


def photograph(ink: np.ndarray, rng: random.Random) -> Image.Image:
    """A pen or font drawing as a scanned PNG: 100-150 px, dark on light or light on dark, maybe blurred/noisy."""
    rows, cols = np.nonzero(ink > 0.1)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    side = max(bottom - top, right - left) / rng.uniform(0.55, 0.85)  # the digit fills 55-85 % of the picture
    cy, cx = (top + bottom) / 2 + rng.uniform(-0.08, 0.08) * side, (left + right) / 2 + rng.uniform(-0.08, 0.08) * side
    out = rng.randint(100, 150)
    box = tuple(round(v) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    img = Image.fromarray((ink * 255).astype(np.uint8)).crop(box).resize((out, out), Image.LANCZOS)  # pads with 0
    if rng.random() < 0.4:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 4.0)))
    paper, pen = rng.uniform(190, 255), rng.uniform(0, 70)
    if rng.random() < 0.4:  # light on dark
        paper, pen = rng.uniform(0, 60), rng.uniform(180, 255)
    gray = paper + (pen - paper) * np.asarray(img, dtype=np.float32) / 255
    if rng.random() < 0.3:
        gray = gray + np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(3, 10), gray.shape)
    return Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8))


def build(folder: Path = FOLDER, *, pens: int = 40, fonts: int = 15, seed: int = 0) -> list[Path]:
    """Write ``pens`` pen digits and ``fonts`` font digits of each of the ten digits into ``folder``."""
    rng = random.Random(seed)
    font_files = sorted(p for p in FONT_DIR.glob("DejaVu*.ttf") if "Math" not in p.name)
    if not font_files:
        raise FileNotFoundError(f"no DejaVu fonts in {FONT_DIR}; install fonts-dejavu-core")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    paths = []
    for digit in range(10):
        for kind, count in (("pen", pens), ("font", fonts)):
            for n in range(count):
                ink = pen_digit(digit, rng) if kind == "pen" else font_digit(digit, rng, font_files)
                paths.append(folder / f"{digit}_{kind}_{n:03d}.png")
                photograph(ink, rng).save(paths[-1])
    return paths


def load(folder: Path = FOLDER) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The check set as the models see it: images [N, 1, 28, 28] in [0, 1] (the course's own preprocessing),
    labels and file names."""
    from mnist_utils.images import load_digit_image

    paths = sorted(Path(folder).glob("*.png"))
    if not paths:
        raise FileNotFoundError(f"no PNGs in {folder}; run python -m benchmarks.handwriting build")
    x = torch.stack([load_digit_image(p) for p in paths])
    return x, torch.tensor([int(p.name[0]) for p in paths]), [p.name for p in paths]


def score(checkpoint, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Accuracy of a saved model on the check set (calibrated probabilities), and its mistakes as 'true->read'."""
    from mnist_utils.data import normalize_images
    from mnist_utils.evaluate import predict
    from mnist_utils.persistence import load_checkpoint

    saved = load_checkpoint(checkpoint)
    read, probs = predict(saved.model, normalize_images(x, saved.normalize),
                          temperature=saved.metrics.get("temperature", 1.0))
    wrong = (read != y).nonzero().flatten().tolist()
    mistakes: dict[str, int] = {}
    for i in wrong:
        mistakes[f"{int(y[i])}->{int(read[i])}"] = mistakes.get(f"{int(y[i])}->{int(read[i])}", 0) + 1
    return {"checkpoint": str(checkpoint), "arch": saved.arch, "accuracy": 1 - len(wrong) / len(y),
            "wrong": wrong, "mistakes": dict(sorted(mistakes.items(), key=lambda kv: -kv[1])), "probs": probs}


def calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """Expected calibration error: the gap between confidence (top probability) and accuracy in equal-width
    confidence bins, weighted by how many predictions fall in each."""
    confidence, digits = probs.max(1)
    which = (confidence * bins).long().clamp(max=bins - 1)
    gaps = [(confidence[which == b].sum() - (digits == labels)[which == b].sum()).abs() for b in range(bins)]
    return float(sum(gaps) / len(labels))


def reliability(checkpoint, folder: Path, figure: Path, data_dir=None) -> list[str]:
    """Reliability diagrams of a saved model before and after its temperature, on MNIST's test set and the check
    set (the temperature was fitted on the validation split, neither of these); returns the ECE lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mnist_utils.data import load_mnist, normalize_images
    from mnist_utils.evaluate import UNSURE, predict_logits
    from mnist_utils.persistence import load_checkpoint

    saved = load_checkpoint(checkpoint)
    temperature = saved.metrics.get("temperature", 1.0)
    x, y, _ = load(folder)
    sets = {"MNIST test set": load_mnist(data_dir, normalize=saved.normalize, val_size=0).test,
            f"check set ({len(y)} digits from outside MNIST)": (normalize_images(x, saved.normalize), y)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    lines, edges = [], torch.linspace(0, 1, 11)
    for ax, (name, data) in zip(axes, sets.items()):
        logits, labels = predict_logits(saved.model, data)
        for t, style in ((1.0, dict(color="#c44e52", label="before (T = 1)")),
                         (temperature, dict(color="#4c72b0", label=f"after (T = {temperature:.2f})"))):
            probs = (logits / t).softmax(1)
            confidence, right = probs.max(1).values, probs.argmax(1) == labels
            which = (confidence * 10).long().clamp(max=9)
            accuracy = [right[which == b].float().mean().item() if (which == b).any() else float("nan")
                        for b in range(10)]
            ax.plot((edges[:-1] + 0.05).tolist(), accuracy, "o-", **style)
            unsure = (confidence < UNSURE).float().mean().item()
            lines.append(f"{name}, T={t:.3f}: ECE {100 * calibration_error(probs, labels):.2f} %, accuracy "
                         f"{100 * right.float().mean():.2f} %, unsure (< {UNSURE}) {100 * unsure:.1f} % of digits, "
                         f"accuracy when sure {100 * right[confidence >= UNSURE].float().mean():.2f} %")
        ax.plot([0, 1], [0, 1], ":", color="gray", label="perfect calibration")
        ax.axvline(UNSURE, color="gray", lw=0.8)
        ax.set(title=name, xlabel="top probability (bins of 0.1)", ylabel="accuracy in the bin", xlim=(0, 1),
               ylim=(0, 1.02))
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"Reliability of {checkpoint}: temperature fitted on the validation split")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=100)
    return [*lines, f"wrote {figure}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.handwriting", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "score", "reliability"])
    parser.add_argument("checkpoints", nargs="*", help="saved models (folders) to score")
    parser.add_argument("--folder", default=str(FOLDER), help=f"the check set's folder (default: {FOLDER})")
    parser.add_argument("--figure", default="img/reliability.png", help="reliability: the figure to write")
    parser.add_argument("--data-dir", default=None, help="reliability: MNIST's folder (default: as everywhere)")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(f"wrote {len(build(Path(args.folder)))} PNGs into {args.folder}")
        return 0
    if args.command == "reliability":
        for line in reliability(args.checkpoints[0], Path(args.folder), Path(args.figure), args.data_dir):
            print(line)
        return 0
    x, y, _ = load(Path(args.folder))
    for checkpoint in args.checkpoints:
        result = score(checkpoint, x, y)
        top = result["probs"].max(1).values
        right = result["probs"].argmax(1) == y
        print(f"{checkpoint} ({result['arch']}): {100 * result['accuracy']:.1f} % of {len(y)}; median top "
              f"probability {top[right].median():.2f} right, {top[~right].median() if (~right).any() else 0:.2f} "
              f"wrong; mistakes {result['mistakes']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
