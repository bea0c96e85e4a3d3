"""Test-session defaults for `pytest` run from the project root (unit tests and nbval notebooks alike).

- MNIST is found as everywhere else: $MNIST_DATA_DIR, else data/ at the project root.
- Notebooks run in their quick mode (MNIST_QUICK=1: one short epoch on a few thousand images).
- No progress bars in test logs.
Variables already set in the environment win.
"""
import os

os.environ.setdefault("MNIST_QUICK", "1")
os.environ.setdefault("MNIST_NO_PROGRESS", "1")
