"""Figures of the course; each function returns a matplotlib Figure and, with ``path``, also saves
it
atomically."""

import os

import numpy as np
import torch

from .atomic import atomic_path


def save_figure(fig, path=None, title: str | None = None):
    """Title and lay out ``fig``; with ``path``, save it atomically (format from the suffix).
    Returns
    ``fig``."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        suffix = os.path.splitext(str(path))[1].lstrip(".")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix or "png", dpi=120, bbox_inches="tight")
    return fig


def running_mean(values, window: int) -> np.ndarray:
    """The mean of each ``window`` values in a row: it tames the batch-to-batch noise of a loss
    curve."""
    return np.convolve(values, np.ones(window) / window, mode="valid")


def add_legend(ax) -> None:
    """A legend, when there is a curve to name (a run stopped in its first epoch has none)."""
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend()


def draw_loss(ax, history) -> None:
    """Training loss per batch (smoothed) and per epoch, validation loss per epoch; log scale."""
    if history.batch_loss:
        # batch i of n ends at epoch (i + 1) / n
        ends = np.linspace(0, max(history.epochs, 1), len(history.batch_loss) + 1)[1:]
        window = min(10, len(history.batch_loss))
        smooth = running_mean(history.batch_loss, window)
        ax.plot(
            ends[window - 1 :],
            smooth,
            lw=0.7,
            alpha=0.4,
            color="tab:blue",
            label="train (per batch)",
        )
    epochs = range(1, history.epochs + 1)
    ax.plot(epochs, history.train_loss, "o-", color="tab:blue", label="train")
    if history.val_loss:
        ax.plot(epochs, history.val_loss, "o-", color="tab:orange", label="validation")
    # the loss falls by orders of magnitude: a log scale shows the late epochs as well as the first
    ax.set_yscale("log")
    ax.set(title="Loss (cross-entropy, log scale)")
    add_legend(ax)


def draw_accuracy(ax, history) -> None:
    """Training accuracy (on the batches, while learning) and validation accuracy, in %."""
    epochs = range(1, history.epochs + 1)
    if history.train_acc:
        ax.plot(epochs, 100 * np.asarray(history.train_acc), "o-", color="tab:blue", label="train")
    if history.val_acc:
        ax.plot(
            epochs, 100 * np.asarray(history.val_acc), "o-", color="tab:green", label="validation"
        )
    ax.set(title="Accuracy (%)")
    add_legend(ax)


def draw_learning_rate(ax, history) -> None:
    ends = np.linspace(0, max(history.epochs, 1), len(history.batch_lr) + 1)[1:]
    ax.plot(ends, history.batch_lr, color="tab:purple")
    ax.set(title="Learning rate")


def draw_history(fig, history, title: str | None = None):
    """Loss, accuracy and (when it changes) the learning rate of a ``History``, onto an empty
    ``fig``."""
    lr_changes = len(set(history.batch_lr)) > 1
    ratios = (
        [1, 1, 0.6] if lr_changes else [1, 1]
    )  # a narrow third axes for a changing learning rate
    axes = fig.subplots(1, len(ratios), gridspec_kw={"width_ratios": ratios})
    draw_loss(axes[0], history)
    draw_accuracy(axes[1], history)
    if lr_changes:
        draw_learning_rate(axes[2], history)
    for ax in axes:
        ax.set(xlabel="epoch", xticks=range(1, history.epochs + 1))
        ax.grid(alpha=0.3)
    return save_figure(fig, title=title)


def plot_history(history, path=None, title: str | None = None):
    """The curves of ``draw_history`` on a new pyplot figure."""
    import matplotlib.pyplot as plt  # imported here: it takes a second, and only some callers draw

    return save_figure(draw_history(plt.figure(figsize=(10, 3.8)), history, title), path)


def plot_misclassified(x, y, predicted, probs, max_images: int = 24, path=None):
    """The misclassified digits, each titled 'true → predicted (confidence)'."""
    wrong = torch.nonzero(predicted.cpu() != y.cpu()).flatten()[:max_images]
    titles = []
    for i in wrong:
        confidence = 100 * float(probs[i, predicted[i]])
        titles.append(f"{int(y[i])} → {int(predicted[i])} ({confidence:.0f}%)")
    title = None if titles else "no misclassified digits"
    return plot_digits(x[wrong], titles, path, title=title)


def plot_digits(
    x: torch.Tensor, titles: list[str], path=None, cols: int = 8, title: str | None = None
):
    """Digits in rows of ``cols``, each with its own title, e.g. 'predicted 7 (99%)', and ``title``
    above."""
    import matplotlib.pyplot as plt  # see plot_history

    cols = min(cols, max(len(x), 1))
    rows = max(1, -(-len(x) // cols))  # rounded up
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, name in zip(axes.flat, x, titles):
        ax.imshow(image.detach().float().cpu().reshape(28, 28).numpy(), cmap="gray")
        ax.set_title(name, fontsize=8)
    return save_figure(fig, path, title)
