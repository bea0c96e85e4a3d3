"""``python -m mnist_utils``: the command line (cli.py)."""

import os

from .cli import main

# main has closed its files and flushed its output: exit now, skipping the interpreter's
# teardown of torch's modules (0.6 s); cli.main itself returns, for tests and notebooks
os._exit(main())
