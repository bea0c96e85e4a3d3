"""grid_search: validation before training, one results line per finished trial, resuming after
Ctrl-C, SIGKILL and a torn line. Real MNIST, 500 training images, one epoch of the MLP per trial."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from mnist_utils import History, TrainingDiverged
from mnist_utils import grid_search as gs
from mnist_utils.grid_search import DEFAULT_GRID, grid_search, read_results

GRID = {"lr": [1e-3, 1e-4], "optimizer": ["adam", "sgd"]}  # four quick trials
FIXED = dict(model="mlp", epochs=1, batch_size=100, verbose=False)


@pytest.fixture(scope="module")
def tiny(data_dir):
    from mnist_utils import load_mnist

    return load_mnist(data_dir, train_subset=500, val_size=500, seed=0)


class TrialLog:
    """A grid_search callback that records which trials trained (params of every epoch seen)."""

    def __init__(self, stop_at: int | None = None):
        self.trained: list[dict] = []
        self.stop_at = stop_at

    def __call__(self, params, history):
        self.trained.append(params)
        if self.stop_at is not None and len(self.trained) == self.stop_at:
            raise KeyboardInterrupt


@pytest.fixture
def count_fits(monkeypatch):
    calls = []
    real_fit = gs.fit

    def counting_fit(*args, **kwargs):
        calls.append(args[2])  # the trial's TrainConfig
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(gs, "fit", counting_fit)
    return calls


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_default_grid_is_lr_batch_optimizer(tiny, tmp_path):
    results = grid_search(tiny, model="mlp", epochs=1, verbose=False, results_file=tmp_path / "r.jsonl")
    assert len(results) == 8
    assert set(map(tuple, results[["lr", "batch_size", "optimizer"]].values.tolist())) == {
        (lr, bs, opt) for lr in DEFAULT_GRID["lr"] for bs in DEFAULT_GRID["batch_size"]
        for opt in DEFAULT_GRID["optimizer"]}
    assert results["val_acc"].between(0.0, 1.0).all()
    assert not results["resumed"].any()
    # Adam at 1e-3 learns something in one epoch on 500 images; SGD at 1e-4 barely moves
    best = results.sort_values("val_acc", ascending=False).iloc[0]
    assert best["optimizer"] == "adam" and best["val_acc"] > 0.4


def test_each_trial_is_written_as_it_finishes(tiny, tmp_path):
    path = tmp_path / "results.jsonl"
    seen_lines = []

    def look_at_file(params, history):
        seen_lines.append(len(path.read_text().splitlines()) if path.exists() else 0)

    grid_search(tiny, GRID, results_file=path, callback=look_at_file, **FIXED)
    # the callback of trial n runs before trial n is written, after trials 1..n-1 are
    assert seen_lines == [0, 1, 2, 3]
    records = lines(path)
    assert [r["params"] for r in records] == [
        {"lr": 1e-3, "optimizer": "adam"}, {"lr": 1e-3, "optimizer": "sgd"},
        {"lr": 1e-4, "optimizer": "adam"}, {"lr": 1e-4, "optimizer": "sgd"}]
    assert all(r["status"] == "finished" and 0 <= r["metrics"]["val_acc"] <= 1 for r in records)
    assert records[0]["settings"]["config"]["epochs"] == 1
    assert records[0]["settings"]["model"] == "mlp"
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_rerun_skips_finished_trials(tiny, tmp_path, count_fits):
    path = tmp_path / "results.jsonl"
    first = grid_search(tiny, GRID, results_file=path, **FIXED)
    assert len(count_fits) == 4
    log = TrialLog()
    again = grid_search(tiny, GRID, results_file=path, callback=log, **FIXED)
    assert len(count_fits) == 4 and log.trained == []  # nothing trained the second time
    assert again["resumed"].all()
    assert again["val_acc"].tolist() == first["val_acc"].tolist()
    assert len(lines(path)) == 4


def test_a_changed_fixed_setting_is_a_new_trial(tiny, tmp_path, count_fits):
    path = tmp_path / "results.jsonl"
    grid_search(tiny, {"lr": [1e-3]}, results_file=path, **FIXED)
    grid_search(tiny, {"lr": [1e-3]}, results_file=path, **{**FIXED, "epochs": 2})
    grid_search(tiny, {"lr": [1e-3]}, results_file=path, **FIXED, hparams={"dropout": 0.5})
    assert len(count_fits) == 3
    # a grown grid trains only the new combinations
    results = grid_search(tiny, {"lr": [1e-3, 3e-3]}, results_file=path, **FIXED)
    assert len(count_fits) == 4
    assert results["resumed"].tolist() == [True, False]


def test_keyboard_interrupt_then_resume(tiny, tmp_path):
    path = tmp_path / "results.jsonl"
    with pytest.raises(KeyboardInterrupt):
        grid_search(tiny, GRID, results_file=path, callback=TrialLog(stop_at=3), **FIXED)
    # trials 1 and 2 finished; trial 3 was interrupted in its only epoch, before it was written
    assert [r["params"] for r in lines(path)] == [{"lr": 1e-3, "optimizer": "adam"}, {"lr": 1e-3, "optimizer": "sgd"}]
    log = TrialLog()
    results = grid_search(tiny, GRID, results_file=path, callback=log, **FIXED)
    assert log.trained == [{"lr": 1e-4, "optimizer": "adam"}, {"lr": 1e-4, "optimizer": "sgd"}]
    assert results["resumed"].tolist() == [True, True, False, False]
    assert len(lines(path)) == 4


CHILD = """
import os, signal, sys
from mnist_utils import load_mnist
from mnist_utils.grid_search import grid_search

data = load_mnist(sys.argv[1], train_subset=500, val_size=500, seed=0)
mode = sys.argv[3]
if mode == "in-write":
    # die inside the second write: the temporary file is complete, the rename has not happened
    real_replace, writes = os.replace, []
    def replace_then_die(src, dst):
        writes.append(dst)
        if len(writes) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)
    os.replace = replace_then_die
    callback = None
else:
    # die in the middle of the third trial
    seen = []
    def callback(params, history):
        seen.append(params)
        if len(seen) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
grid_search(data, {"lr": [1e-3, 1e-4], "optimizer": ["adam", "sgd"]}, model="mlp", epochs=1,
            batch_size=100, results_file=sys.argv[2], callback=callback, verbose=False)
"""


@pytest.mark.parametrize("mode, finished", [("mid-trial", 2), ("in-write", 1)])
def test_sigkill_then_resume(tiny, tmp_path, data_dir, mode, finished):
    path = tmp_path / "results.jsonl"
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(data_dir), str(path), mode],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr  # it really was killed, not finished
    assert len(lines(path)) == finished  # every line that is there is whole
    log = TrialLog()
    results = grid_search(tiny, GRID, results_file=path, callback=log, **FIXED)
    assert len(log.trained) == 4 - finished
    assert results["resumed"].sum() == finished
    assert len(lines(path)) == 4


def test_torn_last_line_is_ignored_with_a_warning(tiny, tmp_path, count_fits):
    path = tmp_path / "results.jsonl"
    grid_search(tiny, GRID, results_file=path, **FIXED)
    whole = path.read_text().splitlines()
    # what a killed plain append leaves: two whole lines, then half of the third, no newline
    path.write_text(whole[0] + "\n" + whole[1] + "\n" + whole[2][: len(whole[2]) // 2])
    with pytest.warns(UserWarning, match=r"unreadable line\(s\) \[3\]"):
        assert len(read_results(path)) == 2
    with pytest.warns(UserWarning, match="unreadable"):
        results = grid_search(tiny, GRID, results_file=path, **FIXED)
    assert len(count_fits) == 4 + 2  # trials 3 and 4 ran again, 1 and 2 did not
    assert results["resumed"].tolist() == [True, True, False, False]
    assert len(lines(path)) == 4  # the torn line is gone, the file is whole again


def test_garbage_and_foreign_lines_are_ignored(tiny, tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('not json\n{"a": 1}\n[1, 2]\n\n')
    with pytest.warns(UserWarning, match=r"\[1, 2, 3\]"):
        results = grid_search(tiny, {"lr": [1e-3]}, results_file=path, **FIXED)
    assert results["resumed"].tolist() == [False]
    assert len(lines(path)) == 1


@pytest.mark.parametrize("grid, error, message", [
    ({"learning_rate": [1e-3]}, ValueError, "unknown grid key 'learning_rate'"),
    ({"lr": []}, ValueError, r"grid\['lr'\] is empty"),
    ({"lr": [1e-3, 0]}, ValueError, r"grid\['lr'\] holds a bad value 0: lr must be > 0"),
    ({"optimizer": "adamw"}, ValueError, "unknown optimizer 'adamw'"),
    ({"epochs": ["ten"]}, TypeError, "epochs must be a whole number, got 'ten'"),
    ({"batch_size": [64, 64.0]}, ValueError, "same value twice"),
    ({"batch_size": [64, 1000]}, ValueError, "batch_size 1000 is larger than the training set"),
    ({}, TypeError, "grid must be a non-empty dict"),
    ([("lr", [1e-3])], TypeError, "grid must be a non-empty dict"),
])
def test_bad_grid_fails_before_training(tiny, tmp_path, count_fits, grid, error, message):
    path = tmp_path / "results.jsonl"
    with pytest.raises(error, match=message):
        grid_search(tiny, grid, results_file=path, **FIXED)
    assert count_fits == [] and not path.exists()


def test_bad_model_or_data_fails_before_training(tiny, count_fits):
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        grid_search(tiny, GRID, model="resnet", epochs=1, verbose=False)
    with pytest.raises(TypeError, match="no hyperparameter width"):
        grid_search(tiny, GRID, model="mlp", hparams={"width": 3}, epochs=1, verbose=False)
    with pytest.raises(TypeError, match="unknown training option"):
        grid_search(tiny, GRID, model="mlp", epochs=1, verbose=False, learning_rate=0.1)
    with pytest.raises(TypeError, match="MnistData"):
        grid_search(tiny.train, GRID, model="mlp", epochs=1, verbose=False)
    assert count_fits == []


def test_model_by_name_cnn(tiny, tmp_path):
    results = grid_search(tiny, {"lr": [1e-3]}, model="cnn", epochs=1, batch_size=50,
                          results_file=tmp_path / "r.jsonl", verbose=False)
    assert results["status"].tolist() == ["finished"] and results["val_acc"][0] > 0.5
    assert lines(tmp_path / "r.jsonl")[0]["settings"]["model"] == "cnn"


def test_a_diverged_trial_is_recorded_not_ranked_not_retried(tiny, tmp_path, monkeypatch):
    real_fit = gs.fit

    def fit_that_diverges_at_high_lr(model, data, config, **kwargs):
        if config.lr > 1:
            partial = History(train_loss=[2.3], val_loss=[2.3], val_acc=[0.11], seconds=[0.1])
            raise TrainingDiverged("the loss became nan", partial)
        return real_fit(model, data, config, **kwargs)

    monkeypatch.setattr(gs, "fit", fit_that_diverges_at_high_lr)
    path = tmp_path / "results.jsonl"
    results = grid_search(tiny, {"lr": [1e-3, 5.0]}, results_file=path, **FIXED)
    assert results["status"].tolist() == ["finished", "diverged"]
    assert results["val_acc"].isna().tolist() == [False, True]
    assert results.sort_values("val_acc", ascending=False)["lr"].iloc[0] == 1e-3
    log = TrialLog()
    grid_search(tiny, {"lr": [1e-3, 5.0]}, results_file=path, callback=log, **FIXED)
    assert log.trained == []
