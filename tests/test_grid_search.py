"""grid_search as an Optuna study: every setting finished exactly once, through reruns, kill -9 and two workers;
bad input refused before any trial. Real MNIST, a few hundred training images, one MLP epoch per trial."""
from __future__ import annotations

import collections
import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import optuna
import pytest
import torch
from optuna.trial import TrialState

from mnist_utils import grid_search as gs
from mnist_utils.grid_search import DEFAULT_GRID, grid_search

QUICK = {"lr": [1e-3, 1e-4], "optimizer": ["adam", "sgd"]}  # four quick settings
FIXED = dict(model="mlp", epochs=1, batch_size=50, test=False)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # heartbeats


@pytest.fixture(scope="module")
def tiny(data_dir):
    from mnist_utils import load_mnist

    return load_mnist(data_dir, train_subset=300, val_size=300, seed=0)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/study.db"


@pytest.fixture
def count_fits(monkeypatch):
    calls = []
    real_fit = gs.fit

    def counting_fit(*args, **kwargs):
        calls.append(args[2])  # the trial's TrainConfig
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(gs, "fit", counting_fit)
    return calls


def trials(url, study="grid", states=None):
    return optuna.load_study(study_name=study, storage=url).get_trials(states=states)


def settings_count(url, keys, study="grid"):
    """How many finished (COMPLETE or PRUNED) trials each setting has."""
    return collections.Counter(tuple(t.params[k] for k in keys) for t in trials(url, study, FINISHED))


def test_default_grid_is_a_study_that_reads_back_plainly(tiny, url, count_fits):
    table = grid_search(tiny, storage=url, **{**FIXED, "test": True})
    assert len(count_fits) == 8 and len(table) == 8 and set(table["state"]) == {"COMPLETE"}
    assert settings_count(url, DEFAULT_GRID) == {(lr, bs, opt): 1 for lr in DEFAULT_GRID["lr"]
                                                 for bs in DEFAULT_GRID["batch_size"] for opt in DEFAULT_GRID["optimizer"]}
    study = optuna.load_study(study_name="grid", storage=url)
    assert all(set(t.params) == {"lr", "batch_size", "optimizer"} for t in study.trials)  # TrainConfig's names
    frame = study.trials_dataframe()
    assert {"params_lr", "params_batch_size", "params_optimizer", "user_attrs_val_accs", "user_attrs_test_acc",
            "user_attrs_seconds", "user_attrs_config"} <= set(frame.columns)
    first = study.trials[0]
    assert first.user_attrs["config"]["epochs"] == 1 and first.user_attrs["config"]["lr"] == first.params["lr"]
    assert len(first.user_attrs["val_accs"]) == 1 and first.intermediate_values == {1: first.value}
    assert table["val_acc"].is_monotonic_decreasing and table["test_acc"].between(0, 1).all()
    assert table["seconds"].gt(0).all()
    assert table.iloc[0]["optimizer"] == "adam" and table.iloc[0]["val_acc"] > 0.3  # Adam learns in one epoch
    again = grid_search(tiny, storage=url, **{**FIXED, "test": True})  # the same search again: nothing trains
    assert len(count_fits) == 8 and again.equals(table) and len(trials(url)) == 8


def test_a_study_keeps_its_settings(tiny, url, count_fits):
    grid_search(tiny, {"lr": [1e-3]}, storage=url, **FIXED)
    with pytest.raises(ValueError, match=r"study 'grid' was run with other epochs; name a new study"):
        grid_search(tiny, {"lr": [1e-3]}, storage=url, **{**FIXED, "epochs": 2})
    with pytest.raises(ValueError, match="run with other grid"):  # GridSampler's grid is fixed for a study
        grid_search(tiny, {"lr": [1e-3, 3e-3]}, storage=url, **FIXED)
    grid_search(tiny, {"lr": [1e-3, 3e-3]}, storage=url, study="wider", **FIXED)
    assert len(count_fits) == 3
    assert grid_search(tiny, {"lr": 3e-3}, storage=url, study="one", **FIXED)["lr"].tolist() == [3e-3]  # one value


@pytest.mark.parametrize("grid, error, message", [
    ({"learning_rate": [1e-3]}, TypeError, r"grid\['learning_rate'\] holds a bad value 0.001: unknown training option"),
    ({"lr": []}, TypeError, "non-empty lists"),
    ({"lr": [1e-3, 0]}, ValueError, r"grid\['lr'\] holds a bad value 0: lr must be > 0"),
    ({"optimizer": ["adamw"]}, ValueError, r"grid\['optimizer'\] holds a bad value 'adamw': unknown optimizer"),
    ({"epochs": ["ten"]}, TypeError, "epochs must be a whole number, got 'ten'"),
    ({"nesterov": [True], "optimizer": ["adam", "sgd"]}, ValueError, "nesterov=True needs optimizer='sgd'"),
    ({"batch_size": [64, 1000]}, ValueError, "batch_size 1000 is larger than the training set"),
    ([("lr", [1e-3])], TypeError, "grid must map settings"),
])
def test_a_bad_grid_fails_before_any_trial(tiny, tmp_path, count_fits, grid, error, message):
    with pytest.raises(error, match=message):
        grid_search(tiny, grid, storage=f"sqlite:///{tmp_path}/study.db", **FIXED)
    assert count_fits == [] and not (tmp_path / "study.db").exists()


@pytest.mark.parametrize("storage", ["nosuchdb://host/db", "postgresql://user:pw@127.0.0.1:9/mnist", "runs/grid.db"])
def test_a_bad_storage_url_fails_before_any_trial(tiny, count_fits, storage):
    with pytest.raises(ValueError, match=rf"cannot open storage '{storage}': .*; use sqlite:///FILE"):
        grid_search(tiny, QUICK, storage=storage, **FIXED)
    assert count_fits == []


def test_pruning_stops_hopeless_settings_and_marks_them(tiny, url):
    table = grid_search(tiny, storage=url, prune=True, **{**FIXED, "epochs": 2})
    pruned = table[table["state"] == "PRUNED"]
    assert len(pruned) >= 2 and set(pruned["optimizer"]) == {"sgd"}, table  # SGD at these rates barely moves
    assert pruned["epochs"].eq(1).all() and table[table["state"] == "COMPLETE"]["epochs"].eq(2).all()
    assert set(table[table["optimizer"] == "adam"]["state"]) == {"COMPLETE"}
    assert settings_count(url, DEFAULT_GRID) == dict.fromkeys(settings_count(url, DEFAULT_GRID), 1)
    assert len(settings_count(url, DEFAULT_GRID)) == 8


def test_a_duplicate_draw_is_failed_not_trained(tiny, url, count_fits):
    grid_search(tiny, QUICK, storage=url, **FIXED)
    # what parallel workers can meet: GridSampler draws a setting another trial already has
    study = optuna.load_study(study_name="grid", storage=url, sampler=optuna.samplers.GridSampler(QUICK, 0))
    objective = functools.partial(gs._trial, data=tiny, model="mlp", hparams=None, base=gs.TrainConfig(epochs=1),
                                  grid=QUICK, test=False, device=None)
    for _ in range(2):
        study.optimize(objective, n_trials=1, catch=(gs.Duplicate,))
    assert len(count_fits) == 4
    assert [t.state for t in study.trials[4:]] == [TrialState.FAIL] * 2


def test_two_workers_share_the_grid(tiny, url):
    grid = {"lr": [1e-3, 1e-4], "batch_size": [50, 100], "optimizer": ["adam", "sgd"]}  # 8 settings
    table = grid_search(tiny, grid, storage=url, workers=2, **{**FIXED, "epochs": 2})
    assert len(table) == 8 and settings_count(url, grid) == dict.fromkeys(settings_count(url, grid), 1)
    assert len(settings_count(url, grid)) == 8
    done = trials(url, states=FINISHED)
    assert len({t.user_attrs["worker"] for t in done}) == 2, "both worker processes ran trials"
    assert {t.user_attrs["config"]["threads"] for t in done} == {max(1, torch.get_num_threads() // 2)}
    assert not trials(url, states=(TrialState.RUNNING, TrialState.WAITING))


# The CLI in a child process, with a short grace period so that a killed trial is taken up within seconds.
CLI = "import sys; import mnist_utils.grid_search as g; g.GRACE = 3; from mnist_utils.cli import main; sys.exit(main())"


def cli(data_dir, url, *extra):
    return [sys.executable, "-c", CLI, "grid", "--model", "mlp", "--train-subset", "1000", "--val-size", "200",
            "--grid", "lr=0.001,0.0001", "optimizer=adam,sgd", "--storage", url, "--data-dir", str(data_dir), *extra]


RUNNING_IN = """SELECT number, value_json FROM trials JOIN trial_user_attributes USING (trial_id)
                WHERE state = 'RUNNING' AND key = 'worker'"""


def kill_when_running(db, finished_first: int, owner) -> int:
    """SIGKILL the process running a trial (``owner(pid)`` true) once ``finished_first`` trials are COMPLETE;
    return that trial's number."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as connection:
                complete = connection.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
                running = [(n, int(json.loads(w).rsplit(":", 1)[1])) for n, w in connection.execute(RUNNING_IN)]
        except sqlite3.OperationalError:  # the tables are not there yet
            complete, running = 0, []
        running = [(number, pid) for number, pid in running if owner(pid)]
        if running and complete >= finished_first:
            os.kill(running[0][1], signal.SIGKILL)
            return running[0][0]
        time.sleep(0.02)
    pytest.fail("no trial was seen running")


def test_kill_9_mid_trial_then_the_same_command_again(data_dir, tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    first = subprocess.Popen(cli(data_dir, url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killed = kill_when_running(tmp_path / "study.db", 1, lambda pid: pid == first.pid)
    assert first.wait() == -9
    before = {t.number: t.datetime_complete for t in trials(url, states=FINISHED)}
    again = subprocess.run(cli(data_dir, url), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert settings_count(url, QUICK) == {(lr, opt): 1 for lr in QUICK["lr"] for opt in QUICK["optimizer"]}
    after = {t.number: t.datetime_complete for t in trials(url, states=FINISHED)}
    assert before and all(after[n] == when for n, when in before.items()), "finished trials were not run again"
    assert trials(url)[killed].state == TrialState.FAIL  # its heartbeat stopped; a later trial ran it again
    assert not trials(url, states=(TrialState.RUNNING, TrialState.WAITING))


def test_a_worker_killed_mid_trial_is_taken_up(data_dir, tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    run = subprocess.Popen(cli(data_dir, url, "--workers", "2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    killed = kill_when_running(tmp_path / "study.db", 0, lambda pid: pid != run.pid)  # one of its two workers
    _, err = run.communicate(timeout=180)
    assert run.returncode == 0, err
    assert trials(url)[killed].state == TrialState.FAIL
    assert settings_count(url, QUICK) == {(lr, opt): 1 for lr in QUICK["lr"] for opt in QUICK["optimizer"]}
    assert not trials(url, states=(TrialState.RUNNING, TrialState.WAITING))
