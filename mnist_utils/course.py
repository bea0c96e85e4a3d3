"""The course notebooks' output folders and figures, the same from any folder and under any runner (JupyterLab
starts the kernel in notebooks/, papermill wherever it was launched). Nothing lands in a tracked file unless asked."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .data import PROJECT_ROOT
from .validation import check_bool


def output_folder(folder, default: str, name: str) -> Path:
    """``folder`` (relative: to this folder if there, else to the project root), or ``default`` under the root."""
    if folder is not None and (not isinstance(folder, (str, os.PathLike)) or str(folder) == ""):
        raise TypeError(f"{name} must be a folder path (a string) or None, got {folder!r} ({type(folder).__name__})")
    path = PROJECT_ROOT / default if folder is None else Path(folder).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        path = PROJECT_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


@dataclass
class FigureSaver:
    folder: Path
    names: list[str] = field(default_factory=list)  # the figures written so far
    def path(self, name: str) -> Path:
        self.names.append(name)
        return self.folder / name


def figure_saver(figure_dir=None, readme: bool = False) -> FigureSaver:
    """Figures go to ``figure_dir``, by default ``runs/notebooks/figures/`` (ignored by git); ``readme=True``
    (a notebook's ``WRITE_README_FIGURES``) writes them into ``img/``, the pictures the README shows."""
    if check_bool("WRITE_README_FIGURES", readme, hint=" (papermill: -p WRITE_README_FIGURES True)"):
        figure_dir = PROJECT_ROOT / "img"
    return FigureSaver(output_folder(figure_dir, "runs/notebooks/figures", "FIGURE_DIR"))


def epoch_printer(label: str = ""):
    """A ``fit`` callback that prints one line per epoch, so a long run shows it is alive."""
    def show(h) -> None:
        parts = [f"epoch {h.epochs}", f"train loss {h.train_loss[-1]:.4f}"]
        if h.val_loss:
            parts += [f"val loss {h.val_loss[-1]:.4f}", f"val accuracy {100 * h.val_acc[-1]:.2f} %"]
        print(f"{label}: " * bool(label) + " | ".join(parts + [f"{h.seconds[-1]:.0f} s"]), flush=True)
    return show
