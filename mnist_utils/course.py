"""Small helpers that let the course notebooks run the same from any folder and under any runner.

JupyterLab and nbval start the kernel in ``notebooks/``; papermill starts it wherever papermill was
launched (usually the project root). Paths a learner passes (``DATA_DIR="../shared/data"``) and the
folders the notebooks write to (``img/``, ``notebooks/output/``) are resolved here so both work.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .data import PROJECT_ROOT
from .validation import check_bool


def course_root(start: str | os.PathLike | None = None) -> Path:
    """The project folder: the nearest folder at or above ``start`` (default: the current folder)
    that holds both ``notebooks/`` and ``mnist_utils/``; else the installed package's project."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "mnist_utils").is_dir():
            return folder
    return PROJECT_ROOT


def _check_path(name: str, value) -> Path:
    if not isinstance(value, (str, os.PathLike)) or str(value) == "":
        raise TypeError(f"{name} must be a folder path (a string) or None, got {value!r} "
                        f"({type(value).__name__}); pass e.g. {name}='../shared/data'")
    return Path(value).expanduser()


def find_data_dir(data_dir, name: str = "DATA_DIR") -> Path | None:
    """Resolve a notebook's ``DATA_DIR``. None stays None (``load_mnist`` then uses ``$MNIST_DATA_DIR``
    or ``data/``). A relative path is looked up from the current folder, then from the project root,
    then from ``notebooks/``, so ``../shared/data`` means the same under papermill and in JupyterLab."""
    if data_dir is None:
        return None
    path = _check_path(name, data_dir)
    if path.is_absolute():
        return path
    root = course_root()
    for base in (Path.cwd(), root, root / "notebooks"):
        if (base / path).is_dir():
            return (base / path).resolve()
    return (Path.cwd() / path).resolve()  # missing everywhere: load_mnist explains (or downloads)


def output_folder(folder, default: str, name: str) -> Path:
    """A folder the notebook writes to: ``folder`` if given (relative to the current folder),
    else ``default`` relative to the project root. It is created if missing."""
    path = course_root() / default if folder is None else _check_path(name, folder).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_flag(name: str, value) -> bool:
    """A notebook's True/False knob, with the papermill spelling in the message."""
    return check_bool(name, value, hint=f" (papermill: -p {name} False)")


@dataclass
class FigureSaver:
    """Where a notebook's figures go: ``folder``, or nowhere when saving is off (quick mode, CI)."""

    folder: Path | None
    names: list[str] = field(default_factory=list)  # the figures handed a path so far

    def path(self, name: str) -> Path | None:
        """The file for figure ``name``, or None (show the figure, write nothing)."""
        if self.folder is None:
            return None
        self.names.append(name)
        return self.folder / name


def figure_saver(save_figures, figure_dir=None) -> FigureSaver:
    """``SAVE_FIGURES``/``FIGURE_DIR`` -> a :class:`FigureSaver`; the default folder is ``img/``."""
    if not check_flag("SAVE_FIGURES", save_figures):
        return FigureSaver(None)
    return FigureSaver(output_folder(figure_dir, "img", "FIGURE_DIR"))


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


def print_summary(notebook: str, **values) -> dict:
    """Print the notebook's results as one JSON line (tests and the README table read it)."""
    summary = {"notebook": notebook, **values}
    print(json.dumps(summary, default=str))
    return summary
