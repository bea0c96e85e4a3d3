"""The notebooks' output folders and figures: the same from any folder or runner, git-ignored unless asked."""
from pathlib import Path

from .data import PROJECT_ROOT
from .validation import check_bool


def output_folder(folder, default: str, name: str) -> Path:
    """``folder`` (relative: to this folder if there, else to the project root), or ``default`` under the root."""
    if folder is not None and (not isinstance(folder, (str, Path)) or str(folder) == ""):
        raise TypeError(f"{name} must be a folder path (a string) or None, got {folder!r} ({type(folder).__name__})")
    path = PROJECT_ROOT / default if folder is None else Path(folder).expanduser()
    path = PROJECT_ROOT / path if not (path.is_absolute() or path.exists()) and (PROJECT_ROOT / path).exists() else path
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


class FigureSaver:
    def __init__(self, folder: Path):
        self.folder, self.names = folder, []  # names: the figures written so far

    def path(self, name: str) -> Path:
        self.names.append(name)
        return self.folder / name


def figure_saver(figure_dir=None, readme: bool = False) -> FigureSaver:
    """Figures go to ``figure_dir`` (default runs/notebooks/figures/), or to the README's img/ with ``readme=True``."""
    if check_bool("WRITE_README_FIGURES", readme, hint=" (papermill: -p WRITE_README_FIGURES True)"):
        figure_dir = PROJECT_ROOT / "img"
    return FigureSaver(output_folder(figure_dir, "runs/notebooks/figures", "FIGURE_DIR"))


def epoch_printer(label: str = "", file=None):
    """A ``fit`` callback printing one line per epoch to ``file`` (default stdout), so a long run shows it is alive."""
    def show(h) -> None:
        val = f" | val loss {h.val_loss[-1]:.4f} | val accuracy {100 * h.val_acc[-1]:.2f} %" if h.val_loss else ""
        print(f"{label}: " * bool(label) + f"epoch {h.epochs} | train loss {h.train_loss[-1]:.4f}{val} | "
              f"{h.seconds[-1]:.0f} s", file=file, flush=True)
    return show
