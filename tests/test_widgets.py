"""The training panel driven from Python: knobs set in code, buttons clicked with ``.click()``.

In plain Python the buttons' handlers run and every widget's value changes as in a notebook; what only a
front end shows (the rendered views) is tested in test_browser.py. One test runs the panel in a real kernel
through nbclient, which records what the kernel sends as a front end would.
"""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

from mnist_utils.widgets import TrainingPanel

TEST_ACCURACY = re.compile(r"test accuracy <b>\d{1,3}\.\d\d %</b>")
CSS_CLASSES = [
    "mnist-panel",
    "mnist-panel-model",
    "mnist-panel-epochs",
    "mnist-panel-lr",
    "mnist-panel-batch-size",
    "mnist-panel-optimizer",
    "mnist-panel-hidden1",
    "mnist-panel-hidden2",
    "mnist-panel-dropout",
    "mnist-panel-subset",
    "mnist-panel-seed",
    "mnist-panel-train",
    "mnist-panel-stop",
    "mnist-panel-progress",
    "mnist-panel-status",
    "mnist-panel-error",
    "mnist-panel-plot",
    "mnist-panel-summary",
    "mnist-panel-runs",
]


def all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from all_widgets(child)


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def panel(data_dir):
    panel = TrainingPanel(model="mlp", data_dir=data_dir)
    yield panel
    panel.stop()  # never leave a training thread behind a failed test
    panel.wait(120)


def test_constructing_and_displaying_loads_and_trains_nothing(tmp_path):
    missing = tmp_path / "no-mnist-here"
    panel = TrainingPanel(model="mlp", data_dir=missing)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert not panel.running and panel.runs == [] and panel.history is None
    assert not missing.exists(), "displaying the panel must not try to load or download MNIST"
    assert "No runs yet" in panel.runs_table.value and panel.summary.value == ""


def test_every_control_carries_its_css_class(panel):
    classes = {cls for widget in all_widgets(panel) for cls in widget._dom_classes}
    assert set(CSS_CLASSES) <= classes, sorted(set(CSS_CLASSES) - classes)
    for widget in (panel.epochs, panel.lr, panel.dropout):
        assert widget.continuous_update is False


def test_initial_values_and_model_choice(data_dir):
    panel = TrainingPanel(
        model="mlp",
        data_dir=data_dir,
        epochs=2,
        lr=0.01,
        batch_size=100,
        hidden=(64, 32),
        dropout=0.1,
        train_subset=600,
        seed=3,
        optimizer="sgd",
    )
    assert panel.settings() == {
        "model": "mlp",
        "epochs": 2,
        "lr": 0.01,
        "batch_size": 100,
        "optimizer": "sgd",
        "hidden": (64, 32),
        "dropout": 0.1,
        "train_subset": 600,
        "seed": 3,
    }
    assert panel.mlp_box.layout.display is None
    panel.model_choice.value = "cnn"  # hidden units and dropout mean nothing for the CNN: hidden
    assert panel.mlp_box.layout.display == "none"
    assert panel.settings()["hidden"] is None and panel.settings()["dropout"] is None
    assert TrainingPanel(model="cnn", data_dir=data_dir).mlp_box.layout.display == "none"
    with pytest.raises(TypeError, match="unknown setting learning_rate"):
        TrainingPanel(model="mlp", learning_rate=0.1)
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        TrainingPanel(model="resnet")
    with pytest.raises(ValueError, match="lr must be"):
        TrainingPanel(model="mlp", lr=5.0)


def test_train_click_updates_history_plot_summary_and_runs(panel):
    panel.epochs.value = 1
    panel.train_subset.value = 300
    panel.train_button.click()
    assert panel.wait(timeout=300), "the run did not finish"
    assert panel.last_error is None and panel.error.value == ""
    assert (
        panel.history.epochs == 1
        and len(panel.history.val_acc) == 1
        and not panel.history.stopped_early
    )
    assert TEST_ACCURACY.search(panel.summary.value), panel.summary.value
    assert [output["data"].keys() >= {"image/png"} for output in panel.plot.outputs] == [True]
    assert panel.progress.value == panel.progress.max and panel.progress.bar_style == "success"
    assert not panel.train_button.disabled and panel.stop_button.disabled
    run = panel.runs[0]
    assert run["epochs"] == 1 and run["train_subset"] == 300 and run["ended"] == "finished"
    assert 0.0 <= run["test_acc"] <= 1.0 and run["test_images"] == 10_000

    panel.lr.value = (
        10**-2.5
    )  # a second run with another learning rate: both side by side in the table
    assert panel.train(block=True)
    assert [r["run"] for r in panel.runs] == [1, 2]
    assert panel.runs_table.value.count("<tr") == 3  # the header and two runs
    assert "0.0032" in panel.runs_table.value and "0.001" in panel.runs_table.value
    assert panel.summary.value.startswith("<b>Run 2</b>")


def test_bad_combination_is_reported_in_the_panel_not_raised(panel):
    panel.batch_size.value = 512
    panel.train_subset.value = 100
    panel.train_button.click()  # must not raise
    assert not panel.running and panel.runs == []
    assert "Batch size 512 is larger than the training subset (100 images)" in panel.error.value
    panel.batch_size.value = 64  # fixing it clears the message on the next click
    panel.train_subset.value = 200
    panel.epochs.value = 1
    assert panel.train(block=True)
    assert panel.error.value == "" and len(panel.runs) == 1


def test_failure_inside_the_run_is_shown_in_the_panel(tmp_path):
    not_a_folder = tmp_path / "mnist.zip"
    not_a_folder.write_bytes(b"")
    panel = TrainingPanel(model="mlp", data_dir=not_a_folder, epochs=1, train_subset=200)
    panel.train_button.click()
    assert panel.wait(timeout=60)
    assert "is a file, not a folder" in panel.error.value
    assert type(panel.last_error).__name__ == "MnistDataError"
    assert panel.status.value == "Run failed." and panel.progress.bar_style == "danger"
    assert not panel.train_button.disabled and panel.stop_button.disabled  # ready for another try
    assert panel.runs == []


def test_diverged_run_is_reported_in_the_panel_and_the_table(panel, monkeypatch):
    from mnist_utils import History, TrainingDiverged
    from mnist_utils.widgets import panel as panel_module

    def diverging_fit(*args, **kwargs):
        raise TrainingDiverged(
            "training diverged in epoch 2: the loss became nan with lr=1",
            History(train_loss=[2.3], val_loss=[2.4], val_acc=[0.1], seconds=[0.1]),
        )

    monkeypatch.setattr(panel_module, "fit", diverging_fit)
    panel.train_subset.value = 200
    assert panel.train(block=True)
    assert "training diverged in epoch 2" in panel.error.value
    assert panel.runs[-1]["ended"] == "diverged" and panel.runs[-1]["test_acc"] is None
    assert "no test accuracy (the loss became NaN)" in panel.summary.value
    assert panel.progress.bar_style == "danger" and panel.status.value == "Diverged."
    assert len(panel.plot.outputs) == 1  # the epochs before it diverged are still plotted


def test_stop_ends_the_run_after_the_current_batch(panel):
    panel.epochs.value = 30
    panel.train_subset.value = 20_000  # 30 epochs: far longer than it takes to react to Stop
    panel.train_button.click()
    assert panel.stop_button.disabled is False
    wait_until(lambda: panel.progress.value > 0, 120, "the first batch")
    panel.stop_button.click()
    assert panel.wait(timeout=120)
    assert panel.history.stopped_early and panel.history.epochs < 30
    assert panel.runs[-1]["ended"] == "stopped" and "(stopped early)" in panel.summary.value
    assert panel.progress.bar_style == "warning" and panel.status.value == "Stopped."


NOTEBOOK_CELLS = [
    (
        "from mnist_utils.widgets import TrainingPanel\n"
        "panel = TrainingPanel(model='mlp', data_dir={data_dir!r})\n"
        "panel"
    ),
    (
        "panel.epochs.value = 1\n"
        "panel.train_subset.value = 300\n"
        "panel.train_button.click()\n"
        "_ = panel.wait(300)"
    ),
    ("assert panel.last_error is None, panel.last_error\nprint(panel.summary.value)"),
]


def test_panel_in_a_real_kernel_sends_the_plot_and_leaks_no_output(data_dir, tmp_path):
    """In a kernel the run's thread must not print, nor leave figures for the inline backend to show."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source.format(data_dir=str(data_dir)))
        for source in NOTEBOOK_CELLS
    ]
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    shown, ran, checked = (cell.outputs for cell in nb.cells)
    assert [o.output_type for o in shown] == ["execute_result"]
    assert "application/vnd.jupyter.widget-view+json" in shown[0].data
    assert ran == [], f"the training thread leaked output into the notebook: {ran}"
    assert [o.get("name") for o in checked] == ["stdout"] and TEST_ACCURACY.search(checked[0].text)
    # the kernel sent the plot to the front end: the Output widget's synced state holds a PNG
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    plots = [
        m["state"]
        for m in state.values()
        if "mnist-panel-plot" in m["state"].get("_dom_classes", [])
    ]
    assert len(plots) == 1 and "image/png" in plots[0]["outputs"][0]["data"]
