"""Quick, checked copies of the course notebooks, for nbval to execute: each notebook runs once per test session.

The notebooks in notebooks/ hold plain parameters at the learner's defaults. For the tests, :func:`prepare_all`
writes a copy of each into ``tests/output/notebooks/`` (ignored by git) with papermill's ``prepare_only=True``:
papermill injects a cell with :data:`QUICK_PARAMETERS` right after the notebook's ``parameters`` cell and executes
nothing. The harness then appends a cell of checks: what the notebook must produce at those settings (the
parameters were used, accuracies in a plausible range, the expected figures and files written into the temporary
folders it passed). The root ``conftest.py`` calls :func:`prepare_all` when a test session starts, and nbval
(``--nbval-lax`` in pyproject.toml) executes the copies, cell by cell, in a kernel started in that folder.
``python -m pytest tests/output/notebooks`` runs only the notebooks.
"""
from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
COPY_DIR = ROOT / "tests" / "output" / "notebooks"  # git-ignored (tests/output/)
NOTEBOOKS = ["01_exploration", "02_mlp", "03_cnn", "04_grid_search", "05_saving_and_loading", "06_your_handwriting",
             "07_beyond_99"]

# Small enough that the notebooks run in about a minute on a 2-core CPU, large enough to learn something.
QUICK_PARAMETERS = {
    "01_exploration": {},  # no training: it runs as a learner runs it
    "02_mlp": {"EPOCHS": 1, "TRAIN_SUBSET": 2000, "LOOP_EPOCHS": 1, "COMPARE_EPOCHS": 1, "COMPARE_SUBSET": 1000},
    "03_cnn": {"EPOCHS": 1, "TRAIN_SUBSET": 2000, "BATCH_SIZE": 64},
    "04_grid_search": {"EPOCHS": 2, "TRAIN_SUBSET": 500, "VAL_SIZE": 500},  # two epochs: pruning needs one to spare
    "05_saving_and_loading": {"EPOCHS": 1, "TRAIN_SUBSET": 2000},
    "06_your_handwriting": {"ROBUST_EPOCHS": 1, "CNN_EPOCHS": 1, "TRAIN_SUBSET": 2000},
    "07_beyond_99": {"TRAIN_SUBSET": 4000},  # the fast recipe and its ablation: one-epoch runs of 8-32 steps
}

# Appended to every copy, before the notebook's own checks. `files` is the temporary folder the harness passed.
COMMON_CHECKS = '''\
# Harness checks, appended by tests/notebook_harness.py to the quick copy; not part of the lesson.
from pathlib import Path

files = Path(FIGURE_DIR).parent
assert figures.folder == Path(FIGURE_DIR).resolve(), f"figures went to {figures.folder}, not FIGURE_DIR"
written = {p.name for p in Path(FIGURE_DIR).glob("*.png") if p.stat().st_size > 5000}
'''

CHECKS = {
    "01_exploration": '''\
assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (55_000, 5_000, 10_000)
assert abs(scaled.mean().item() - 0.1307) < 1e-4 and abs(scaled.std().item() - 0.3081) < 1e-4
assert 0.78 < nearest_mean_accuracy < 0.86, nearest_mean_accuracy
expected = {"samples.png", "class_balance.png", "pixel_histogram.png", "mean_digits.png"}
assert set(figures.names) == expected == written, (figures.names, written)
''',
    "02_mlp": '''\
assert len(data.train_y) == 2000 and history.epochs == 1, "the parameters were not used"
assert 0.6 < test.accuracy < 0.95, test  # one epoch on 2,000 images: learned, but far from 98 %
assert count_parameters(mlp) == 235_146 and torch.isclose(by_hand, F.cross_entropy(logits, label))
assert torch.allclose(last.bias.grad, (probs - F.one_hot(label, 10))[0].detach(), atol=1e-6)
assert identical is True and 0.5 < val_acc < 0.95, (identical, val_acc)  # section 5: the loop is fit's
assert len(small.train_y) == 1000 and compare_config.epochs == 1 and len(comparison) == 6
assert written == {"mlp_history.png"}, written
''',
    "03_cnn": '''\
assert len(data.train_y) == 2000 and history.epochs == 1, "the parameters were not used"
assert torch.allclose(loops, feature_map, atol=1e-5) and torch.isclose(by_hand, feature_map[row, col])
assert count_parameters(ours) == count_parameters(package) == 1_625_866 and x.shape == (1, 10)
assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), package.state_dict().values()))
assert 0.7 < test.accuracy < 0.97, test
assert len(history.batch_loss) == len(history.batch_lr) == 32  # the curve's points: one per batch
assert 0.5 < mlp_test.accuracy < test.accuracy, (mlp_test, test)
assert int((digits != data.test_y).sum()) == round((1 - test.accuracy) * 10_000)
assert state_path == (files / "output" / "models" / "03_cnn" / "mnist_model_state.pth").resolve() and state_path.is_file()
assert written == {"results.png", "confusion_matrix.png", "misclassified.png", "feature_maps.png"}, written
''',
    "04_grid_search": '''\
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
assert written == {"grid_search.png"}, written
''',
    "05_saving_and_loading": '''\
# nbval runs 03 first: its CNN is loaded, not retrained (run alone, 05 trains one and says so)
assert loaded_from_03 == (files.parent / "03_cnn" / "output" / "models" / "03_cnn" / "mnist_model_state.pth").is_file()
assert state_path.parent == (cnn_dir if loaded_from_03 else output / "trained_here")
assert 0.7 < test.accuracy < 0.97, test
assert identical_predictions is True
assert output == (files / "output").resolve() and model_dir == output / "models"
assert sorted(p.name for p in model_dir.iterdir()) == ["mnist_model.json", "mnist_model_full.pth",
                                                      "mnist_model_state.pth"]
assert len(list(digit_dir.glob("*.png"))) == len(paths) == 8
right = sum(t == p for t, p in zip(true_digits, file_digits.tolist()))
assert right >= 5, (true_digits, file_digits.tolist())
assert written == {"file_predictions.png"}, written
''',
    "06_your_handwriting": '''\
assert len(data.train_y) == 2000 and robust_dir == (files / "robust").resolve(), "the parameters were not used"
assert len(check_y) == 550 and set(results) == {"plain CNN", "robust"}
assert all(0.3 < 1 - len(wrong) / 550 <= 1 for _, _, wrong in results.values())
assert 0.05 < robust.metrics["temperature"] < 20 and pad.answer.value.startswith("Draw a digit")
assert written == {"handwriting_mistakes.png"}, written
''',
    "07_beyond_99": '''\
assert len(data.train_y) == 4000 and fast_history.epochs == 1
assert len(fast_history.batch_lr) == -(-4000 // fast.batch_size)  # one epoch of the recipe's batches, rounded up
assert list(steps.index) == ["historical CNN", "FastNet"] and steps.iloc[0, 0] > 5 * steps.iloc[1, 0]  # parameters
assert 0.3 < fast_test.accuracy < 0.99, fast_test
assert abs(ablation.loc["as shipped", "test accuracy (%)"] - 100 * fast_test.accuracy) < 0.5
assert len(ablation) == len(variants) >= 5 and ablation.notna().all().all()
assert not RUN_BEST and "best_model" not in globals()
assert written == {"fast_history.png"}, written
''',
}


def quick_parameters(name: str, files: Path | None = None) -> dict:
    """The parameters of ``name``'s quick copy. With ``files``, everything the notebook writes goes there
    (figures included); without, everything goes to the notebook's defaults under runs/ (ignored by git)."""
    parameters = dict(QUICK_PARAMETERS[name])
    if files is None:
        return parameters
    parameters["FIGURE_DIR"] = str(files / "figures")
    if name == "04_grid_search":
        parameters["RESULTS_FILE"] = str(files / "grid_search.db")
    if name == "03_cnn":
        parameters["OUTPUT_DIR"] = str(files / "output")
    if name == "06_your_handwriting":
        parameters.update(ROBUST_DIR=str(files / "robust"), CHECK_DIR=str(files / "handwriting"))
    if name == "05_saving_and_loading":  # 03's CNN, where 03's quick copy saves it (in the same session)
        parameters.update(OUTPUT_DIR=str(files / "output"),
                          CNN_DIR=str(files.parent / "03_cnn" / "output" / "models" / "03_cnn"))
    return parameters


def prepare(name: str, target: Path, files: Path | None = None, *, checks: bool = True) -> Path:
    """Write the quick copy of notebooks/<name>.ipynb to ``target``, executing nothing; with ``checks`` (which
    needs ``files``) append the harness's checks as the last cell."""
    import nbformat
    import papermill

    if checks and files is None:
        raise ValueError("the checks look at the files the notebook writes: pass files=<a folder>")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if files is not None:
        files.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"), str(target), prepare_only=True,
                               parameters=quick_parameters(name, files), kernel_name="python3",
                               progress_bar=False, log_output=False)
    if checks:
        nb = nbformat.read(target, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell(
            "## Harness checks\n\nAppended by `tests/notebook_harness.py` to this quick copy; not part of the lesson."))
        nb.cells.append(nbformat.v4.new_code_cell(COMMON_CHECKS + "\n" + CHECKS[name], metadata={"tags": ["harness"]}))
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

