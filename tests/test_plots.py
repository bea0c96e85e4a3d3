import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from mnist_utils import History, plot_history, plot_misclassified
from mnist_utils.plots import draw_history


def _is_png(path):
    with Image.open(path) as img:
        return img.format == "PNG" and img.size[0] > 100


def _history(batch_lr=(), batches_per_epoch=4):
    """Three epochs; ``batches_per_epoch`` > 0 adds a per-batch loss falling from 1 to 0.1."""
    return History(
        train_loss=[0.5, 0.3, 0.2],
        train_acc=[0.85, 0.93, 0.96],
        val_loss=[0.4, 0.35, 0.3],
        val_acc=[0.9, 0.95, 0.97],
        seconds=[1, 1, 1],
        batch_loss=list(np.linspace(1, 0.1, 3 * batches_per_epoch)),
        batch_lr=list(batch_lr),
    )


def test_plot_history_draws_losses_and_accuracy(tmp_path):
    fig = plot_history(_history(batches_per_epoch=0), path=tmp_path / "img" / "results.png")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == [
        "train",
        "validation",
    ]  # no per-batch curve
    assert loss_ax.get_yscale() == "log"  # late epochs' small losses stay visible
    train_acc, val_acc = acc_ax.get_lines()
    assert list(train_acc.get_ydata()) == pytest.approx([85, 93, 96])
    assert list(val_acc.get_ydata()) == pytest.approx([90, 95, 97])
    assert _is_png(tmp_path / "img" / "results.png")
    assert [p.name for p in (tmp_path / "img").iterdir()] == [
        "results.png"
    ]  # no temp file left behind


@pytest.mark.parametrize("per_epoch", [4, 30])
def test_history_draws_the_per_batch_loss_at_fractional_epochs(per_epoch):
    history = _history(batches_per_epoch=per_epoch)
    lines = {line.get_label(): line for line in plot_history(history).axes[0].get_lines()}
    assert set(lines) == {"train (per batch)", "train", "validation"}
    x, y = lines["train (per batch)"].get_data()
    assert np.diff(x) == pytest.approx(np.full(len(x) - 1, 1 / per_epoch))  # one step per batch
    assert x[-1] == pytest.approx(3)  # the last batch ends epoch 3, where the epoch's point is
    assert min(history.batch_loss) <= y.min() and y.max() <= max(history.batch_loss)
    assert list(lines["train"].get_data()[0]) == [1, 2, 3]


@pytest.mark.parametrize(
    "batch_lr, lr_axes", [((), False), ([1e-3] * 12, False), (np.linspace(1e-4, 1e-2, 12), True)]
)
def test_learning_rate_axes_only_when_the_rate_changes(batch_lr, lr_axes):
    fig = Figure()  # as the training panel draws: no pyplot figure may appear
    before = plt.get_fignums()
    draw_history(fig, _history(batch_lr), "run 1")
    assert plt.get_fignums() == before
    assert len(fig.axes) == (3 if lr_axes else 2)
    if lr_axes:
        x, y = fig.axes[2].get_lines()[0].get_data()
        assert list(y) == pytest.approx(batch_lr) and x[-1] == pytest.approx(3)


def test_misclassified_gallery_shows_only_the_mistakes(small_data, tmp_path):
    x, y = small_data.val
    predicted = y.clone()
    predicted[:3] = (y[:3] + 1) % 10  # exactly three mistakes
    probs = torch.full((len(y), 10), 0.1)
    gallery = plot_misclassified(x, y, predicted, probs, path=tmp_path / "wrong.png")
    titled = [ax.get_title() for ax in gallery.axes if ax.images]
    assert len(titled) == 3 and titled[0].startswith(f"{int(y[0])} → {int(predicted[0])}")
    perfect = plot_misclassified(x, y, y, probs)
    assert not any(ax.images for ax in perfect.axes) and perfect.get_suptitle()
    assert _is_png(tmp_path / "wrong.png")
