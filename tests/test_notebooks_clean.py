"""The committed notebooks are clean and follow the course's rules (no kernel needed; runs in a second).

Clean: no outputs, no execution counts, no widget state or other run metadata, kernel ``python3``.
Rules: exactly one ``parameters`` cell holding the knobs as plain values at the learner's defaults (no environment
or quick-mode logic: the test harness passes its own values; no figure folders: figures go where
``mnist_utils.paths.figure_path`` says, and img/regenerate.sh refreshes the README's), no validation helpers called
in a notebook (the package's functions check what they are given), everything imported from ``mnist_utils`` (no
model class, no training loop written in a notebook, except in 01-05, which build the fundamentals in the open), and
a lesson shape (what you will learn ... what to notice ... a recap, then 3-5 exercises, each with a Hint and a
Solution to unfold; in 01-06 at least three of them with a solution in code, and in 01-03 every such solution with
a check in its hint that fails loudly).
The lesson-shape rules cover every notebook in notebooks/, including ones added later.

To clean notebooks after running them in JupyterLab: ``python tests/test_notebooks_clean.py --fix``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
import notebook_harness
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
ALL_NOTEBOOKS = sorted(
    p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")
)  # with 06 and whatever comes later
# plumbing, not knobs: figure_path decides where figures go, img/regenerate.sh refreshes the README's
NOT_KNOBS = {"FIGURE_DIR", "WRITE_README_FIGURES", "SAVE_FIGURES"}
# the knobs each notebook's parameters cell must define (the names, wherever they apply)
KNOBS = {
    "01_exploration": {"DATA_DIR", "SEED", "BATCH_SIZE"},
    "02_mlp": {
        "EPOCHS",
        "BATCH_SIZE",
        "LR",
        "OPTIMIZER",
        "HIDDEN",
        "DROPOUT",
        "SEED",
        "DATA_DIR",
        "TRAIN_SUBSET",
        "LINEAR_LR",
        "LOOP_EPOCHS",
    },
    "03_cnn": {
        "EPOCHS",
        "BATCH_SIZE",
        "LR",
        "OPTIMIZER",
        "SEED",
        "DATA_DIR",
        "TRAIN_SUBSET",
        "OUTPUT_DIR",
    },
    "04_grid_search": {
        "EPOCHS",
        "BATCH_SIZE",
        "LR",
        "OPTIMIZER",
        "SEED",
        "DATA_DIR",
        "TRAIN_SUBSET",
        "RESULTS_FILE",
    },
    "05_saving_and_loading": {
        "CNN_DIR",
        "EPOCHS",
        "BATCH_SIZE",
        "LR",
        "OPTIMIZER",
        "SEED",
        "DATA_DIR",
        "TRAIN_SUBSET",
        "OUTPUT_DIR",
    },
    "07_beyond_99": {"SEED", "DATA_DIR", "TRAIN_SUBSET", "BF16", "ABLATE", "RUN_BEST"},
}
# the notebooks whose parameters cells are checked for their knobs
NOTEBOOKS = sorted(KNOBS)
# these may define a model class (or a Dataset) and write a training loop: the fundamentals built in the open
MAY_DEFINE_MODEL_AND_LOOP = {
    "01_exploration",
    "02_mlp",
    "03_cnn",
    "04_grid_search",
    "05_saving_and_loading",
}
# at least three exercises each whose solution is code (a loop, a module, a Dataset), run by the test harness
WITH_CODE_EXERCISES = [
    "01_exploration",
    "02_mlp",
    "03_cnn",
    "04_grid_search",
    "05_saving_and_loading",
    "06_your_handwriting",
]
# every code solution's hint carries a check that raises when the answer is wrong (not one that prints False)
WITH_FAILING_CHECKS = ["01_exploration", "02_mlp", "03_cnn"]
# the helpers of mnist_utils.validation, read from its source (importing the package would import torch)
VALIDATION_HELPERS = {
    node.name
    for node in ast.parse((NOTEBOOK_DIR.parent / "mnist_utils" / "validation.py").read_text()).body
    if isinstance(node, ast.FunctionDef)
}
ALLOWED_CELL_METADATA = {"tags"}
ALLOWED_NOTEBOOK_METADATA = {"kernelspec", "language_info"}


def read(name: str):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def dirt(nb) -> list[str]:
    """Everything that makes a notebook not clean, in words."""
    problems = []
    extra = set(nb.metadata) - ALLOWED_NOTEBOOK_METADATA
    if extra:
        problems.append(f"notebook metadata {sorted(extra)} (widget state or run records)")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"kernelspec {nb.metadata.get('kernelspec')!r}, expected name 'python3'")
    for i, cell in enumerate(nb.cells):
        extra = set(cell.metadata) - ALLOWED_CELL_METADATA
        if extra:
            problems.append(f"cell {i}: metadata {sorted(extra)}")
        if cell.cell_type == "code":
            if cell.outputs:
                problems.append(f"cell {i}: {len(cell.outputs)} output(s)")
            if cell.execution_count is not None:
                problems.append(f"cell {i}: execution count {cell.execution_count}")
        elif cell.get("attachments"):
            problems.append(f"cell {i}: attachments")
    return problems


def clean(nb):
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ALLOWED_NOTEBOOK_METADATA}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ALLOWED_CELL_METADATA}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def test_every_notebook_exists_and_gets_a_quick_copy():
    # the one check that the course's notebooks are there: the harness runs each of them, and nothing else
    assert set(notebook_harness.NOTEBOOKS) == set(ALL_NOTEBOOKS), (
        f"notebooks/ holds {ALL_NOTEBOOKS}"
    )
    assert set(NOTEBOOKS) | set(WITH_CODE_EXERCISES) <= set(ALL_NOTEBOOKS)


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_notebook_is_stored_clean(name):
    nb = read(name)
    nbformat.validate(nb)
    problems = dirt(nb)
    assert not problems, (
        f"{name}.ipynb is not clean: {'; '.join(problems)}. "
        "Run: python tests/test_notebooks_clean.py --fix"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_one_parameters_cell_with_the_knobs(name):
    nb = read(name)
    params = tagged(nb, "parameters")
    assert len(params) == 1, (
        f"{name}: {len(params)} cells tagged 'parameters', expected exactly one"
    )
    cell = params[0]
    assert cell.cell_type == "code" and cell is code_cells(nb)[0], (
        "the parameters cell must be the first code cell"
    )
    values = {}
    for node in ast.parse(cell.source).body:
        # plain values only: no imports, no environment, no `1 if QUICK else 10` (the harness passes its own)
        assert (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ), f"{name}: the parameters cell may only assign values, not {ast.unparse(node)!r}"
        try:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            pytest.fail(
                f"{name}: {ast.unparse(node)!r} is not a plain value; parameters hold the learner's defaults"
            )
    assert "QUICK" not in cell.source and "environ" not in cell.source, (
        f"{name}: no quick mode in the notebook"
    )
    comments = [line for line in cell.source.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) <= 1, (
        f"{name}: the parameters cell holds parameters (one comment line at most)"
    )
    missing = KNOBS[name] - set(values)
    assert not missing, f"{name}: the parameters cell does not set {sorted(missing)}"
    # MNIST is found by the package's resolver; figures go where figure_path says (img/ only via regenerate.sh)
    assert values["DATA_DIR"] is None
    plumbing = NOT_KNOBS & set(values)
    assert not plumbing, (
        f"{name}: {sorted(plumbing)} are not knobs a learner turns; use figure_path"
    )


def code_trees(nb):
    for cell in code_cells(nb):
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        yield cell, ast.parse(source)


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_calls_no_validation_helper(name):
    for cell, tree in code_trees(read(name)):
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                assert not any(m.startswith("mnist_utils.validation") for m in modules), (
                    f"{name} imports mnist_utils.validation; let the package's functions check the knobs"
                )
            if isinstance(node, ast.Call):
                called = ast.unparse(node.func).rsplit(".", 1)[-1]
                assert called not in VALIDATION_HELPERS | {"check_flag"}, (
                    f"{name} calls {called}(); let TrainConfig, build_model or load_mnist check it"
                )


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_uses_mnist_utils_and_defines_no_model_or_loop(name):
    nb = read(name)
    imports = [
        node
        for _, tree in code_trees(nb)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnist_utils")
    ]
    assert imports, f"{name} imports nothing from mnist_utils"
    if name in MAY_DEFINE_MODEL_AND_LOOP:
        return
    for cell, tree in code_trees(nb):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not bases & {"nn.Module", "torch.nn.Module", "Module"}, (
                    f"{name} defines a model class {node.name}; models belong in mnist_utils"
                )
        assert not re.search(r"\.backward\(|\.step\(\)|zero_grad\(", cell.source), (
            f"{name} has a training loop in a cell; use mnist_utils.fit:\n{cell.source}"
        )
        top_level_functions = [
            n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        assert not top_level_functions, (
            f"{name} defines {top_level_functions}; helpers belong in mnist_utils"
        )


def exercise_problems(source: str) -> list[str]:
    """What is wrong with an '## Exercises' cell: 3-5 exercises '**N. Title** ...', each followed by a collapsed
    Hint and a collapsed Solution; an answer that is a number or a tensor comes with a **Check** to run."""
    parts = re.split(r"^\*\*(\d)\. ", source, flags=re.MULTILINE)
    numbers, bodies = parts[1::2], parts[2::2]
    problems = [] if 3 <= len(bodies) <= 5 else [f"{len(bodies)} exercises, expected 3-5"]
    if numbers != [str(i) for i in range(1, len(numbers) + 1)]:
        problems.append(f"exercises numbered {numbers}")
    for n, body in zip(numbers, bodies):
        hint, solution = (
            body.find("<details><summary>Hint</summary>"),
            body.find("<details><summary>Solution</summary>"),
        )
        if not 0 < hint < solution or body.count("</details>") != 2:
            problems.append(
                f"exercise {n}: a question, then a <details> Hint, then a <details> Solution"
            )
        if re.search(r"\bstore\b[^.]*? as `", body, flags=re.IGNORECASE) and "**Check" not in body:
            problems.append(
                f"exercise {n}: the answer is stored in a variable, so give a **Check** to run"
            )
    return problems


def test_the_exercise_rules_can_fail():
    one = (
        "**1. A.** Store it as `x`.\n\n<details><summary>Hint</summary>\n\nh\n\n</details>\n\n"
        "<details><summary>Solution</summary>\n\ns\n\n</details>\n\n"
    )
    good = one.replace("as `x`.", "as `x`. **Check:** `x == 1`")
    assert (
        exercise_problems(good + good.replace("**1.", "**2.") + good.replace("**1.", "**3.")) == []
    )
    assert exercise_problems(good + good.replace("**1.", "**2.")) == ["2 exercises, expected 3-5"]
    assert (
        "give a **Check**"
        in exercise_problems(one + good.replace("**1.", "**2.") + good.replace("**1.", "**3."))[0]
    )
    no_solution = good.split("<details><summary>Solution")[0]
    assert (
        exercise_problems(good + good.replace("**1.", "**2.") + no_solution.replace("**1.", "**3."))
        != []
    )


@pytest.mark.parametrize("name", WITH_CODE_EXERCISES)
def test_at_least_three_exercises_have_code_solutions(name):
    solutions = notebook_harness.exercise_code(read(name))
    assert len(solutions) >= 3, (
        f"{name}: {len(solutions)} exercises with a solution in code, expected 3 or more"
    )


@pytest.mark.parametrize("name", WITH_FAILING_CHECKS)
def test_every_code_solution_has_a_check_that_can_fail(name):
    for number, (solution, check) in enumerate(notebook_harness.exercises(read(name)), 1):
        assert check is not None, f"{name}: solution {number} has no check in its hint\n{solution}"
        tree = ast.parse(check)
        asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert asserts, (
            f"{name}: the check of solution {number} raises nothing when it fails:\n{check}"
        )


def test_exercise_code_pairs_solutions_with_their_hints_checks():
    cell = nbformat.v4.new_markdown_cell(
        "**1. A.**\n\n<details><summary>Hint</summary>\n\n```python\nassert a == 1\n```\n\n</details>\n\n"
        "<details><summary>Solution</summary>\n\n```python\na = 1\n```\n\n</details>\n\n"
        "**2. B.**\n\n<details><summary>Hint</summary>\n\nthink\n\n</details>\n\n"
        "<details><summary>Solution</summary>\n\nan explanation\n\n</details>\n\n"
        "**3. C.**\n\n<details><summary>Hint</summary>\n\nno check\n\n</details>\n\n"
        "<details><summary>Solution</summary>\n\n```python\nc = 3\n```\n\n</details>"
    )
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert notebook_harness.exercises(nb) == [("a = 1", "assert a == 1"), ("c = 3", None)]
    assert notebook_harness.exercise_code(nb) == [
        "a = 1\n\n# the hint's check\nassert a == 1",
        "c = 3",
    ]


@pytest.mark.parametrize("name", ALL_NOTEBOOKS)
def test_reads_like_a_lesson(name):
    nb = read(name)
    first, last = nb.cells[0], nb.cells[-1]
    assert (
        first.cell_type == "markdown" and first.source.startswith("# ") and "learn" in first.source
    )
    assert last.cell_type == "markdown" and last.source.startswith("## Exercises")
    problems = exercise_problems(last.source)
    assert not problems, f"{name}: {'; '.join(problems)}"
    notices = sum("What to notice" in c.source for c in nb.cells if c.cell_type == "markdown")
    assert notices >= 2, f"{name}: say what to notice in the figures and results"
    recap = nb.cells[-2]
    assert recap.cell_type == "markdown" and recap.source.startswith("## Recap"), (
        f"{name}: a '## Recap' cell right before the exercises"
    )
    assert 3 <= len(re.findall(r"^- ", recap.source, flags=re.MULTILINE)) <= 5, (
        f"{name}: a recap of 3-5 bullets"
    )
    assert not re.search(r"\d\.\d|%", recap.source), f"{name}: the recap states no measured numbers"
    assert not tagged(nb, "summary") and not any("print_summary" in c.source for c in nb.cells), (
        f"{name}: no summary cell; the test harness checks the results"
    )


@pytest.mark.parametrize("name, model", [("02_mlp", "mlp"), ("03_cnn", "cnn")])
def test_ends_with_the_training_panel(name, model):
    nb = read(name)
    heading = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and "Turn the knobs yourself" in c.source
    ]
    assert len(heading) == 1, f"{name}: one 'Turn the knobs yourself' section"
    panel_cell = nb.cells[heading[0] + 1]
    calls = [
        node
        for node in ast.walk(ast.parse(panel_cell.source))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "TrainingPanel"
    ]
    assert panel_cell.cell_type == "code" and len(calls) == 1, (
        f"{name}: the section shows a TrainingPanel"
    )
    keywords = {k.arg: ast.unparse(k.value) for k in calls[0].keywords}
    assert keywords.get("model") == repr(model) and keywords.get("data_dir") == "DATA_DIR", keywords
    # the panel is the last lesson section: only the recap and the exercises follow it
    assert all(c.cell_type == "markdown" for c in nb.cells[heading[0] + 2 :])


def test_dirt_is_detected_and_fixed():
    # the check above must be able to fail: a run notebook is dirty, and --fix cleans it
    nb = read("01_exploration")
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    cell = code_cells(nb)[1]
    cell.outputs = [nbformat.v4.new_output("stream", text="hi")]
    cell.execution_count = 3
    cell.metadata["execution"] = {"iopub.status.busy": "2024"}
    assert len(dirt(nb)) == 4
    assert dirt(clean(nb)) == []
    assert tagged(nb, "parameters"), "cleaning keeps the tags"


if __name__ == "__main__":
    if sys.argv[1:] != ["--fix"]:
        sys.exit(
            "usage: python tests/test_notebooks_clean.py --fix   (strip outputs and run metadata in place)"
        )
    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if dirt(nb):
            nbformat.write(clean(nb), path)
            print("cleaned", path)
