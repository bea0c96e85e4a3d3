"""Quick, checked copies of the course notebooks, for nbval to execute: each notebook runs once per test session.

The notebooks in notebooks/ hold plain parameters at the learner's defaults. For the tests, :func:`prepare_all`
writes a copy of each into ``tests/output/notebooks/`` (ignored by git) with papermill's ``prepare_only=True``:
papermill injects a cell with :data:`QUICK_PARAMETERS` right after the notebook's ``parameters`` cell and executes
nothing. The harness then inserts, before the lesson's cells, one that points MNIST_FIGURE_DIR at the copy's own
temporary folder (``figure_path`` saves the figures there); appends each exercise's solution with its hint's check
(:func:`exercise_code`), so a solution that stops working fails the suite; and appends a cell of checks: what the
notebook must produce at those settings (the parameters were used, accuracies in a plausible range, the expected
figures and files written into the temporary folders it passed). The root ``conftest.py`` calls :func:`prepare_all` when a test session starts, and nbval
(``--nbval-lax`` in pyproject.toml) executes the copies, cell by cell, in a kernel started in that folder.
``python -m pytest tests/output/notebooks`` runs only the notebooks.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
COPY_DIR = ROOT / "tests" / "output" / "notebooks"  # git-ignored (tests/output/)
NOTEBOOKS = [
    "01_exploration",
    "02_mlp",
    "03_cnn",
    "04_grid_search",
    "05_saving_and_loading",
    "06_your_handwriting",
    "07_beyond_99",
]

# Small enough that the notebooks run in about a minute on a 2-core CPU, large enough to learn something.
QUICK_PARAMETERS = {
    "01_exploration": {},  # no training: it runs as a learner runs it
    "02_mlp": {
        "EPOCHS": 1,
        "TRAIN_SUBSET": 2000,
        "LOOP_EPOCHS": 1,
        "COMPARE_EPOCHS": 1,
        "COMPARE_SUBSET": 1000,
    },
    "03_cnn": {"EPOCHS": 1, "TRAIN_SUBSET": 2000, "BATCH_SIZE": 64},
    "04_grid_search": {
        "EPOCHS": 2,
        "TRAIN_SUBSET": 500,
        "VAL_SIZE": 500,
    },  # two epochs: pruning needs one to spare
    "05_saving_and_loading": {"EPOCHS": 1, "TRAIN_SUBSET": 2000},
    "06_your_handwriting": {"ROBUST_EPOCHS": 1, "CNN_EPOCHS": 1, "TRAIN_SUBSET": 2000},
    "07_beyond_99": {
        "TRAIN_SUBSET": 4000
    },  # the fast recipe and its ablation: one-epoch runs of 8-32 steps
}

# The quick copy's first code cell, before the lesson's: figure_path() (mnist_utils.paths) saves figures into
# $MNIST_FIGURE_DIR, here the copy's own temporary folder, so the checks see what this notebook drew.
FIGURE_SETUP = """\
# Harness setup, inserted by tests/notebook_harness.py into the quick copy; not part of the lesson.
import os

os.environ["MNIST_FIGURE_DIR"] = {figures!r}
"""

# Appended to every copy, before the notebook's own checks: `files` is the temporary folder the harness passed,
# `written` the figures (PNG files of a real picture's size) this notebook saved through figure_path().
COMMON_CHECKS = """\
# Harness checks, appended by tests/notebook_harness.py to the quick copy; not part of the lesson.
from pathlib import Path

from mnist_utils.paths import figure_path

files = Path({files!r})
assert figure_path("any.png").parent == files / "figures", "figure_path ignores MNIST_FIGURE_DIR"
written = {{p.name for p in (files / "figures").glob("*.png") if p.stat().st_size > 5000}}
"""

CHECKS = {
    "01_exploration": """\
assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (55_000, 5_000, 10_000)
assert abs(scaled.mean().item() - 0.1307) < 1e-4 and abs(scaled.std().item() - 0.3081) < 1e-4
assert 0.78 < nearest_mean_accuracy < 0.86, nearest_mean_accuracy
assert len(identical) == len(loader) == 430 and all(identical)  # section 8: DataLoader = TensorBatches
assert written == {"samples.png", "class_balance.png", "pixel_histogram.png", "mean_digits.png"}, written
""",
    "02_mlp": """\
assert len(data.train_y) == 2000 and history.epochs == 1, "the parameters were not used"
assert 0.6 < test.accuracy < 0.95, test  # one epoch on 2,000 images: learned, but far from 98 %
assert torch.isclose(by_hand, F.cross_entropy(probs.log(), label))  # section 3: -log p of the true digit
assert loss_after < loss_before and max(differences) < 1e-5  # section 4: a step downhill; momentum = SGD's
assert 0.5 < linear_test.accuracy < 0.95 and 0.7 < nearest_mean_accuracy < 0.86
assert count_parameters(ours) == 235_146 and same_weights is True  # section 5: our MLP is the package's
assert identical is True and 0.5 < val_acc < 0.95, (identical, val_acc)  # section 7: the loop is fit's
assert len(batch_losses) == len(batches) == 16 and len(loop_epochs) == len(loop_history.train_acc) == 1
assert list(loop_epochs["train accuracy"]) == loop_history.train_acc
assert len(small.train_y) == 1000 and compare_config.epochs == 1 and len(comparison) == 6
assert written == {"mlp_history.png"}, written
""",
    "03_cnn": """\
assert len(data.train_y) == 2000 and history.epochs == 1, "the parameters were not used"
assert torch.allclose(loops, feature_map, atol=1e-5) and torch.isclose(by_hand, feature_map[row, col])
assert count_parameters(ours) == count_parameters(package) == 1_625_866 and x.shape == (1, 10)
assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), package.state_dict().values()))
assert 0.7 < test.accuracy < 0.97, test
assert len(history.batch_loss) == len(history.batch_lr) == 32  # the curve's points: one per batch
assert 0.5 < mlp_test.accuracy < test.accuracy, (mlp_test, test)
assert len(confusions) == 5 and off_diagonal.sum() == (digits != data.test_y).sum() and cm.sum() == 10_000
assert int((digits != data.test_y).sum()) == round((1 - test.accuracy) * 10_000)
assert state_path == (files / "output" / "models" / "03_cnn" / "mnist_model_state.pth").resolve() and state_path.is_file()
assert written == {"results.png", "confusion_matrix.png", "misclassified.png", "feature_maps.png"}, written
""",
    "04_grid_search": """\
import optuna

assert Path(RESULTS_FILE) == files / "grid_search.db" and STORAGE == f"sqlite:///{RESULTS_FILE}"
assert len(data.train_y) == 500 and len(data.val_y) == 500, "the parameters were not used"
assert len(loop) == 4 and len(results) == 8 and trained_on_rerun == 0
assert set(results["state"]) == {"COMPLETE"} and results["epochs"].eq(2).all() and results["test_acc"].isna().all()
assert len(pruned) == 8 and set(pruned["state"]) <= {"COMPLETE", "PRUNED"}
assert (pruned["state"] == "PRUNED").any() and pruned[pruned["state"] == "PRUNED"]["epochs"].eq(1).all()
assert pruned["epochs"].sum() < results["epochs"].sum()  # fewer epochs trained (times vary with the machine's load)
studies = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(STORAGE)}
assert studies == {"seed-grid": 8, "seed-grid-pruned": 8, "best-seeds": 2}, studies  # nothing ran twice
assert best_params["optimizer"] in ("adam", "sgd") and best_params["lr"] in (1e-3, 1e-4), best_params
assert 0.2 < float(best["val_acc"]) <= 1 and len(accuracies) == 3 and spread >= 0
assert 0.2 < test.accuracy <= 1 and history.epochs == 2
assert largest in grid and set(effects) == set(grid)
assert len(random_results) == 3 and stop_below(1.01)(history)  # exercises 2 and 3 ran
assert written == {"grid_search.png"}, written
""",
    "05_saving_and_loading": """\
# nbval runs 03 first: its CNN is loaded, not retrained (run alone, 05 trains one and says so)
assert loaded_from_03 == (files.parent / "03_cnn" / "output" / "models" / "03_cnn" / "mnist_model_state.pth").is_file()
assert state_path.parent == (cnn_dir if loaded_from_03 else output / "trained_here")
assert 0.7 < test.accuracy < 0.97, test
assert identical_predictions is True
assert resumed_exactly is True and forgetful_equal is False  # section 4: exact resume; not without Adam's state
assert not same_weights(own, uninterrupted) and (own_dir / "checkpoint.pth").is_file()
assert output == (files / "output").resolve() and model_dir == output / "models"
assert sorted(p.name for p in model_dir.iterdir()) == ["mnist_model.json", "mnist_model_full.pth",
                                                      "mnist_model_state.pth"]
assert len(list(digit_dir.glob("*.png"))) == len(paths) == 8
right = sum(t == p for t, p in zip(true_digits, file_digits.tolist()))
assert right >= 5, (true_digits, file_digits.tolist())
assert written == {"file_predictions.png"}, written
""",
    "06_your_handwriting": """\
assert len(data.train_y) == 2000 and robust_dir == (files / "robust").resolve(), "the parameters were not used"
assert cnn_dir == (files.parent / "03_cnn" / "output" / "models" / "03_cnn").resolve()
assert check_dir == (files / "handwriting").resolve()
assert len(check_y) == len(names) >= 100 and set(results) == {"plain CNN", "robust"}
assert 0.1 < 1 - len(results["plain CNN"][2]) / len(check_y)  # above chance; the robust model of one epoch
assert len(results["robust"][0]) == len(check_y)  # on 2,000 images (8 steps of BatchNorm) need not be
assert set(by_style.index) == set(check_set.STYLES) and len(by_digit) == 10 and len(confidence) == 2
assert robust.metrics["temperature"] > 0 and pad.answer.value.startswith("Draw a digit")
assert (cnn_folder / "mnist_model_state.pth").is_file()  # exercise 1; exercises 2-4 below
assert len(thicker_by_style) == len(check_set.STYLES) and len(box_accuracy) == 2 and len(reliability) >= 2
figures = {"preprocessing.png", "check_set.png", "check_set_accuracy.png", "handwriting_mistakes.png"}
assert written == figures, written
""",
    "07_beyond_99": """\
assert len(data.train_y) == 4000 and fast_history.epochs == 1
assert len(fast_history.batch_lr) == -(-4000 // fast.batch_size)  # one epoch of the recipe's batches, rounded up
assert list(steps.index) == ["historical CNN", "FastNet"] and steps.iloc[0, 0] > 5 * steps.iloc[1, 0]  # parameters
assert 0.3 < fast_test.accuracy < 0.99, fast_test
assert abs(ablation.loc["as shipped", "test accuracy (%)"] - 100 * fast_test.accuracy) < 0.5
assert len(ablation) == len(variants) >= 5 and ablation.notna().all().all()
assert not RUN_BEST and "best_model" not in globals()
assert two_history.epochs == 2 and my_loss.ndim == 0  # exercises 2 and 3 ran
assert written == {"fast_history.png", "ablation.png"}, written
""",
}


def quick_parameters(name: str, files: Path | None = None) -> dict:
    """The parameters of ``name``'s quick copy. With ``files``, the files the notebook writes go there (its
    figures too, through MNIST_FIGURE_DIR: see :data:`FIGURE_SETUP`); without, everything goes to the
    notebook's defaults under runs/ (ignored by git)."""
    parameters = dict(QUICK_PARAMETERS[name])
    if files is None:
        return parameters
    if name == "04_grid_search":
        parameters["RESULTS_FILE"] = str(files / "grid_search.db")
    if name == "03_cnn":
        parameters["OUTPUT_DIR"] = str(files / "output")
    if name == "06_your_handwriting":
        parameters.update(
            ROBUST_DIR=str(files / "robust"),
            CHECK_DIR=str(files / "handwriting"),
            CNN_DIR=str(files.parent / "03_cnn" / "output" / "models" / "03_cnn"),
        )  # as 05
    if (
        name == "05_saving_and_loading"
    ):  # 03's CNN, where 03's quick copy saves it (in the same session)
        parameters.update(
            OUTPUT_DIR=str(files / "output"),
            CNN_DIR=str(files.parent / "03_cnn" / "output" / "models" / "03_cnn"),
        )
    return parameters


DETAILS = re.compile(
    r"<details>\s*<summary>\s*(Hint|Solution)\s*</summary>(.*?)</details>", re.DOTALL
)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def exercises(nb) -> list[tuple[str, str | None]]:
    """(solution code, the check its hint gives, or None) for every exercise whose solution holds code.

    Exercises are markdown cells with ``<details><summary>Hint</summary>`` and
    ``<details><summary>Solution</summary>`` blocks. A fenced ```python block in a solution is code the learner
    could have written; one in the hint is the check a learner runs on their own answer.
    """
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        check = None
        for kind, body in DETAILS.findall(cell.source):
            code = "\n".join(PYTHON_BLOCK.findall(body)).strip()
            if kind == "Hint":
                check = code or None
                continue
            if code:
                found.append((code, check))
            check = None
    return found


def exercise_code(nb) -> list[str]:
    """The code of every exercise's solution, each followed by the check its hint gives the learner. The
    harness runs them, in order, after the lesson's cells, so a solution that stops working fails the suite."""
    blocks = []
    for code, check in exercises(nb):
        blocks.append(code if check is None else code + "\n\n# the hint's check\n" + check)
    return blocks


def new_code_cell(source: str, metadata: dict):
    import nbformat

    return nbformat.v4.new_code_cell(source, metadata=metadata)


def first_lesson_cell(nb) -> int:
    """The index of the cell after the parameters (and after papermill's injected parameters, if any)."""
    after = 0
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            after = index + 1
    return after


def prepare(name: str, target: Path, files: Path | None = None, *, checks: bool = True) -> Path:
    """Write the quick copy of notebooks/<name>.ipynb to ``target``, executing nothing; with ``checks`` (which
    needs ``files``) insert :data:`FIGURE_SETUP` before the lesson's cells and append each exercise's solution
    and check, then the harness's checks as the last cell."""
    import nbformat
    import papermill

    if checks and files is None:
        raise ValueError("the checks look at the files the notebook writes: pass files=<a folder>")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if files is not None:
        files.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / f"{name}.ipynb"),
        str(target),
        prepare_only=True,
        parameters=quick_parameters(name, files),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
    )
    if checks:
        nb = nbformat.read(target, as_version=4)
        setup = FIGURE_SETUP.format(figures=str(files.resolve() / "figures"))
        nb.cells.insert(
            first_lesson_cell(nb), new_code_cell(setup, {"tags": ["harness", "harness-setup"]})
        )
        for number, code in enumerate(exercise_code(nb), 1):
            nb.cells.append(new_code_cell(code, {"tags": ["exercise", f"exercise-{number}"]}))
        nb.cells.append(
            nbformat.v4.new_markdown_cell(
                "## Harness checks\n\nAppended by `tests/notebook_harness.py` to this quick copy; not part of the lesson."
            )
        )
        common = COMMON_CHECKS.format(files=str(files.resolve()))
        nb.cells.append(new_code_cell(common + "\n" + CHECKS[name], {"tags": ["harness"]}))
        nbformat.write(nb, target)
    return target


def prepare_all(files: Path, folder: Path = COPY_DIR) -> list[Path]:
    """Replace ``folder``'s notebooks with fresh quick, checked copies of all five; ``files`` gets one
    subfolder per notebook for what it writes."""
    if folder.exists():
        shutil.rmtree(folder)
    return [prepare(name, folder / f"{name}.ipynb", Path(files) / name) for name in NOTEBOOKS]


def data_problem() -> str | None:
    """None when MNIST is there (or was just downloaded), else the resolver's one-line message naming the fix."""
    from mnist_utils.data import MnistDataError, ensure_mnist

    try:
        ensure_mnist()
    except MnistDataError as exc:
        return str(exc)
    return None
