"""Figures of the course; each function returns a matplotlib Figure and, with ``path``, also saves it atomically."""
import os

import numpy as np
import torch

from .atomic import atomic_path


def save_figure(fig, path=None, title: str | None = None):
    """Title and lay out ``fig``; with ``path``, save it atomically (format from the suffix). Returns ``fig``."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=os.path.splitext(str(path))[1].lstrip(".") or "png", dpi=120, bbox_inches="tight")
    return fig


def draw_history(fig, history, title: str | None = None):
    """Loss per epoch and per batch, validation accuracy and a changing learning rate, onto an empty ``fig``."""
    ratios = [1, 1, 0.6] if len(set(history.batch_lr)) > 1 else [1, 1]  # a narrow third axes for a changing lr
    axes = fig.subplots(1, len(ratios), gridspec_kw={"width_ratios": ratios})
    at = np.linspace(0, max(history.epochs, 1), len(history.batch_loss) + 1)[1:]  # batch i of n: epoch (i + 1) / n
    if history.batch_loss:
        window = min(10, len(history.batch_loss))  # a short running mean tames the batch-to-batch noise
        smooth = np.convolve(history.batch_loss, np.ones(window) / window, mode="valid")
        axes[0].plot(at[window - 1:], smooth, lw=0.7, alpha=0.4, color="tab:blue", label="train (per batch)")
    for ax, values, color, label in [(0, history.train_loss, "tab:blue", "train"),
                                     (0, history.val_loss, "tab:orange", "validation"),
                                     (1, 100 * np.asarray(history.val_acc), "tab:green", None)]:
        if len(values):
            axes[ax].plot(range(1, len(values) + 1), values, "o-", color=color, label=label)
    if len(ratios) == 3:
        axes[2].plot(at, history.batch_lr, color="tab:purple")
    for ax, name in zip(axes, ["Loss (cross-entropy)", "Validation accuracy (%)", "Learning rate"]):
        ax.set(xlabel="epoch", title=name, xticks=range(1, history.epochs + 1))
        ax.grid(alpha=0.3)
    axes[0].legend()
    return save_figure(fig, title=title)


def plot_history(history, path=None, title: str | None = None):
    """The curves of ``draw_history`` on a new pyplot figure."""
    import matplotlib.pyplot as plt  # imported here: only the CLI's train draws, and the import takes a second
    return save_figure(draw_history(plt.figure(figsize=(10, 3.8)), history, title), path)


def plot_misclassified(x, y, predicted, probs, max_images: int = 24, path=None):
    """The misclassified digits, each titled 'true → predicted (confidence)'."""
    wrong = torch.nonzero(predicted.cpu() != y.cpu()).flatten()[:max_images]
    titles = [f"{int(y[i])} → {int(predicted[i])} ({100 * float(probs[i, predicted[i]]):.0f}%)" for i in wrong]
    return plot_digits(x[wrong], titles, path, title=None if titles else "no misclassified digits")


def plot_digits(x: torch.Tensor, titles: list[str], path=None, cols: int = 8, title: str | None = None):
    """Digits in rows of ``cols``, each with its own title, e.g. 'predicted 7 (99%)', and ``title`` above them."""
    cols = min(cols, max(len(x), 1))
    rows = max(1, -(-len(x) // cols))  # rounded up
    import matplotlib.pyplot as plt  # see plot_history
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.4, rows * 1.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, name in zip(axes.flat, x, titles):
        ax.imshow(image.detach().float().cpu().reshape(28, 28).numpy(), cmap="gray")
        ax.set_title(name, fontsize=8)
    return save_figure(fig, path, title)
