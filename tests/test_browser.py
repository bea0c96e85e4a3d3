"""The training panel in real JupyterLab, driven in headless Debian Chromium through Playwright.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; never ``playwright install``). Run alone with
``pytest -m browser``. The test starts its own ``jupyter lab`` on a quick copy of notebooks/02_mlp.ipynb (the
test harness's parameters, see notebook_harness.py) in a temporary folder (the committed notebook is never opened
for writing) and stops it afterwards.

To see it fail when widgets cannot render: ``MNIST_BROWSER_WIDGETS_OFF=1 pytest -m browser`` disables the
widget manager extension in the server's temporary config.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lab_server import CHROMIUM, CHROMIUM_ARGS, jupyter_lab
from notebook_harness import prepare
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_mlp.ipynb"
OUTPUT = ROOT / "tests" / "output"  # git-ignored
WIDGETS_OFF = os.environ.get("MNIST_BROWSER_WIDGETS_OFF") == "1"
# Generous: two CPU cores shared with other work make everything slow. Each is a ceiling, not a pause.
KERNEL_START_MS = 180_000
RUN_ALL_MS = 900_000
WIDGET_MS = 120_000
TRAINING_MS = 600_000
TEST_ACCURACY = re.compile(r"test accuracy \d{1,3}\.\d\d %")

KERNEL_IDLE = """() => {
  const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
  return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
}"""
# Start Run All and remember its outcome on the page: awaiting it inside evaluate() would have no timeout.
START_RUN_ALL = """() => {
  window.mnistRunAll = 'running';
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.mnistRunAll = ok === false ? 'failed' : 'done'; },
    error => { window.mnistRunAll = 'error: ' + error; });
}"""
CELL_ERRORS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(cell => cell.model.type === 'code')
  .flatMap(cell => cell.model.outputs.toJSON())
  .filter(output => output.output_type === 'error')
  .map(output => output.ename + ': ' + output.evalue)"""


@pytest.fixture
def lab(tmp_path, data_dir):
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: install Debian's Chromium with apt-get install -y chromium"
    )
    assert NOTEBOOK.is_file(), f"{NOTEBOOK} is missing"
    root = tmp_path / "root"
    root.mkdir()
    prepare("02_mlp", root / NOTEBOOK.name, checks=False)  # one quick epoch; figures off
    env = {"MNIST_DATA_DIR": str(data_dir)}
    with jupyter_lab(tmp_path / "jupyter", root, env, disable_widget_manager=WIDGETS_OFF) as server:
        yield server


@pytest.fixture
def page(lab):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(WIDGET_MS)
            yield page
        finally:
            browser.close()


def run_all_cells(page) -> None:
    page.wait_for_function(
        KERNEL_IDLE, timeout=KERNEL_START_MS
    )  # Run All before that opens a kernel dialog
    page.evaluate(START_RUN_ALL)
    page.wait_for_function(
        "() => window.mnistRunAll !== 'running'", timeout=RUN_ALL_MS, polling=500
    )
    errors = page.evaluate(CELL_ERRORS)
    assert not errors, f"cells of the quick copy failed: {errors}"
    assert page.evaluate("() => window.mnistRunAll") == "done"


def set_slider(page, css_class: str, *keys: str, readout: str) -> None:
    """Move a slider with its keyboard handle and check the readout the kernel sent back."""
    handle = page.locator(f".{css_class} .noUi-handle")
    handle.focus()
    for key in keys:
        handle.press(key)
    expect(page.locator(f".{css_class} .widget-readout")).to_have_text(readout)


def test_panel_trains_and_stops_in_jupyterlab(lab, page):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}?reset&token={lab.token}")
        run_all_cells(page)
        panel = page.locator(".mnist-panel")
        expect(panel, "the TrainingPanel widget did not render").to_be_visible(timeout=WIDGET_MS)
        panel.scroll_into_view_if_needed()

        # Run 1: two epochs at lr 10^-2.75 on 500 images. The sliders' own keyboard handling moves them.
        set_slider(page, "mnist-panel-epochs", "Home", "ArrowRight", readout="2")
        set_slider(page, "mnist-panel-lr", "ArrowRight", readout="0.0018")
        subset = page.locator(".mnist-panel-subset input")
        subset.fill("500")
        subset.press("Enter")
        page.locator(".mnist-panel-train").click()
        summary = page.locator(".mnist-panel-summary")
        expect(summary).to_contain_text("Run 1", timeout=TRAINING_MS)
        expect(summary).to_contain_text(TEST_ACCURACY)
        expect(page.locator(".mnist-panel-plot img")).to_be_visible()
        expect(page.locator(".mnist-panel-error")).to_have_text("")
        # the kernel trained with the values set in the browser: its runs table says so
        first_run = page.locator(".mnist-panel-runs tbody tr").nth(0)
        expect(first_run).to_contain_text("2/2")
        expect(first_run).to_contain_text("0.0018")
        expect(first_run).to_contain_text("500")

        # Run 2: 30 epochs on 20,000 images, stopped after the first. Stop works only if the kernel handles
        # the click while training; otherwise all 30 epochs run and the run is not marked stopped.
        set_slider(page, "mnist-panel-epochs", "End", readout="30")
        subset.fill("20000")
        subset.press("Enter")
        train = page.locator(".mnist-panel-train")
        expect(train).to_be_enabled()
        train.click()
        expect(page.locator(".mnist-panel-status")).to_contain_text(
            "Epoch 1/30 done", timeout=TRAINING_MS
        )
        page.locator(".mnist-panel-stop").click()
        expect(summary).to_contain_text("Run 2", timeout=TRAINING_MS)
        expect(summary).to_contain_text("(stopped early)")
        expect(summary).to_contain_text(TEST_ACCURACY)
        second_run = page.locator(".mnist-panel-runs tbody tr").nth(1)
        expect(second_run).to_contain_text("stopped")
        expect(second_run).not_to_contain_text("30/30")
        expect(page.locator(".mnist-panel-plot img")).to_be_visible()
        panel.screenshot(path=OUTPUT / "panel.png")
    except BaseException:
        page.screenshot(path=OUTPUT / "failure.png", full_page=True)
        print(
            f"screenshot of the failure: {OUTPUT / 'failure.png'}\njupyter lab log:\n{lab.log_tail()}"
        )
        raise
