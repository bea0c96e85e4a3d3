"""The drawing pad in real JupyterLab and headless Chromium: Playwright draws a "1" and a "0" with the mouse.

Reuses test_browser.py's page fixture and helpers; this module's own ``lab`` serves a one-cell notebook that opens
a ``DrawingPad`` on a tiny model trained here (the fast recipe, one epoch on 10,000 images: seconds).
"""

from __future__ import annotations

import math

import nbformat
import pytest
from lab_server import jupyter_lab
from playwright.sync_api import expect
from test_browser import WIDGET_MS, WIDGETS_OFF, page, run_all_cells  # noqa: F401 (page is a fixture)

from mnist_utils import RECIPES, fit, load_mnist, save_model

pytestmark = pytest.mark.browser


@pytest.fixture
def lab(tmp_path, data_dir):
    root = tmp_path / "root"
    model, _ = fit(
        "fast",
        load_mnist(data_dir, train_subset=10_000, val_size=0),
        RECIPES["fast"].config,
        progress=False,
    )
    save_model(model, root / "model")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'from mnist_utils.widgets.draw import DrawingPad\n\npad = DrawingPad("model")\npad'
            )
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "draw.ipynb")
    with jupyter_lab(
        tmp_path / "jupyter",
        root,
        {"MNIST_DATA_DIR": str(data_dir)},
        disable_widget_manager=WIDGETS_OFF,
    ) as server:
        yield server


def draw(tab, box, points) -> None:
    """One pen stroke through ``points`` given in the pad's own 280-pixel coordinates."""
    scale = box["width"] / 280
    at = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points]
    tab.mouse.move(*at[0])
    tab.mouse.down()
    for x, y in at[1:]:
        tab.mouse.move(x, y, steps=3)
    tab.mouse.up()


def test_drawing_pad_reads_a_one_and_a_zero(lab, page):  # noqa: F811 (the fixture)
    page.goto(f"{lab.url}/lab/tree/draw.ipynb?reset&token={lab.token}")
    run_all_cells(page)
    canvas = page.locator("canvas.mnist-draw-canvas, .mnist-draw-canvas canvas").last
    expect(canvas, "the DrawingPad widget did not render").to_be_visible(timeout=WIDGET_MS)
    answer = page.locator(".mnist-draw-answer")
    expect(answer).to_contain_text(
        "Draw a digit with the mouse"
    )  # blank pad: a message, not a traceback
    box = canvas.bounding_box()

    draw(page, box, [(140, 40 + 10 * i) for i in range(21)])  # a "1": one stroke down
    expect(answer).to_contain_text("Read: 1")
    expect(page.locator(".mnist-draw-bars span")).to_have_count(10)  # the ten probabilities
    expect(page.locator(".mnist-draw-seen")).to_be_visible()  # the 28x28 image the model received

    page.locator(".mnist-draw-button").click()
    expect(answer).to_contain_text("Draw a digit with the mouse")
    expect(page.locator(".mnist-draw-bars span")).to_have_count(0)

    draw(
        page,
        box,
        [
            (140 + 70 * math.sin(t / 12 * math.pi), 140 - 100 * math.cos(t / 12 * math.pi))
            for t in range(25)
        ],
    )  # a "0": one oval stroke
    expect(answer).to_contain_text("Read: 0")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
