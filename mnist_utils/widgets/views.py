"""What the training panel shows: the curves as PNG, the summary, the runs table. The plot uses matplotlib's
``Figure``, not pyplot: a pyplot figure made in the panel's thread would also show in the next cell run."""
import base64
import html
import io

import pandas as pd
from matplotlib.figure import Figure

from ..plots import draw_history


def plot_output(history, title: str = "") -> dict:
    """The curves as a Jupyter output for ``Output.outputs``: unlike ``with output:``, works from any thread."""
    draw_history(Figure(figsize=(9, 3.2), dpi=90), history, title).savefig(buffer := io.BytesIO(), format="png")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": png, "text/plain": "<curves>"}}


def percent(fraction) -> str:
    return "–" if fraction is None else f"{100 * fraction:.2f} %"


def summary_html(run: dict) -> str:
    why = "the loss became NaN" if run["ended"] == "diverged" else "not one full epoch"
    result = (f"test accuracy <b>{percent(run['test_acc'])}</b> on {run['test_images']:,} test images"
              if run["test_acc"] is not None else f"no test accuracy ({why})")
    ended = {"stopped": " (stopped early)", "diverged": " (diverged)"}.get(run["ended"], "")
    return (f"<b>Run {run['run']}</b> ({run['model']}): {result}, after {run['epochs']} of "
            f"{run['epochs_asked']} epochs in {run['seconds']:.1f} s{ended}")


def runs_table_html(runs: list[dict]) -> str:
    """The runs of this session side by side; the best test accuracy in bold."""
    if not runs:
        return "<i>No runs yet: each run you make is added here to compare settings.</i>"
    best = max(r["test_acc"] or 0 for r in runs)
    rows = [{"Run": r["run"], "Model": r["model"], "Epochs": f"{r['epochs']}/{r['epochs_asked']}",
             "Batch": r["batch_size"], "Learning rate": f"{r['lr']:.2g}", "Optimizer": r["optimizer"],
             "Hidden": "–" if r["hidden"] is None else "-".join(map(str, r["hidden"])),
             "Dropout": "–" if r["dropout"] is None else f"{r['dropout']:.2f}",
             "Train images": f"{r['train_subset']:,}", "Seed": r["seed"], "Val acc": percent(r["val_acc"]),
             "Test acc": f"<b>{percent(best)}</b>" if r["test_acc"] == best else percent(r["test_acc"]),
             "Time": f"{r['seconds']:.1f} s", "Ended": r["ended"]} for r in runs]
    table = pd.DataFrame(rows).to_html(index=False, border=0, escape=False)  # escape=False: the bold; no user text
    return f"<style>.mnist-panel-runs :is(th, td) {{padding:0 6px;text-align:right;white-space:nowrap}}</style>{table}"


def error_html(message: str) -> str:
    return f"<span style='color:#c62828'>⚠ {html.escape(message)}</span>" if message else ""
