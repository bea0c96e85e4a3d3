"""Where the project's files live: the project root, and the folders the notebooks write into.

The same from any folder or runner (a terminal at the root, JupyterLab in notebooks/, papermill),
and git-ignored: runs/ holds every output. ``img/regenerate.sh`` sets ``MNIST_FIGURE_DIR=img`` to
refresh the README's figures.
"""

import os
from pathlib import Path

# the checkout, which holds data/ and runs/; for an installed copy, the current folder
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if not (PROJECT_ROOT / "pyproject.toml").is_file():
    PROJECT_ROOT = Path.cwd()


def project_path(path: str | os.PathLike) -> Path:
    """``path`` as given, or under the project root when it is relative and only exists there.

    So "data" or "runs/cnn" mean the same in a terminal at the root and in a notebook in notebooks/.
    """
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    if (PROJECT_ROOT / path).exists():
        return PROJECT_ROOT / path
    return path


def output_folder(folder, default: str, name: str) -> Path:
    """``folder`` (see ``project_path``), or ``default`` under the project root; made, absolute."""
    if folder is None:
        path = PROJECT_ROOT / default
    elif isinstance(folder, (str, Path)) and str(folder) != "":
        path = project_path(folder)
    else:
        raise TypeError(
            f"{name} must be a folder path (a string) or None, "
            f"got {folder!r} ({type(folder).__name__})"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def figure_path(name: str) -> Path:
    """Where a notebook saves the figure ``name``: runs/notebooks/figures/, or $MNIST_FIGURE_DIR if
    set."""
    folder = os.environ.get("MNIST_FIGURE_DIR") or None
    return output_folder(folder, "runs/notebooks/figures", "MNIST_FIGURE_DIR") / name
