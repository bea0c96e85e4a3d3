"""Test-session defaults for `pytest` run from the project root (unit tests and nbval notebooks alike).

- MNIST comes from $MNIST_DATA_DIR, else ../shared/data beside the project (the CI layout).
- Notebooks run in their quick mode (MNIST_QUICK=1: one short epoch, no figures written into img/).
- No progress bars in test logs.
Variables already set in the environment win.
"""
import os
from pathlib import Path

_shared = Path(__file__).resolve().parent.parent / "shared" / "data"
if not os.environ.get("MNIST_DATA_DIR") and (_shared / "MNIST" / "raw").is_dir():
    os.environ["MNIST_DATA_DIR"] = str(_shared)
os.environ.setdefault("MNIST_QUICK", "1")
os.environ.setdefault("MNIST_NO_PROGRESS", "1")
