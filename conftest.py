"""Test-session setup for `pytest` run from the project root (unit tests and notebooks alike).

- MNIST is found as everywhere else, by mnist_utils.data.resolve_data_dir: $MNIST_DATA_DIR, else data/ at the
  project root. Without it, each notebook's first cell fails with the resolver's one-line message and its other
  cells are skipped; the tests that need no data still run.
- No progress bars in test logs (MNIST_NO_PROGRESS=1 unless set).
- The kernels nbval and papermill start import this checkout's mnist_utils: the project root leads PYTHONPATH.
- MNIST_FIGURE_DIR is unset: a test never writes figures into img/. Each quick copy sets it, in its kernel, to
  its own temporary folder, where its checks look for the figures it drew.
- Each notebook runs once, under nbval, as a quick copy with checks appended, which tests/notebook_harness.py
  writes to tests/output/notebooks/ when a session that collects them starts. notebooks/ itself is not collected
  (nor runs/, where executed copies may lie); name a notebook on the command line to run it at its defaults.
Other variables already set in the environment win.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))
import notebook_harness as harness

collect_ignore = ["notebooks", "runs"]

os.environ.setdefault("MNIST_NO_PROGRESS", "1")
# figures go where each test says (the quick copies: their own temporary folder), never into img/ because a
# shell still holds the MNIST_FIGURE_DIR=img of img/regenerate.sh: tests write no tracked file
os.environ.pop("MNIST_FIGURE_DIR", None)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

_session: dict = {}  # the temporary folder the notebooks write into; whether MNIST is missing


def _collects_copies(config) -> bool:
    """Whether this session runs nbval over (a part of) tests/output/notebooks/."""
    if not (getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)):
        return False
    for arg in config.args:
        path = (Path(config.invocation_params.dir) / arg.split("::")[0]).resolve()
        if (
            path == harness.COPY_DIR
            or path in harness.COPY_DIR.parents
            or harness.COPY_DIR in path.parents
        ):
            return True
    return False


def pytest_configure(config):
    if not _collects_copies(config):
        return
    _session["files"] = Path(tempfile.mkdtemp(prefix="mnist-notebooks-"))
    try:
        harness.prepare_all(_session["files"])
    except (
        Exception
    ) as exc:  # a notebook papermill cannot parameterize: say so before collecting anything
        raise pytest.UsageError(
            f"could not write the notebooks' quick copies: {type(exc).__name__}: {exc}"
        ) from exc


def pytest_unconfigure(config):
    if "files" in _session:
        shutil.rmtree(_session.pop("files"), ignore_errors=True)


def _is_copy(item) -> bool:
    return item.path.suffix == ".ipynb" and item.path.parent == harness.COPY_DIR


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before the kernel starts: without MNIST, one clear line instead of a traceback in every cell."""
    if not _is_copy(item):
        return
    if "data_problem" not in _session:
        _session["data_problem"] = harness.data_problem()
    problem = _session["data_problem"]
    if problem is None:
        return
    if item.cell_num == 0:
        pytest.fail(problem, pytrace=False)
    pytest.skip(f"not run: MNIST is missing (see {item.path.name}::Cell 0)")


def pytest_terminal_summary(terminalreporter):
    """How many cells of which notebook nbval executed, so a notebook run twice would show."""
    cells: dict[str, int] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            path = getattr(report, "nodeid", "").split("::")[0]
            if path.endswith(".ipynb") and getattr(report, "when", None) == "call":
                cells[path] = cells.get(path, 0) + 1
    if not cells:
        return
    runs: dict[str, list[str]] = {}
    for path in cells:
        runs.setdefault(Path(path).stem, []).append(path)
    terminalreporter.write_sep("-", "notebooks executed by nbval")
    for path, count in cells.items():
        terminalreporter.write_line(f"{path}: {count} cells")
    twice = {name: paths for name, paths in runs.items() if len(paths) > 1}
    summary = f"{sum(cells.values())} notebook cells in {len(cells)} notebooks"
    if twice:
        summary += f"; ran more than once: {', '.join(sorted(twice))}"
    terminalreporter.write_line(summary)
