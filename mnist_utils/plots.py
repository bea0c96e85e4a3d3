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


def plot_history(history, path=None, title: str | None = None):
    """Train and validation loss per epoch (left) and validation accuracy (right)."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
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
    return _finish(fig, path)


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
