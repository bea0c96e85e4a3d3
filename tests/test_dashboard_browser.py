"""Watching a study: Optuna's dashboard (``optuna-dashboard``, pinned in requirements.txt) on a
small finished grid, opened in headless Debian Chromium through Playwright.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; never ``playwright install``). Run
alone with ``pytest -m browser tests/test_dashboard_browser.py``; it leaves its screenshot in
tests/output/dashboard.png, which img/dashboard_screenshot.sh copies into img/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from lab_server import CHROMIUM, CHROMIUM_ARGS, free_port, stop, wait_until_answering
from playwright.sync_api import expect, sync_playwright

from mnist_utils import load_mnist
from mnist_utils.grid_search import grid_search

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "output"  # git-ignored
STUDY = "seed-grid"
GRID = {"lr": [1e-3, 1e-4], "optimizer": ["adam", "sgd"]}
# Generous ceilings, not pauses: two CPU cores shared with other work make everything slow.
SERVER_START_S = 60
PAGE_MS = 60_000


def dashboard_command() -> str:
    """The ``optuna-dashboard`` script beside this Python (the virtualenv's), else on the PATH."""
    beside = Path(sys.executable).with_name("optuna-dashboard")
    if beside.is_file():
        return str(beside)
    on_path = shutil.which("optuna-dashboard")
    assert on_path, "optuna-dashboard is missing: pip install -r requirements.txt"
    return on_path


@pytest.fixture
def storage(tmp_path):
    return f"sqlite:///{tmp_path}/grid.db"


@pytest.fixture
def finished_study(data_dir, storage):
    """A small grid, trained for real: four settings, two MLP epochs each on 300 images."""
    data = load_mnist(data_dir, train_subset=300, val_size=200, seed=0)
    grid_search(data, GRID, model="mlp", epochs=2, batch_size=50, storage=storage, study=STUDY)
    return optuna.load_study(study_name=STUDY, storage=storage)


@pytest.fixture
def dashboard(finished_study, storage, tmp_path):
    """``optuna-dashboard STORAGE --host 127.0.0.1 --port N`` (the README's); yield its URL."""
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    command = [dashboard_command(), storage, "--host", "127.0.0.1", "--port", port]
    log_path = tmp_path / "dashboard.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_answering(
            "optuna-dashboard", f"{url}/api/studies", process, log_path, SERVER_START_S
        )
        yield url
    finally:
        stop(process)


@pytest.fixture
def page():
    if not CHROMIUM.is_file():
        message = (
            f"{CHROMIUM} not found; install Debian's Chromium with: apt-get install -y chromium"
        )
        if os.environ.get("CI"):  # CI installs it (.ci/run): missing there is a failure
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1550})  # down to Best Trial
            page.set_default_timeout(PAGE_MS)
            yield page
        finally:
            browser.close()


# page first: without Chromium the test skips before it trains
def test_the_dashboard_shows_the_grids_trials_and_best_value(page, finished_study, dashboard):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    best = finished_study.best_trial
    try:
        page.goto(f"{dashboard}/dashboard")
        page.get_by_role("link", name=STUDY).click()  # the list of studies, then the grid's own
        expect(page).to_have_url(re.compile(r"/dashboard/studies/\d+$"))
        study_page = page.url
        best_card = page.get_by_text(f"Best Trial (number={best.number})")
        expect(best_card).to_be_visible()
        # the value as JavaScript prints a float: Python's repr gives the same shortest digits
        expect(page.get_by_text(repr(best.value), exact=True)).to_be_visible()
        page.screenshot(path=OUTPUT / "dashboard.png")

        page.goto(f"{study_page}/trials")  # Trials (List)
        expect(page.get_by_text(f"{len(finished_study.trials)} Trials")).to_be_visible()
        for trial in finished_study.trials:
            entry = page.get_by_role("button").filter(
                has_text=re.compile(rf"^Trial {trial.number}(?!\d)")
            )
            expect(entry).to_contain_text("Complete")
        best_entry = page.get_by_role("button").filter(has_text="Best Trial")
        expect(best_entry).to_have_count(1)
        expect(best_entry).to_contain_text(f"Trial {best.number}")
    except BaseException:
        page.screenshot(path=OUTPUT / "dashboard-failure.png", full_page=True)
        print(f"screenshot of the failure: {OUTPUT / 'dashboard-failure.png'}")
        raise
