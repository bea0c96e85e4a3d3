"""What the training panel shows, as values its widgets take: the curves as a PNG output, the
summary
of a run, the table of runs, an error line."""

import base64
import html
import io

import pandas as pd
from matplotlib.figure import (
    Figure,
)  # not pyplot: a pyplot figure made in a thread shows in the next cell

from ..plots import draw_history

CELL_STYLE = "padding:0 6px;text-align:right;white-space:nowrap"
TABLE_STYLE = f"<style>.mnist-panel-runs :is(th, td) {{{CELL_STYLE}}}</style>"


def plot_output(history, title: str = "") -> dict:
    """The curves as a Jupyter output for ``Output.outputs``: unlike ``with output:``, works from
    any
    thread."""
    figure = draw_history(Figure(figsize=(9, 3.2), dpi=90), history, title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    data = {"image/png": png, "text/plain": "<curves>"}
    return {"output_type": "display_data", "metadata": {}, "data": data}


def percent(fraction) -> str:
    if fraction is None:
        return "–"
    return f"{100 * fraction:.2f} %"


def summary_html(run: dict) -> str:
    """One line on a finished run: its test accuracy (or why there is none), epochs and time."""
    if run["test_acc"] is not None:
        result = (
            f"test accuracy <b>{percent(run['test_acc'])}</b> on {run['test_images']:,} test images"
        )
    elif run["ended"] == "diverged":
        result = "no test accuracy (the loss became NaN)"
    else:
        result = "no test accuracy (not one full epoch)"
    ending = {"stopped": " (stopped early)", "diverged": " (diverged)"}.get(run["ended"], "")
    return (
        f"<b>Run {run['run']}</b> ({run['model']}): {result}, after {run['epochs']} of "
        f"{run['epochs_asked']} epochs in {run['seconds']:.1f} s{ending}"
    )


def table_row(run: dict, best_test_acc: float) -> dict:
    """A run as a row of the runs table; the best test accuracy in bold."""
    test_acc = percent(run["test_acc"])
    if run["test_acc"] == best_test_acc:
        test_acc = f"<b>{test_acc}</b>"
    hidden = "–"
    if run["hidden"] is not None:
        hidden = "-".join(str(size) for size in run["hidden"])
    dropout = "–"
    if run["dropout"] is not None:
        dropout = f"{run['dropout']:.2f}"
    return {
        "Run": run["run"],
        "Model": run["model"],
        "Epochs": f"{run['epochs']}/{run['epochs_asked']}",
        "Batch": run["batch_size"],
        "Learning rate": f"{run['lr']:.2g}",
        "Optimizer": run["optimizer"],
        "Hidden": hidden,
        "Dropout": dropout,
        "Train images": f"{run['train_subset']:,}",
        "Seed": run["seed"],
        "Val acc": percent(run["val_acc"]),
        "Test acc": test_acc,
        "Time": f"{run['seconds']:.1f} s",
        "Ended": run["ended"],
    }


def runs_table_html(runs: list[dict]) -> str:
    """The runs of this session side by side, to compare settings."""
    if not runs:
        return "<i>No runs yet: each run you make is added here to compare settings.</i>"
    best_test_acc = max(run["test_acc"] or 0 for run in runs)
    rows = [table_row(run, best_test_acc) for run in runs]
    # escape=False keeps the bold; the table holds no text a user typed
    table = pd.DataFrame(rows).to_html(index=False, border=0, escape=False)
    return TABLE_STYLE + table


def error_html(message: str) -> str:
    if not message:
        return ""
    return f"<span style='color:#c62828'>⚠ {html.escape(message)}</span>"
