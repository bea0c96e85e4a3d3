"""grid_search as an Optuna study: every setting finished exactly once, through reruns, kill -9 and
two workers; bad input refused before any trial. Real MNIST, a few hundred training images, one MLP
epoch per trial. Several machines on a PostgreSQL server: tests/test_grid_postgres.py."""

from __future__ import annotations

import collections
import functools
import itertools
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
UNFINISHED = (TrialState.RUNNING, TrialState.WAITING)
# heartbeats are "experimental" in Optuna
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


@pytest.fixture(scope="module")
def tiny(data_dir):
    from mnist_utils import load_mnist

    return load_mnist(data_dir, train_subset=300, val_size=300, seed=0)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/study.db"


def trials(url, study="grid", states=None):
    return optuna.load_study(study_name=study, storage=url).get_trials(states=states)


def settings_count(url, keys, study="grid") -> collections.Counter:
    """How many finished (COMPLETE or PRUNED) trials each setting has."""
    counts = collections.Counter()
    for trial in trials(url, study, FINISHED):
        counts[tuple(trial.params[key] for key in keys)] += 1
    return counts


def once_each(grid: dict) -> dict:
    """Every setting of ``grid``, counted once."""
    return dict.fromkeys(itertools.product(*grid.values()), 1)


def test_default_grid_is_a_study_that_reads_back_plainly(tiny, url, count_fits):
    table = grid_search(tiny, storage=url, **{**FIXED, "test": True})
    assert len(count_fits) == 8 and len(table) == 8 and set(table["state"]) == {"COMPLETE"}
    assert settings_count(url, DEFAULT_GRID) == once_each(DEFAULT_GRID)
    study = optuna.load_study(study_name="grid", storage=url)
    for trial in study.trials:
        assert set(trial.params) == {"lr", "batch_size", "optimizer"}  # TrainConfig's names
    columns = set(study.trials_dataframe().columns)
    assert {"params_lr", "params_batch_size", "params_optimizer"} <= columns
    assert {"user_attrs_val_accs", "user_attrs_test_acc", "user_attrs_seconds"} <= columns
    assert "user_attrs_config" in columns
    first = study.trials[0]
    assert first.user_attrs["config"]["epochs"] == 1
    assert first.user_attrs["config"]["lr"] == first.params["lr"]
    assert len(first.user_attrs["val_accs"]) == 1 and first.intermediate_values == {1: first.value}
    assert table["val_acc"].is_monotonic_decreasing and table["test_acc"].between(0, 1).all()
    assert table["seconds"].gt(0).all()
    best = table.iloc[0]
    assert best["optimizer"] == "adam" and best["val_acc"] > 0.3  # Adam learns in one epoch
    again = grid_search(
        tiny, storage=url, **{**FIXED, "test": True}
    )  # the same search: no training
    assert len(count_fits) == 8 and again.equals(table) and len(trials(url)) == 8


def test_a_study_keeps_its_settings(tiny, url, count_fits):
    grid_search(tiny, {"lr": [1e-3]}, storage=url, **FIXED)
    other_epochs = r"study 'grid' was run with other epochs; name a new study"
    with pytest.raises(ValueError, match=other_epochs):
        grid_search(tiny, {"lr": [1e-3]}, storage=url, **{**FIXED, "epochs": 2})
    with pytest.raises(ValueError, match="run with other grid"):  # a study's grid is fixed
        grid_search(tiny, {"lr": [1e-3, 3e-3]}, storage=url, **FIXED)
    grid_search(tiny, {"lr": [1e-3, 3e-3]}, storage=url, study="wider", **FIXED)
    assert len(count_fits) == 3
    one_value = grid_search(tiny, {"lr": 3e-3}, storage=url, study="one", **FIXED)
    assert one_value["lr"].tolist() == [3e-3]


BAD_GRIDS = [
    (
        {"learning_rate": [1e-3]},
        TypeError,
        r"grid\['learning_rate'\] holds a bad value 0.001: unknown training option",
    ),
    ({"lr": []}, TypeError, "non-empty lists"),
    ({"lr": [1e-3, 0]}, ValueError, r"grid\['lr'\] holds a bad value 0: lr must be > 0"),
    (
        {"optimizer": ["adamw"]},
        ValueError,
        r"grid\['optimizer'\] holds a bad value 'adamw': unknown optimizer",
    ),
    ({"epochs": ["ten"]}, TypeError, "epochs must be a whole number, got 'ten'"),
    (
        {"nesterov": [True], "optimizer": ["adam", "sgd"]},
        ValueError,
        "nesterov=True needs optimizer='sgd'",
    ),
    ({"batch_size": [64, 1000]}, ValueError, "batch_size 1000 is larger than the training set"),
    ([("lr", [1e-3])], TypeError, "grid must map settings"),
]


@pytest.mark.parametrize("grid, error, message", BAD_GRIDS)
def test_a_bad_grid_fails_before_any_trial(tiny, tmp_path, count_fits, grid, error, message):
    with pytest.raises(error, match=message):
        grid_search(tiny, grid, storage=f"sqlite:///{tmp_path}/study.db", **FIXED)
    assert count_fits == [] and not (tmp_path / "study.db").exists()


# A server that is down, a wrong password and a missing driver: tests/test_grid_postgres.py
@pytest.mark.parametrize("storage", ["nosuchdb://host/db", "runs/grid.db"])
def test_a_bad_storage_url_fails_before_any_trial(tiny, count_fits, monkeypatch, tmp_path, storage):
    monkeypatch.chdir(tmp_path)
    refused = rf"^cannot open storage '{storage}': .*; use sqlite:///FILE"
    with pytest.raises(ValueError, match=refused):
        grid_search(tiny, QUICK, storage=storage, **FIXED)
    assert count_fits == []
    assert list(tmp_path.iterdir()) == []  # no runs/ folder


def test_pruning_stops_hopeless_settings_and_marks_them(tiny, url):
    table = grid_search(tiny, storage=url, prune=True, **{**FIXED, "epochs": 2})
    pruned = table[table["state"] == "PRUNED"]
    complete = table[table["state"] == "COMPLETE"]
    assert len(pruned) >= 2, table
    assert set(pruned["optimizer"]) == {"sgd"}, table  # SGD at these rates barely moves
    assert pruned["epochs"].eq(1).all() and complete["epochs"].eq(2).all()
    assert set(table[table["optimizer"] == "adam"]["state"]) == {"COMPLETE"}
    assert settings_count(url, DEFAULT_GRID) == once_each(DEFAULT_GRID)


def test_a_duplicate_draw_is_failed_not_trained(tiny, url, count_fits):
    grid_search(tiny, QUICK, storage=url, **FIXED)
    # what parallel workers can meet: GridSampler draws a setting another trial already has
    sampler = optuna.samplers.GridSampler(QUICK, seed=0)
    study = optuna.load_study(study_name="grid", storage=url, sampler=sampler)
    objective = functools.partial(
        gs.run_trial,
        data=tiny,
        model="mlp",
        hparams=None,
        base=gs.TrainConfig(epochs=1),
        grid=QUICK,
        test=False,
        device=None,
    )
    for _ in range(2):
        study.optimize(objective, n_trials=1, catch=(gs.DuplicateSetting,))
    assert len(count_fits) == 4
    assert [trial.state for trial in study.trials[4:]] == [TrialState.FAIL] * 2


def test_two_workers_share_the_grid(tiny, url):
    grid = {"lr": [1e-3, 1e-4], "batch_size": [50, 100], "optimizer": ["adam", "sgd"]}  # 8 settings
    table = grid_search(tiny, grid, storage=url, workers=2, **{**FIXED, "epochs": 2})
    assert len(table) == 8 and settings_count(url, grid) == once_each(grid)
    done = trials(url, states=FINISHED)
    workers = set()
    threads = set()
    for trial in done:
        workers.add(trial.user_attrs["worker"])
        threads.add(trial.user_attrs["config"]["threads"])
    assert len(workers) == 2, "both worker processes ran trials"
    assert threads == {max(1, torch.get_num_threads() // 2)}
    assert not trials(url, states=UNFINISHED)


# The command line in a child process, with a short grace period: a killed trial is taken up within
# seconds.
CLI = (
    "import sys; import mnist_utils.grid_search as g; g.GRACE = 3; "
    "from mnist_utils.cli import main; sys.exit(main())"
)
GRID_ARGS = ["grid", "--model", "mlp", "--train-subset", "1000", "--val-size", "200"]
QUICK_ARGS = ["--grid", "lr=0.001,0.0001", "optimizer=adam,sgd"]


def cli(data_dir, url, *extra):
    storage_args = ["--storage", url, "--data-dir", str(data_dir)]
    return [sys.executable, "-c", CLI, *GRID_ARGS, *QUICK_ARGS, *storage_args, *extra]


COMPLETE_TRIALS = "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"
RUNNING_TRIALS = """SELECT number, value_json
    FROM trials JOIN trial_user_attributes USING (trial_id)
    WHERE state = 'RUNNING' AND key = 'worker'"""


def study_progress(db) -> tuple[int, list[tuple[int, int]]]:
    """How many trials are COMPLETE, and (number, worker pid) of each trial training now."""
    try:
        with sqlite3.connect(db) as connection:
            complete = connection.execute(COMPLETE_TRIALS).fetchone()[0]
            rows = connection.execute(RUNNING_TRIALS).fetchall()
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0, []
    running = []
    for number, worker_json in rows:
        worker = json.loads(worker_json)  # "hostname:pid"
        running.append((number, int(worker.rsplit(":", 1)[1])))
    return complete, running


def kill_when_running(db, finished_first: int, owner) -> int:
    """SIGKILL the process running a trial (``owner(pid)`` true) once ``finished_first`` trials are
    COMPLETE; return that trial's number."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        complete, running = study_progress(db)
        for number, pid in running:
            if owner(pid) and complete >= finished_first:
                os.kill(pid, signal.SIGKILL)
                return number
        time.sleep(0.02)  # polling interval, not a wait for an outcome
    pytest.fail("no trial was seen running")


def test_kill_9_mid_trial_then_the_same_command_again(data_dir, tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    first = subprocess.Popen(
        cli(data_dir, url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )

    def is_first(pid):
        return pid == first.pid

    killed = kill_when_running(tmp_path / "study.db", 1, is_first)
    assert first.wait() == -signal.SIGKILL
    before = {}
    for trial in trials(url, states=FINISHED):
        before[trial.number] = trial.datetime_complete
    again = subprocess.run(cli(data_dir, url), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert settings_count(url, QUICK) == once_each(QUICK)
    after = {}
    for trial in trials(url, states=FINISHED):
        after[trial.number] = trial.datetime_complete
    assert before, "a trial finished before the kill"
    for number, finished_at in before.items():
        assert after[number] == finished_at, "finished trials were not run again"
    assert trials(url)[killed].state == TrialState.FAIL  # its heartbeat stopped; a retry ran it
    assert not trials(url, states=UNFINISHED)


def test_a_worker_killed_mid_trial_is_taken_up(data_dir, tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    run = subprocess.Popen(
        cli(data_dir, url, "--workers", "2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def is_a_worker(pid):  # one of the two worker processes, not the command's own
        return pid != run.pid

    killed = kill_when_running(tmp_path / "study.db", 0, is_a_worker)
    _, err = run.communicate(timeout=180)
    assert run.returncode == 0, err
    assert trials(url)[killed].state == TrialState.FAIL
    assert settings_count(url, QUICK) == once_each(QUICK)
    assert not trials(url, states=UNFINISHED)
