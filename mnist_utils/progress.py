"""Showing that training is alive: a progress bar over the batches, and a line per epoch."""

import os
import sys


def progress_bar(total: int, show: bool | None):
    """A tqdm bar in a terminal or a JupyterLab kernel; none under papermill, nbval or CI (or
    ``show=False``)."""
    from tqdm.auto import tqdm  # imported here: most runs show no bar

    if show is None:
        show = wants_progress_bar()
    return tqdm(total=total, disable=not show, unit="batch", leave=False)


def wants_progress_bar() -> bool:
    """Whether a person is watching: a terminal, or a kernel of Jupyter Server, and not CI or a test
    run."""
    if os.environ.get("CI") or os.environ.get("MNIST_NO_PROGRESS"):
        return False
    if "ipykernel" in sys.modules:
        # Jupyter Server sets JPY_SESSION_NAME for its kernels; papermill and nbclient do not
        return "JPY_SESSION_NAME" in os.environ
    return sys.stderr.isatty()


def epoch_printer(label: str = "", file=None):
    """A ``fit`` callback that prints one line per epoch to ``file`` (default: stdout)."""

    def print_epoch(history) -> None:
        parts = [f"epoch {history.epochs}", f"train loss {history.train_loss[-1]:.4f}"]
        if history.val_loss:
            parts.append(f"val loss {history.val_loss[-1]:.4f}")
            parts.append(f"val accuracy {100 * history.val_acc[-1]:.2f} %")
        parts.append(f"{history.seconds[-1]:.0f} s")
        line = " | ".join(parts)
        if label:
            line = f"{label}: {line}"
        print(line, file=file, flush=True)

    return print_epoch
