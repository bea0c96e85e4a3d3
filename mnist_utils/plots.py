"""Figures of the course; each function returns a matplotlib Figure and, with ``path``, also saves it atomically."""
from __future__ import annotations

import os

import numpy as np
import torch

from .atomic import atomic_path


def _pyplot():
    import matplotlib.pyplot as plt  # imported late: only the CLI's train draws, and the import takes a second

    return plt


def _finish(fig, path=None, title: str | None = None):
    """Title and lay out ``fig``; with ``path``, save it atomically (format from the suffix)."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=os.path.splitext(str(path))[1].lstrip(".") or "png", dpi=120, bbox_inches="tight")
    return fig


def _as_images(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().reshape(-1, 28, 28).numpy()


def _gallery(images, titles, cols: int, cell: tuple, cmap: str = "gray", **title_style):
    """Images in a grid ``cols`` wide, each with its title; a None image leaves its cell blank."""
    rows = max(1, -(-len(images) // cols))
    fig, axes = _pyplot().subplots(rows, cols, figsize=(cols * cell[0], rows * cell[1]), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images) and images[i] is not None:
            ax.imshow(images[i], cmap=cmap)
        if i < len(titles) and titles[i]:
            ax.set_title(titles[i], **{"fontsize": 8, **title_style})
    return fig


def _at_epochs(values, epochs: int) -> np.ndarray:
    """Fractional epochs of per-batch ``values``: batch i of n per epoch is at (i + 1) / n."""
    return np.arange(1, len(values) + 1) * max(epochs, 1) / len(values)


def draw_history(fig, history, title: str | None = None):
    """Loss per epoch and per batch, validation accuracy and a changing learning rate, onto an empty ``fig``."""
    lr = np.asarray(history.batch_lr, dtype=float)
    ratios = [1, 1, 0.6] if lr.size and lr.max() > lr.min() else [1, 1]  # a narrow third axes for a changing lr
    axes = fig.subplots(1, len(ratios), gridspec_kw={"width_ratios": ratios})
    epochs = len(history.train_loss)
    if history.batch_loss:
        window = min(10, len(history.batch_loss))  # a short running mean tames the batch-to-batch noise
        smooth = np.convolve(history.batch_loss, np.ones(window) / window, mode="valid")
        axes[0].plot(_at_epochs(history.batch_loss, epochs)[window - 1:], smooth, lw=0.7, alpha=0.4,
                     color="tab:blue", label="train (per batch)")
    axes[0].plot(range(1, epochs + 1), history.train_loss, "o-", color="tab:blue", label="train")
    if history.val_loss:
        axes[0].plot(range(1, len(history.val_loss) + 1), history.val_loss, "o-", color="tab:orange",
                     label="validation")
    if history.val_acc:
        axes[1].plot(range(1, len(history.val_acc) + 1), 100 * np.asarray(history.val_acc), "o-", color="tab:green")
    if len(ratios) == 3:
        axes[2].plot(_at_epochs(lr, epochs), lr, color="tab:purple")
    names = [("Loss", "cross-entropy loss"), ("Validation accuracy", "accuracy (%)"), ("Learning rate", "learning rate")]
    for ax, (name, ylabel) in zip(axes, names):
        ax.set(xlabel="epoch", ylabel=ylabel, title=name)
        ax.grid(alpha=0.3)
    for ax in axes[:2] if epochs else []:
        ax.set_xticks(range(1, epochs + 1))
    axes[0].legend()
    return _finish(fig, title=title)


def plot_history(history, path=None, title: str | None = None):
    """The curves of ``draw_history`` on a new pyplot figure."""
    return _finish(draw_history(_pyplot().figure(figsize=(10, 3.8)), history, title), path)


def plot_samples(x: torch.Tensor, y: torch.Tensor, per_digit: int = 8, path=None):
    """One row per digit 0-9 with ``per_digit`` examples of it."""
    images, labels = _as_images(x), y.cpu().numpy()
    cells, titles = [], []
    for digit in range(10):
        picks = np.flatnonzero(labels == digit)[:per_digit]
        cells += [images[i] for i in picks] + [None] * (per_digit - len(picks))
        titles += [str(digit)] + [""] * (per_digit - 1)
    return _finish(_gallery(cells, titles, per_digit, (0.9, 0.9), loc="left", fontsize=9, pad=2), path)


def plot_confusion_matrix(cm, path=None, title: str = "Confusion matrix (test set)"):
    """A seaborn heatmap of ``cm[true, predicted]``."""
    import seaborn as sns

    fig, ax = _pyplot().subplots(figsize=(7, 6))
    sns.heatmap(torch.as_tensor(cm).cpu().numpy(), annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax,
                annot_kws={"fontsize": 8})
    ax.set(xlabel="predicted digit", ylabel="true digit", title=title)
    return _finish(fig, path)


def plot_misclassified(x, y, predicted, probs, max_images: int = 24, path=None):
    """The misclassified digits, each titled 'true → predicted (confidence)'."""
    wrong = torch.nonzero(predicted.cpu() != y.cpu()).flatten()[:max_images]
    titles = [f"{int(y[i])} → {p} ({100 * float(probs[i, p]):.0f}%)"
              for i, p in zip(wrong.tolist(), predicted.cpu()[wrong].tolist())]
    fig = _gallery(_as_images(x[wrong]), titles, 8, (1.3, 1.5))
    return _finish(fig, path, None if titles else "no misclassified digits")


def plot_digits(x: torch.Tensor, titles: list[str], path=None, cols: int = 8):
    """Digits in rows of ``cols``, each with its own title, e.g. 'predicted 7 (99%)'."""
    images = _as_images(x)
    return _finish(_gallery(images, titles, min(cols, max(len(images), 1)), (1.4, 1.6)), path)


def plot_feature_maps(model, image: torch.Tensor, channels: int = 8, path=None):
    """The input digit, the first convolution's first ``channels`` filters and their outputs before the ReLU."""
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        maps = conv(image.reshape(1, 1, 28, 28).to(conv.weight))[0]  # no ReLU: negative responses stay visible
    channels = min(channels, len(maps))
    fig, axes = _pyplot().subplots(2, channels + 1, figsize=((channels + 1) * 1.3, 2.8))
    axes[0, 0].imshow(_as_images(image)[0], cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    for row, (name, values) in enumerate((("filter", conv.weight[:, 0]), ("output", maps))):
        for c, ax in enumerate(axes[row, 1:channels + 1]):
            cell = values[c].detach().float().cpu().numpy()
            limit = float(np.abs(cell).max()) or 1.0  # centred on 0: red positive, blue negative, white 0
            ax.imshow(cell, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"{name} {c}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    size = "x".join(map(str, conv.kernel_size))
    return _finish(fig, path, f"First convolution: {size} filters (top) and their outputs before the ReLU (bottom)")


def plot_grid_search(results, value: str = "val_acc", rows: str = "lr", cols: str = "batch_size",
                     panels: str | None = "optimizer", path=None):
    """Seaborn heatmaps of ``value`` (in %) for ``rows`` x ``cols``, one panel per ``panels`` value."""
    import seaborn as sns

    groups = list(results.groupby(panels, sort=False)) if panels in results else [(None, results)]
    fig, axes = _pyplot().subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False)
    scores = 100 * results[value].astype(float)
    for ax, (name, group) in zip(axes[0], groups):
        table = group.pivot_table(index=rows, columns=cols, values=value, aggfunc="mean") * 100
        sns.heatmap(table.sort_index(ascending=False), annot=True, fmt=".2f", cmap="viridis", vmin=scores.min(),
                    vmax=scores.max(), cbar=False, ax=ax)
        ax.set_title(f"{panels} = {name}" if name is not None else value)
    names = {"val_acc": "final validation accuracy", "best_val_acc": "best validation accuracy"}
    return _finish(fig, path, f"Grid search: {names.get(value, value.replace('_', ' '))} (%)")
