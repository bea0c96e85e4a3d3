"""Papermill runs that test what the quick nbval run of each notebook does not, and the harness behind that run.

Every notebook executes once per test session: nbval runs its quick copy, with checks appended, that
notebook_harness.py writes to tests/output/notebooks/ (see the root conftest.py). Here, papermill checks that a
bad parameter fails in the first cell after the parameters cell, with a message naming the parameter; those runs
stop at once. Writing figures into a folder at the defaults is covered by test_clean_clone.py; where figures go
(``figure_path``, and ``MNIST_FIGURE_DIR`` for img/regenerate.sh and the quick copies) is checked here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import notebook_harness
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from mnist_utils.paths import figure_path, output_folder

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def run(name: str, tmp_path: Path, **parameters):
    """Execute notebooks/<name>.ipynb with papermill in tmp_path; return the executed notebook."""
    output = tmp_path / f"{name}.out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    return nbformat.read(output, as_version=4)


@pytest.mark.parametrize(
    "name, parameters, error, message",
    [
        ("02_mlp", {"EPOCHS": "ten"}, "TypeError", "epochs must be a whole number, got 'ten'"),
        ("03_cnn", {"OPTIMIZER": "adamw"}, "ValueError", "unknown optimizer 'adamw'"),
        (
            "05_saving_and_loading",
            {"EPOCHS": "ten"},
            "TypeError",
            "epochs must be a whole number, got 'ten'",
        ),
        ("07_beyond_99", {"BF16": "yes"}, "TypeError", "bf16 must be True or False"),
    ],
)
def test_a_bad_parameter_fails_in_the_first_cell_with_its_name(
    tmp_path, name, parameters, error, message
):
    with pytest.raises(PapermillExecutionError) as failure:
        run(name, tmp_path, **parameters)
    assert failure.value.ename == error and message in failure.value.evalue, failure.value.evalue
    code = [
        c
        for c in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells
        if c.cell_type == "code"
    ]
    assert "parameters" in code[0].metadata["tags"]
    assert failure.value.source == code[1].source, (
        "the error must come from the first cell after the parameters"
    )


# The harness nbval runs: quick copies of the notebooks, parameters injected, checks appended, nothing executed.


def test_a_quick_copy_injects_the_parameters_and_appends_checks(tmp_path):
    files = tmp_path / "files"
    copy = notebook_harness.prepare("03_cnn", tmp_path / "copy.ipynb", files)
    nb = nbformat.read(copy, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert (
        "parameters" in code[0].metadata["tags"]
        and "injected-parameters" in code[1].metadata["tags"]
    )
    injected = {
        target.id: ast.literal_eval(node.value)
        for node in ast.parse(code[1].source).body
        for target in node.targets
    }
    assert injected == {
        "EPOCHS": 1,
        "TRAIN_SUBSET": 2000,
        "BATCH_SIZE": 64,
        "OUTPUT_DIR": str(files / "output"),
    }
    # before the lesson's first cell: the kernel's figures go to the copy's own folder (figure_path reads it)
    assert "harness-setup" in code[2].metadata["tags"]
    assert (
        f'os.environ["MNIST_FIGURE_DIR"] = {str(files.resolve() / "figures")!r}' in code[2].source
    )
    exercises = [c for c in code if "exercise" in c.metadata.get("tags", [])]
    assert [c.source for c in exercises] == notebook_harness.exercise_code(nb) and len(
        exercises
    ) >= 3
    assert (
        "harness" in code[-1].metadata["tags"]
        and f"files = Path({str(files.resolve())!r})" in code[-1].source
    )
    assert (
        "assert torch.allclose(loops, feature_map" in code[-1].source
    )  # 03's own checks follow the common ones
    assert all(c.get("outputs", []) == [] for c in code), "prepare_only executes nothing"
    original = nbformat.read(NOTEBOOKS / "03_cnn.ipynb", as_version=4)
    added = {"injected-parameters", "harness", "exercise"}
    lesson = [c.source for c in nb.cells if not added & set(c.metadata.get("tags", []))]
    assert lesson[:-1] == [c.source for c in original.cells], (
        "the lesson's cells are copied unchanged"
    )
    assert lesson[-1].startswith("## Harness checks")


def test_05_loads_the_cnn_that_03s_quick_copy_saves(tmp_path):
    parameters = notebook_harness.quick_parameters(
        "05_saving_and_loading", tmp_path / "05_saving_and_loading"
    )
    saved_by_03 = notebook_harness.quick_parameters("03_cnn", tmp_path / "03_cnn")["OUTPUT_DIR"]
    assert parameters["CNN_DIR"] == str(Path(saved_by_03) / "models" / "03_cnn")


def test_every_notebook_has_quick_parameters_it_defines():
    for name in notebook_harness.NOTEBOOKS:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        for knob in notebook_harness.quick_parameters(name, Path("files")):
            assert f"\n{knob} = " in f"\n{params.source}", f"{name} has no parameter {knob}"


def test_without_mnist_the_notebooks_report_one_line_naming_the_fix(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "mnist.txt"
    not_a_folder.write_text("")
    monkeypatch.setenv("MNIST_DATA_DIR", str(not_a_folder))
    problem = notebook_harness.data_problem()
    assert problem and "\n" not in problem and "pass the folder that holds MNIST/raw/" in problem


# The folders the notebooks write to: never a tracked file unless the learner names one.


def test_notebook_outputs_default_to_runs_at_the_root(monkeypatch, tmp_path):
    monkeypatch.chdir(NOTEBOOKS)  # where JupyterLab and papermill --cwd notebooks run a notebook
    monkeypatch.delenv("MNIST_FIGURE_DIR", raising=False)
    assert figure_path("a.png") == ROOT / "runs" / "notebooks" / "figures" / "a.png"
    monkeypatch.setenv(
        "MNIST_FIGURE_DIR", "img"
    )  # what img/regenerate.sh sets: the README's pictures
    assert figure_path("a.png") == ROOT / "img" / "a.png"
    monkeypatch.setenv("MNIST_FIGURE_DIR", str(tmp_path / "figs"))  # what the quick copies set
    assert figure_path("a.png") == tmp_path / "figs" / "a.png" and (tmp_path / "figs").is_dir()
    assert output_folder(None, "runs/notebooks", "OUTPUT_DIR") == ROOT / "runs" / "notebooks"
    assert output_folder("../runs/notebooks", "x", "OUTPUT_DIR") == ROOT / "runs" / "notebooks"
    with pytest.raises(TypeError, match="OUTPUT_DIR must be a folder path"):
        output_folder(3, "runs/notebooks", "OUTPUT_DIR")
