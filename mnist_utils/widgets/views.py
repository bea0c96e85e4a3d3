"""What the training panel shows, as plain data: the curves as a PNG output, the runs table, the summary.

Kept free of ipywidgets so each piece can be tested on its own. The plot uses matplotlib's object API
(``Figure``), never pyplot: the panel draws from a background thread, and a pyplot figure made there would
also be picked up by the inline backend and shown in whatever cell runs next.
"""
from __future__ import annotations

import base64
import html
import io



def history_png(history, title: str = "") -> bytes:
    """Train/validation loss (left) and validation accuracy (right) per epoch, as PNG bytes."""
    from matplotlib.figure import Figure

    from ..plots import draw_history

    fig = draw_history(Figure(figsize=(9, 3.2), dpi=90), history, title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def png_output(png: bytes, text: str = "training curves") -> dict:
    """One Jupyter ``display_data`` output holding ``png``: what an ``Output`` widget's ``outputs`` holds.

    Setting ``Output.outputs`` directly (instead of ``with output: display(...)``) works from any thread and
    even without a kernel, because it does not depend on which cell the kernel is executing.
    """
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<{text}>"}}


def percent(fraction) -> str:
    return "–" if fraction is None else f"{100 * fraction:.2f} %"


def summary_html(run: dict) -> str:
    """One line about a finished run: its test accuracy and how long it took."""
    ended = {"stopped": " (stopped early)", "diverged": " (diverged)"}.get(run["ended"], "")
    if run["test_acc"] is None:
        why = "the loss became NaN" if run["ended"] == "diverged" else "not one full epoch trained"
        result = f"no test accuracy ({why})"
    else:
        result = f"test accuracy <b>{percent(run['test_acc'])}</b> on {run['test_images']:,} test images"
    return (f"<b>Run {run['run']}</b> ({run['model']}): {result}, after {run['epochs']} of "
            f"{run['epochs_asked']} epochs in {run['seconds']:.1f} s{ended}")


RUN_COLUMNS = [  # (header, how to show one run)
    ("Run", lambda r: r["run"]),
    ("Model", lambda r: r["model"]),
    ("Epochs", lambda r: f"{r['epochs']}/{r['epochs_asked']}"),
    ("Batch", lambda r: r["batch_size"]),
    ("Learning rate", lambda r: f"{r['lr']:.2g}"),
    ("Optimizer", lambda r: r["optimizer"]),
    ("Hidden", lambda r: "–" if r["hidden"] is None else "-".join(map(str, r["hidden"]))),
    ("Dropout", lambda r: "–" if r["dropout"] is None else f"{r['dropout']:.2f}"),
    ("Train images", lambda r: f"{r['train_subset']:,}"),
    ("Seed", lambda r: r["seed"]),
    ("Val acc", lambda r: percent(r["val_acc"])),
    ("Test acc", lambda r: percent(r["test_acc"])),
    ("Time", lambda r: f"{r['seconds']:.1f} s"),
    ("Ended", lambda r: r["ended"]),
]


def runs_table_html(runs: list[dict]) -> str:
    """The runs of this session side by side; the best test accuracy in bold."""
    if not runs:
        return "<i>No runs yet: each run you make is added here to compare settings.</i>"
    scored = [r["test_acc"] for r in runs if r["test_acc"] is not None]
    best = max(scored) if scored else None
    cell = "padding:2px 8px;text-align:right;border-bottom:1px solid #ddd"
    head = "".join(f"<th style='{cell}'>{html.escape(name)}</th>" for name, _ in RUN_COLUMNS)
    rows = []
    for run in runs:
        weight = "font-weight:bold;" if best is not None and run["test_acc"] == best else ""
        cells = "".join(f"<td style='{cell}'>{html.escape(str(show(run)))}</td>" for _, show in RUN_COLUMNS)
        rows.append(f"<tr style='{weight}'>{cells}</tr>")
    return (f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def error_html(message: str) -> str:
    return f"<span style='color:#c62828'>⚠ {html.escape(message)}</span>" if message else ""
