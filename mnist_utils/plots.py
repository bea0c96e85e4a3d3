"""Figures of the course; each function returns a matplotlib Figure and, with ``path``, also saves it atomically."""
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


def _gallery(images, titles, cols: int, cell=(1.4, 1.6), path=None, title=None, **title_style):
    """Digits in a grid ``cols`` wide, each with its title (a None leaves its cell blank); saved to ``path``."""
    rows = max(1, -(-len(images) // cols))
    fig, axes = _pyplot().subplots(rows, cols, figsize=(cols * cell[0], rows * cell[1]), squeeze=False)
    for ax, image, name in zip(axes.flat, [*images, *[None] * axes.size], [*titles, *[""] * axes.size]):
        ax.axis("off")
        if image is not None:
            ax.imshow(image.detach().float().cpu().reshape(28, 28).numpy(), cmap="gray")
        if name:
            ax.set_title(name, **{"fontsize": 8, **title_style})
    return _finish(fig, path, title)


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
    return _finish(fig, title=title)


def plot_history(history, path=None, title: str | None = None):
    """The curves of ``draw_history`` on a new pyplot figure."""
    return _finish(draw_history(_pyplot().figure(figsize=(10, 3.8)), history, title), path)


def plot_samples(x: torch.Tensor, y: torch.Tensor, per_digit: int = 8, path=None):
    """One row per digit 0-9 with ``per_digit`` examples of it."""
    picks = [torch.nonzero(y.cpu() == digit).flatten()[:per_digit] for digit in range(10)]
    cells = [x[p[i]] if i < len(p) else None for p in picks for i in range(per_digit)]
    titles = [str(digit) if i == 0 else "" for digit in range(10) for i in range(per_digit)]
    return _gallery(cells, titles, per_digit, (0.9, 0.9), path, loc="left", fontsize=9, pad=2)


def plot_confusion_matrix(cm, path=None, title: str = "Confusion matrix (test set)"):
    """A seaborn heatmap of ``cm[true, predicted]``."""
    import seaborn as sns

    fig, ax = _pyplot().subplots(figsize=(7, 6))
    sns.heatmap(torch.as_tensor(cm).cpu(), annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax, annot_kws={"size": 8})
    ax.set(xlabel="predicted digit", ylabel="true digit", title=title)
    return _finish(fig, path)


def plot_misclassified(x, y, predicted, probs, max_images: int = 24, path=None):
    """The misclassified digits, each titled 'true → predicted (confidence)'."""
    wrong = torch.nonzero(predicted.cpu() != y.cpu()).flatten()[:max_images]
    titles = [f"{int(y[i])} → {int(predicted[i])} ({100 * float(probs[i, predicted[i]]):.0f}%)" for i in wrong]
    return _gallery(x[wrong], titles, 8, (1.3, 1.5), path, None if titles else "no misclassified digits")


def plot_digits(x: torch.Tensor, titles: list[str], path=None, cols: int = 8):
    """Digits in rows of ``cols``, each with its own title, e.g. 'predicted 7 (99%)'."""
    return _gallery(x, titles, min(cols, max(len(x), 1)), path=path)


def plot_feature_maps(model, image: torch.Tensor, channels: int = 8, path=None):
    """The input digit, the first convolution's first ``channels`` filters and their outputs before the ReLU."""
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        maps = conv(image.reshape(1, 1, 28, 28).to(conv.weight))[0]  # no ReLU: negative responses stay visible
    channels = min(channels, len(maps))
    fig, axes = _pyplot().subplots(2, channels + 1, figsize=((channels + 1) * 1.3, 2.8),
                                   subplot_kw={"frame_on": False, "xticks": [], "yticks": []})  # no axes lines
    axes[0, 0].imshow(image.detach().float().cpu().reshape(28, 28).numpy(), cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    for row, (name, values) in enumerate((("filter", conv.weight[:channels, 0]), ("output", maps[:channels]))):
        for c, (ax, cell) in enumerate(zip(axes[row, 1:], values.detach().float().cpu().numpy())):
            limit = float(np.abs(cell).max()) or 1.0  # centred on 0: red positive, blue negative, white 0
            ax.imshow(cell, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"{name} {c}", fontsize=8)
    size = "x".join(map(str, conv.kernel_size))
    return _finish(fig, path, f"First convolution: {size} filters (top) and their outputs before the ReLU (bottom)")


def plot_grid_search(results, value: str = "val_acc", rows: str = "lr", cols: str = "batch_size",
                     panels: str | None = "optimizer", path=None):
    """Seaborn heatmaps of ``value`` (in %) for ``rows`` x ``cols``, one panel per ``panels`` value."""
    import seaborn as sns

    groups = list(results.groupby(panels, sort=False)) if panels in results else [(None, results)]
    fig, axes = _pyplot().subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False)
    for ax, (name, group) in zip(axes[0], groups):
        table = 100 * group.pivot_table(index=rows, columns=cols, values=value, aggfunc="mean")
        sns.heatmap(table.sort_index(ascending=False), annot=True, fmt=".2f", cmap="viridis", cbar=False, ax=ax,
                    vmin=100 * results[value].astype(float).min(), vmax=100 * results[value].astype(float).max())
        ax.set_title(value if name is None else f"{panels} = {name}")
    return _finish(fig, path, f"Grid search: {value.replace('val_acc', 'validation accuracy').replace('_', ' ')} (%)")
