"""A newcomer's first commands leave their clone clean: models, figures and notebook outputs go to runs/.

The test copies the project's tracked files (as they are in the working tree) into a fresh git repository,
puts MNIST at data/ the way a download leaves it, runs the README's commands there with their defaults, and
asserts that `git status --porcelain` is empty afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import papermill
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def git(*args, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def fresh_clone(target: Path) -> Path:
    target.mkdir()
    for name in git("ls-files", "-z", cwd=ROOT).split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    git("init", "-q", cwd=target)
    git("add", "-A", cwd=target)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "clone", cwd=target)
    return target


def test_readme_commands_leave_a_fresh_clone_clean(tmp_path, data_dir, monkeypatch):
    clone = fresh_clone(tmp_path / "clone")
    (clone / "data").symlink_to(
        data_dir, target_is_directory=True
    )  # MNIST where the download puts it
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv(
        "PYTHONPATH", str(clone)
    )  # the clone's package, also in the notebook's kernel
    env = dict(os.environ)

    def cli(*args):
        result = subprocess.run(
            [sys.executable, "-m", "mnist_utils", *map(str, args)],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli("train", "--model", "mlp", "--epochs", 1, "--train-subset", 2000)
    assert {p.name for p in (clone / "runs" / "mlp").iterdir()} >= {
        "mnist_model_state.pth",
        "mnist_model.json",
        "mnist_model_full.pth",
        "results.png",
    }
    assert "test accuracy" in cli("evaluate", "runs/mlp")
    digit = tmp_path / "digit.png"
    Image.fromarray(np.eye(28, dtype=np.uint8) * 255).save(digit)
    cli("predict", "runs/mlp", digit)
    # a notebook at its default output folders, figures on
    papermill.execute_notebook(
        str(clone / "notebooks" / "01_exploration.ipynb"),
        str(tmp_path / "01.out.ipynb"),
        cwd=str(clone / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    assert (clone / "runs" / "notebooks" / "figures" / "samples.png").is_file()

    assert git("status", "--porcelain", cwd=clone) == ""
