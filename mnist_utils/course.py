"""Small helpers that let the course notebooks run the same from any folder and under any runner.

JupyterLab and nbval start the kernel in the notebook's folder; papermill starts it wherever papermill was
launched (usually the project root). The folders the notebooks write to (``runs/notebooks/`` by default,
ignored by git) are resolved here so both work.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .data import PROJECT_ROOT
from .validation import check_bool


def _check_path(name: str, value) -> Path:
    if not isinstance(value, (str, os.PathLike)) or str(value) == "":
        raise TypeError(f"{name} must be a folder path (a string) or None, got {value!r} "
                        f"({type(value).__name__}); pass e.g. {name}='../shared/data'")
    return Path(value).expanduser()


def output_folder(folder, default: str, name: str) -> Path:
    """A folder the notebook writes to, created if missing: ``folder`` if given, else ``default``, which is
    relative to the project root (``runs/...``, ignored by git). A relative ``folder`` is taken from the
    current folder when it exists there, else from the project root, like ``DATA_DIR``."""
    if folder is None:
        path = PROJECT_ROOT / default
    else:
        path = _check_path(name, folder)
        if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
            path = PROJECT_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def check_flag(name: str, value) -> bool:
    """A notebook's True/False knob, with the papermill spelling in the message."""
    return check_bool(name, value, hint=f" (papermill: -p {name} False)")


@dataclass
class FigureSaver:
    """Where a notebook's figures go: ``folder``, or nowhere when saving is off (``SAVE_FIGURES = False``)."""

    folder: Path | None
    names: list[str] = field(default_factory=list)  # the figures handed a path so far

    def path(self, name: str) -> Path | None:
        """The file for figure ``name``, or None (show the figure, write nothing)."""
        if self.folder is None:
            return None
        self.names.append(name)
        return self.folder / name


def figure_saver(save_figures, figure_dir=None) -> FigureSaver:
    """``SAVE_FIGURES``/``FIGURE_DIR`` -> a :class:`FigureSaver`. The default folder is
    ``runs/notebooks/figures/`` (ignored by git); ``FIGURE_DIR="img"`` refreshes the README's pictures."""
    if not check_flag("SAVE_FIGURES", save_figures):
        return FigureSaver(None)
    return FigureSaver(output_folder(figure_dir, "runs/notebooks/figures", "FIGURE_DIR"))


def epoch_printer(label: str = ""):
    """A ``fit`` callback that prints one line per epoch, so a long run shows it is alive."""
    prefix = f"{label}: " if label else ""

    def show(history) -> None:
        parts = [f"epoch {history.epochs}", f"train loss {history.train_loss[-1]:.4f}"]
        if history.val_loss:
            parts += [f"val loss {history.val_loss[-1]:.4f}", f"val accuracy {100 * history.val_acc[-1]:.2f} %"]
        parts.append(f"{history.seconds[-1]:.0f} s")
        print(prefix + " | ".join(parts), flush=True)

    return show
