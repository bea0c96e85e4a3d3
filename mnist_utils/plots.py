"""Figures of the course: training curves, sample digits, confusion matrix, misclassified digits.

Each function returns a matplotlib Figure; with ``path`` it is also saved atomically.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .atomic import atomic_path


def _pyplot():
    import matplotlib

    if "ipykernel" not in __import__("sys").modules and not os.environ.get("DISPLAY"):
        matplotlib.use("Agg")  # headless scripts and the CLI: no GUI backend to look for
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = 120) -> None:
    """Save ``fig`` to ``path`` (format from the suffix) via a temporary file and rename."""
    fmt = os.path.splitext(str(path))[1].lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


def _as_images(x: torch.Tensor) -> np.ndarray:
    x = x.detach().float().cpu()
    return x.reshape(len(x), 28, 28).numpy()


def draw_history(fig, history, title: str | None = None):
    """Draw train/validation loss (left) and validation accuracy (right) onto an empty ``fig``."""
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = np.arange(1, len(history.train_loss) + 1)
    ax_loss.plot(epochs, history.train_loss, "o-", label="train")
    if history.val_loss:
        ax_loss.plot(epochs[:len(history.val_loss)], history.val_loss, "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_loss.legend()
    if history.val_acc:
        ax_acc.plot(epochs[:len(history.val_acc)], 100 * np.asarray(history.val_acc), "o-", color="tab:green")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if len(epochs):
            ax.set_xticks(epochs)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history, path=None, title: str | None = None):
    """Train and validation loss per epoch (left) and validation accuracy (right)."""
    fig = _pyplot().figure(figsize=(10, 3.8))
    return _finish(draw_history(fig, history, title), path)


def plot_samples(x: torch.Tensor, y: torch.Tensor, per_digit: int = 8, path=None):
    """A grid with one row per digit 0-9 and ``per_digit`` examples of it."""
    plt = _pyplot()
    images = _as_images(x)
    labels = y.cpu().numpy()
    fig, axes = plt.subplots(10, per_digit, figsize=(per_digit * 0.9, 10 * 0.9))
    for digit in range(10):
        picks = np.flatnonzero(labels == digit)[:per_digit]
        for col in range(per_digit):
            ax = axes[digit, col]
            ax.axis("off")
            if col < len(picks):
                ax.imshow(images[picks[col]], cmap="gray")
        axes[digit, 0].set_title(str(digit), loc="left", fontsize=9, pad=2)
    fig.tight_layout()
    return _finish(fig, path)


def plot_confusion_matrix(cm, path=None, title: str = "Confusion matrix (test set)"):
    """A seaborn heatmap of ``cm[true, predicted]``."""
    plt = _pyplot()
    import seaborn as sns

    cm = np.asarray(cm.cpu() if isinstance(cm, torch.Tensor) else cm)
    fig, ax = plt.subplots(figsize=(7, 6))
    sns.heatmap(cm, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax, annot_kws={"fontsize": 8})
    ax.set(xlabel="predicted digit", ylabel="true digit", title=title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_misclassified(x, y, predicted, probs, max_images: int = 24, path=None):
    """The misclassified digits, each titled 'true -> predicted (confidence)'."""
    plt = _pyplot()
    wrong = torch.nonzero(predicted.cpu() != y.cpu()).flatten()[:max_images]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5), squeeze=False)
    images = _as_images(x[wrong]) if len(wrong) else []
    for ax in axes.flat:
        ax.axis("off")
    for ax, i, img in zip(axes.flat, wrong.tolist(), images):
        ax.imshow(img, cmap="gray")
        p = int(predicted[i])
        ax.set_title(f"{int(y[i])} → {p} ({100 * float(probs[i, p]):.0f}%)", fontsize=8)
    if not len(wrong):
        fig.suptitle("no misclassified digits")
    fig.tight_layout()
    return _finish(fig, path)


def plot_class_balance(train_y: torch.Tensor, test_y: torch.Tensor | None = None, path=None):
    """A seaborn bar chart of how many images each digit has (share of its split, so splits compare)."""
    plt = _pyplot()
    import pandas as pd
    import seaborn as sns

    frames = [pd.DataFrame({"digit": train_y.cpu().numpy(), "split": "train"})]
    if test_y is not None:
        frames.append(pd.DataFrame({"digit": test_y.cpu().numpy(), "split": "test"}))
    counts = pd.concat(frames).value_counts().rename("count").reset_index()
    counts["share (%)"] = 100 * counts["count"] / counts.groupby("split")["count"].transform("sum")
    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.barplot(counts, x="digit", y="share (%)", hue="split", hue_order=[f.split[0] for f in frames], ax=ax)
    ax.axhline(10, color="gray", ls="--", lw=1, label="perfectly balanced (10 %)")
    ax.set(title="Class balance: share of each digit", ylabel="share of the split (%)",
           ylim=(0, 1.3 * counts["share (%)"].max()))
    ax.legend(loc="upper center", ncol=3)
    fig.tight_layout()
    return _finish(fig, path)


def plot_pixel_histogram(images: torch.Tensor, path=None):
    """Histogram of pixel values (raw 0-255 or scaled); the count axis is logarithmic because most pixels are 0."""
    plt = _pyplot()
    values = images.detach().float().cpu().flatten().numpy()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(values, bins=64, color="tab:blue")
    ax.set_yscale("log")
    ax.set(xlabel="pixel value", ylabel="number of pixels (log scale)", title="Pixel intensity distribution")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finish(fig, path)


def plot_mean_digits(x: torch.Tensor, y: torch.Tensor, path=None):
    """The mean image of each digit 0-9: where its strokes usually are."""
    plt = _pyplot()
    images, labels = _as_images(x), y.cpu().numpy()
    fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
    for digit, ax in enumerate(axes):
        ax.imshow(images[labels == digit].mean(axis=0), cmap="magma")
        ax.set_title(str(digit))
        ax.axis("off")
    fig.suptitle("Mean image of each digit")
    fig.tight_layout()
    return _finish(fig, path)


def plot_digits(x: torch.Tensor, titles: list[str], path=None, cols: int = 8):
    """A row (or rows) of digits, each with its own title, e.g. 'predicted 7 (99%)'."""
    plt = _pyplot()
    images = _as_images(x)
    rows = max(1, -(-len(images) // cols))
    cols = min(cols, max(len(images), 1))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles):
        ax.imshow(img, cmap="gray")
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def plot_feature_maps(model, image: torch.Tensor, channels: int = 8, path=None):
    """The input digit and what the first ``channels`` filters of the CNN's first convolution see in it."""
    plt = _pyplot()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        maps = conv(image.reshape(1, 1, 28, 28).to(conv.weight.device)).relu()[0].cpu()
    channels = min(channels, len(maps))
    fig, axes = plt.subplots(2, channels + 1, figsize=((channels + 1) * 1.3, 2.8))
    axes[0, 0].imshow(_as_images(image.reshape(1, 1, 28, 28))[0], cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    for c in range(channels):
        axes[0, c + 1].imshow(conv.weight[c, 0].detach().cpu().numpy(), cmap="RdBu_r")
        axes[0, c + 1].set_title(f"filter {c}", fontsize=8)
        axes[1, c + 1].imshow(maps[c].numpy(), cmap="magma")
        axes[1, c + 1].set_title(f"output {c}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("First convolution: 3x3 filters (top) and the feature maps they produce (bottom)")
    fig.tight_layout()
    return _finish(fig, path)


def plot_grid_search(results, value: str = "val_acc", rows: str = "lr", cols: str = "batch_size",
                     panels: str | None = "optimizer", path=None):
    """Seaborn heatmaps of a grid search: ``value`` (in %) for ``rows`` x ``cols``, one panel per ``panels`` value."""
    plt = _pyplot()
    import seaborn as sns

    groups = list(results.groupby(panels, sort=False)) if panels in results else [(None, results)]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False)
    scores = 100 * results[value].astype(float)
    low, high = scores.min(), scores.max()
    for ax, (name, group) in zip(axes[0], groups):
        table = group.pivot_table(index=rows, columns=cols, values=value, aggfunc="mean") * 100
        sns.heatmap(table.sort_index(ascending=False), annot=True, fmt=".2f", cmap="viridis", vmin=low, vmax=high,
                    cbar=False, ax=ax)
        ax.set_title(f"{panels} = {name}" if name is not None else value)
    names = {"val_acc": "final validation accuracy", "best_val_acc": "best validation accuracy"}
    fig.suptitle(f"Grid search: {names.get(value, value.replace('_', ' '))} (%)")
    fig.tight_layout()
    return _finish(fig, path)
