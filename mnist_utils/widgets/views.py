"""What the training panel shows, without ipywidgets: the curves as PNG, the summary, the runs table. The plot uses
matplotlib's ``Figure``, not pyplot: a pyplot figure made in the panel's thread would also show in the next cell run."""
import base64
import html
import io

from matplotlib.figure import Figure

from ..plots import draw_history


def plot_output(history, title: str = "") -> dict:
    """The curves as a Jupyter output for ``Output.outputs``: unlike ``with output:``, works from any thread."""
    buffer = io.BytesIO()
    draw_history(Figure(figsize=(9, 3.2), dpi=90), history, title).savefig(buffer, format="png")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": png, "text/plain": "<curves>"}}


def percent(fraction) -> str:
    return "–" if fraction is None else f"{100 * fraction:.2f} %"


def summary_html(run: dict) -> str:
    result = f"test accuracy <b>{percent(run['test_acc'])}</b> on {run['test_images']:,} test images"
    if run["test_acc"] is None:
        result = f"no test accuracy ({'the loss became NaN' if run['ended'] == 'diverged' else 'not one full epoch'})"
    ended = {"stopped": " (stopped early)", "diverged": " (diverged)"}.get(run["ended"], "")
    return (f"<b>Run {run['run']}</b> ({run['model']}): {result}, after {run['epochs']} of "
            f"{run['epochs_asked']} epochs in {run['seconds']:.1f} s{ended}")


def table_row(r: dict) -> dict:
    """One run as the runs table shows it: column header -> text."""
    return {"Run": r["run"], "Model": r["model"], "Epochs": f"{r['epochs']}/{r['epochs_asked']}",
            "Batch": r["batch_size"], "Learning rate": f"{r['lr']:.2g}", "Optimizer": r["optimizer"],
            "Hidden": "–" if r["hidden"] is None else "-".join(map(str, r["hidden"])),
            "Dropout": "–" if r["dropout"] is None else f"{r['dropout']:.2f}",
            "Train images": f"{r['train_subset']:,}", "Seed": r["seed"], "Val acc": percent(r["val_acc"]),
            "Test acc": percent(r["test_acc"]), "Time": f"{r['seconds']:.1f} s", "Ended": r["ended"]}


def runs_table_html(runs: list[dict]) -> str:
    """The runs of this session side by side; the best test accuracy in bold."""
    if not runs:
        return "<i>No runs yet: each run you make is added here to compare settings.</i>"
    best = max((run["test_acc"] for run in runs if run["test_acc"] is not None), default=None)
    cell = "padding:2px 8px;text-align:right;border-bottom:1px solid #ddd"
    head = "".join(f"<th style='{cell}'>{name}</th>" for name in table_row(runs[0]))
    rows = ""
    for run in runs:
        bold = "font-weight:bold" if best is not None and run["test_acc"] == best else ""
        cells = "".join(f"<td style='{cell}'>{html.escape(str(text))}</td>" for text in table_row(run).values())
        rows += f"<tr style='{bold}'>{cells}</tr>"
    return (f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def error_html(message: str) -> str:
    return f"<span style='color:#c62828'>⚠ {html.escape(message)}</span>" if message else ""
