"""Every notebook runs headlessly under papermill with small parameters, and produces what it should.

Each run happens in a temporary folder (the kernel's working folder too) with CI's quick mode on for the knobs
the test does not pass. The test reads the JSON line each notebook prints in its ``summary`` cell and checks
the numbers and the files it wrote, and checks that the committed figures in img/ were not touched.
Bad parameters must fail in the first cell after the parameters, with a message naming the parameter.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from mnist_utils.course import check_flag, figure_saver, output_folder

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SMALL = dict(EPOCHS=1, TRAIN_SUBSET=2000)


def committed_figures() -> dict:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted((ROOT / "img").glob("*.png"))}


def run(name: str, tmp_path: Path, monkeypatch, **parameters):
    """Execute notebooks/<name>.ipynb with papermill in tmp_path; return the executed notebook."""
    monkeypatch.setenv("MNIST_QUICK", "1")
    monkeypatch.setenv("MNIST_NO_PROGRESS", "1")
    output = tmp_path / f"{name}.out.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=parameters,
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    return nbformat.read(output, as_version=4)


def summary_of(nb) -> dict:
    cell = next(c for c in nb.cells if "summary" in c.metadata.get("tags", []))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture
def figures_before():
    before = committed_figures()
    yield before
    assert committed_figures() == before, "a notebook test changed the committed figures in img/"


@pytest.fixture
def common(tmp_path, data_dir):
    return dict(DATA_DIR=str(data_dir), SAVE_FIGURES=True, FIGURE_DIR=str(tmp_path / "img"))


def written(tmp_path) -> set[str]:
    return {p.name for p in (tmp_path / "img").glob("*.png") if p.stat().st_size > 5000}


def test_01_exploration(tmp_path, monkeypatch, common, figures_before):
    summary = summary_of(run("01_exploration", tmp_path, monkeypatch, **common))
    assert (summary["train_images"], summary["val_images"], summary["test_images"]) == (55_000, 5_000, 10_000)
    assert summary["pixel_mean"] == pytest.approx(0.1307, abs=1e-4)
    assert summary["pixel_std"] == pytest.approx(0.3081, abs=1e-4)
    assert 0.78 < summary["nearest_mean_accuracy"] < 0.86
    expected = {"samples.png", "class_balance.png", "pixel_histogram.png", "mean_digits.png"}
    assert set(summary["figures"]) == expected == written(tmp_path)


def test_02_mlp(tmp_path, monkeypatch, common, figures_before):
    summary = summary_of(run("02_mlp", tmp_path, monkeypatch, **SMALL, **common))
    assert summary["train_images"] == 2000 and summary["epochs"] == 1  # the parameters were used
    assert 0.6 < summary["test_accuracy"] < 0.95  # one epoch on 2,000 images: learned, but far from 98 %
    assert summary["parameters"] == 235_146
    assert written(tmp_path) == {"mlp_history.png"}


def test_03_cnn(tmp_path, monkeypatch, common, figures_before):
    summary = summary_of(run("03_cnn", tmp_path, monkeypatch, **SMALL, **common))
    assert summary["train_images"] == 2000 and summary["epochs"] == 1
    assert 0.7 < summary["test_accuracy"] < 0.97
    assert 0.5 < summary["mlp_test_accuracy"] < summary["test_accuracy"]
    assert summary["wrong"] == round((1 - summary["test_accuracy"]) * 10_000)
    assert written(tmp_path) == {"results.png", "confusion_matrix.png", "misclassified.png", "feature_maps.png"}


def test_04_grid_search(tmp_path, monkeypatch, common, figures_before):
    results_file = tmp_path / "results" / "grid.jsonl"
    summary = summary_of(run("04_grid_search", tmp_path, monkeypatch, EPOCHS=1, TRAIN_SUBSET=500,
                             RESULTS_FILE=str(results_file), **common))
    assert summary["trials"] == 8 and summary["trained"] == 8 and summary["trained_on_rerun"] == 0
    assert summary["best"]["optimizer"] in ("adam", "sgd") and summary["best"]["lr"] in (1e-3, 1e-4)
    assert 0.2 < summary["best_val_accuracy"] <= 1
    records = [json.loads(line) for line in results_file.read_text().splitlines()]
    assert len(records) == 8 + 1  # the grid, then the best setting with one more seed (quick mode: 2 seeds)
    assert {r["settings"]["data"]["train"] for r in records} == {500}
    assert written(tmp_path) == {"grid_search.png"}


def test_05_saving_and_loading(tmp_path, monkeypatch, common, figures_before):
    out = tmp_path / "output"
    summary = summary_of(run("05_saving_and_loading", tmp_path, monkeypatch, **SMALL, OUTPUT_DIR=str(out), **common))
    assert summary["identical_predictions"] is True
    assert summary["files"] == ["mnist_model_full.pth", "mnist_model_state.pth"]
    assert {p.name for p in (out / "models").iterdir()} == {*summary["files"], "mnist_model.json"}
    assert len(list((out / "digits").glob("*.png"))) == summary["digit_files"] == 8
    right = sum(t == p for t, p in zip(summary["digits_true"], summary["digits_predicted"]))
    assert right >= 5, summary
    assert 0.7 < summary["test_accuracy"] < 0.97
    assert written(tmp_path) == {"file_predictions.png"}


@pytest.mark.parametrize("name, parameters, error, message", [
    ("02_mlp", {"EPOCHS": "ten"}, "TypeError", "epochs must be a whole number, got 'ten'"),
    ("03_cnn", {"OPTIMIZER": "adamw"}, "ValueError", "unknown optimizer 'adamw'"),
    ("04_grid_search", {"OPTIMIZER": "adamw"}, "ValueError", "grid['optimizer'] holds a bad value 'adamw'"),
    ("05_saving_and_loading", {"EPOCHS": "ten"}, "TypeError", "epochs must be a whole number, got 'ten'"),
    ("01_exploration", {"SAVE_FIGURES": "no"}, "TypeError", "SAVE_FIGURES must be True or False"),
])
def test_a_bad_parameter_fails_in_the_first_cell_with_its_name(tmp_path, monkeypatch, name, parameters, error,
                                                              message):
    with pytest.raises(PapermillExecutionError) as failure:
        run(name, tmp_path, monkeypatch, **parameters)
    assert failure.value.ename == error and message in failure.value.evalue
    code = [c for c in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata["tags"]
    assert failure.value.source == code[1].source, "the error must come from the first cell after the parameters"


# The folders the notebooks write to: never a tracked file unless the learner names one.

def test_notebook_outputs_default_to_runs_at_the_root(monkeypatch, tmp_path):
    monkeypatch.chdir(NOTEBOOKS)
    assert figure_saver(True).folder == ROOT / "runs" / "notebooks" / "figures"
    assert figure_saver(True, "img").folder == ROOT / "img"  # the explicit way to refresh the README's pictures
    assert figure_saver(False).path("samples.png") is None
    assert figure_saver(True, tmp_path / "figs").path("a.png") == tmp_path / "figs" / "a.png"
    assert output_folder(None, "runs/notebooks", "OUTPUT_DIR") == ROOT / "runs" / "notebooks"
    with pytest.raises(TypeError, match="SAVE_FIGURES must be True or False"):
        figure_saver("False")
    assert check_flag("X", False) is False
