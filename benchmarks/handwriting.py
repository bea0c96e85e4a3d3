"""A check set of digits from outside MNIST, and the tools to score models on it.

    python -m benchmarks.handwriting build                       # runs/handwriting/*.png (seconds)
    python -m benchmarks.handwriting build --seed 1 --folder runs/handwriting_1  # a second draw
    python -m benchmarks.handwriting score runs/robust runs/fast  # accuracy and mistakes of each
    python -m benchmarks.handwriting reliability runs/robust      # img/reliability.png (README)

Run from the project root. The package never imports this folder. Nothing here is committed data:
the PNGs are generated, deterministically from a seed, into a git-ignored folder by
``mnist_utils.check_set``: pen drawings of writers' variants of each digit in three styles, ``ink``
(dark ink photographed on unevenly lit paper, often small or off-centre), ``blocky`` (white on
black, drawn on 8-16 px and scaled up by nearest neighbour) and ``rotated`` (8-20 degrees, thick or
thin pens). Files are named ``<digit>_<style>_<n>.png``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import torch

from mnist_utils.check_set import FOLDER, accuracy_by, build, load


def score(checkpoint, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Accuracy of a saved model on the check set (calibrated probabilities), its digits read and its
    mistakes as 'true->read', commonest first."""
    from mnist_utils.data import normalize_images
    from mnist_utils.evaluate import predict
    from mnist_utils.persistence import load_checkpoint

    saved = load_checkpoint(checkpoint)
    read, probs = predict(
        saved.model,
        normalize_images(x, saved.normalize),
        temperature=saved.metrics.get("temperature", 1.0),
    )
    wrong = (read != y).nonzero().flatten().tolist()
    mistakes = Counter()
    for i in wrong:
        mistakes[f"{int(y[i])}->{int(read[i])}"] += 1
    return {
        "checkpoint": str(checkpoint),
        "arch": saved.arch,
        "accuracy": 1 - len(wrong) / len(y),
        "read": read,
        "wrong": wrong,
        "mistakes": dict(mistakes.most_common()),
        "probs": probs,
    }


def calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """Expected calibration error: the gap between confidence (top probability) and accuracy in
    equal-width confidence bins, weighted by how many predictions fall in each."""
    confidence, digits = probs.max(1)
    which = (confidence * bins).long().clamp(max=bins - 1)
    gaps = 0.0
    for b in range(bins):
        in_bin = which == b
        gaps += float((confidence[in_bin].sum() - (digits == labels)[in_bin].sum()).abs())
    return gaps / len(labels)


def accuracy_per_bin(probs: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Accuracy in each of ten bins of top probability (NaN for an empty bin)."""
    confidence = probs.max(1).values
    right = probs.argmax(1) == labels
    which = (confidence * 10).long().clamp(max=9)
    accuracy = []
    for b in range(10):
        in_bin = which == b
        accuracy.append(right[in_bin].float().mean().item() if in_bin.any() else float("nan"))
    return accuracy


def reliability_line(name: str, t: float, probs: torch.Tensor, labels: torch.Tensor) -> str:
    from mnist_utils.evaluate import UNSURE

    confidence = probs.max(1).values
    right = probs.argmax(1) == labels
    unsure = (confidence < UNSURE).float().mean().item()
    sure_accuracy = right[confidence >= UNSURE].float().mean()
    return (
        f"{name}, T={t:.3f}: ECE {100 * calibration_error(probs, labels):.2f} %, accuracy "
        f"{100 * right.float().mean():.2f} %, unsure (< {UNSURE}) {100 * unsure:.1f} % of digits, "
        f"accuracy when sure {100 * sure_accuracy:.2f} %"
    )


def reliability(checkpoint, folder: Path, figure: Path, data_dir=None) -> list[str]:
    """Reliability diagrams of a saved model before and after its temperature, on MNIST's test set
    and the check set (the temperature was fitted on the validation split, neither of these);
    returns the ECE lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mnist_utils.data import load_mnist, normalize_images
    from mnist_utils.evaluate import UNSURE, predict_logits
    from mnist_utils.persistence import load_checkpoint

    saved = load_checkpoint(checkpoint)
    temperature = saved.metrics.get("temperature", 1.0)
    x, y, _ = load(folder)
    sets = {
        "MNIST test set": load_mnist(data_dir, normalize=saved.normalize, val_size=0).test,
        f"check set ({len(y)} digits from outside MNIST)": (
            normalize_images(x, saved.normalize),
            y,
        ),
    }
    styles = {1.0: ("#c44e52", "before (T = 1)"), temperature: ("#4c72b0", "after")}
    centres = (torch.linspace(0, 1, 11)[:-1] + 0.05).tolist()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    lines = []
    for ax, (name, data) in zip(axes, sets.items()):
        logits, labels = predict_logits(saved.model, data)
        for t, (color, label) in styles.items():
            probs = (logits / t).softmax(1)
            label = f"{label} (T = {t:.2f})" if label == "after" else label
            ax.plot(centres, accuracy_per_bin(probs, labels), "o-", color=color, label=label)
            lines.append(reliability_line(name, t, probs, labels))
        ax.plot([0, 1], [0, 1], ":", color="gray", label="perfect calibration")
        ax.axvline(UNSURE, color="gray", lw=0.8)
        ax.set(title=name, xlabel="top probability (bins of 0.1)", ylabel="accuracy in the bin")
        ax.set(xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"Reliability of {checkpoint}: temperature fitted on the validation split")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=100)
    return [*lines, f"wrote {figure}"]


def report(checkpoint, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> list[str]:
    """Lines for one saved model: accuracy, confidence, mistakes, and accuracy by style and digit."""
    result = score(checkpoint, x, y)
    top = result["probs"].max(1).values
    right = result["probs"].argmax(1) == y
    wrong_median = top[~right].median() if (~right).any() else 0
    by_style = accuracy_by(y, result["read"], names, key="style").round(1).to_dict()
    by_digit = accuracy_by(y, result["read"], names, key="digit").round(1).to_dict()
    summary = (
        f"{checkpoint} ({result['arch']}): {100 * result['accuracy']:.1f} % of {len(y)}; median "
        f"top probability {top[right].median():.2f} right, {wrong_median:.2f} wrong; "
        f"mistakes {result['mistakes']}"
    )
    return [summary, f"  by style (%): {by_style}", f"  by digit (%): {by_digit}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.handwriting", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=["build", "score", "reliability"])
    parser.add_argument("checkpoints", nargs="*", help="saved models (folders) to score")
    parser.add_argument("--folder", default=str(FOLDER), help=f"the check set (default: {FOLDER})")
    parser.add_argument("--seed", type=int, default=0, help="build: the draw (default: 0)")
    parser.add_argument("--per-style", type=int, default=30, help="build: digits of each kind")
    parser.add_argument("--figure", default="img/reliability.png", help="reliability: the figure")
    parser.add_argument("--data-dir", default=None, help="reliability: MNIST's folder")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if args.command == "build":
        paths = build(folder, per_style=args.per_style, seed=args.seed)
        print(f"wrote {len(paths)} PNGs into {folder}")
        return 0
    if args.command == "reliability":
        for line in reliability(args.checkpoints[0], folder, Path(args.figure), args.data_dir):
            print(line)
        return 0
    x, y, names = load(folder)
    for checkpoint in args.checkpoints:
        print("\n".join(report(checkpoint, x, y, names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
