"""Grid search as an Optuna study: a GridSampler over TrainConfig fields, one ``fit`` per trial.

The study lives in a database, so a killed search resumes where it stopped, and several workers
(processes of one machine, or machines sharing one database server) share its grid. A running
trial beats a heartbeat (grid_storage.py); once a dead worker's trial has missed its heartbeats for
a while, another worker fails it and trains that setting again.
"""

import functools
import itertools
import json
import os
import time
import warnings

import optuna
import torch
from optuna.trial import TrialState

from .config import TrainConfig, TrainingDiverged
from .evaluate import evaluate
from .grid_storage import HEARTBEAT, open_storage
from .models import build_model
from .train import fit
from .validation import check_int

DEFAULT_GRID = {"lr": [1e-3, 1e-4], "batch_size": [64, 128], "optimizer": ["adam", "sgd"]}
# relative to the current folder; runs/ is ignored by git
DEFAULT_STORAGE = "sqlite:///runs/grid/grid_search.db"


class DuplicateSetting(Exception):
    """Parallel workers drew a setting that another trial has: this trial is failed, not run."""


def check_grid(grid, base: TrainConfig) -> dict:
    """``grid`` (TrainConfig field -> values; one value counts as a list of one), each value
    checked by TrainConfig."""
    if not isinstance(grid, dict) or not grid or [] in grid.values() or () in grid.values():
        raise TypeError(
            "grid must map settings to non-empty lists of values, "
            f"e.g. {DEFAULT_GRID}, got {grid!r}"
        )
    checked = {}
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)):
            values = [values]
        checked[key] = []
        for value in values:
            checked[key].append(_check_value(base, key, value))
    return checked


def _check_value(base: TrainConfig, key: str, value):
    try:
        return getattr(base.replace(**{key: value}), key)  # TrainConfig checks it
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"grid[{key!r}] holds a bad value {value!r}: {exc}") from None


def _check_settings(grid: dict, base: TrainConfig, train_size: int) -> None:
    """Each setting as a whole: a value fine alone can be wrong with another (nesterov, adam)."""
    for combination in itertools.product(*grid.values()):
        batch_size = base.replace(**dict(zip(grid, combination))).batch_size
        if batch_size > train_size:
            raise ValueError(
                f"batch_size {batch_size} is larger than the training set ({train_size} images); "
                "use smaller batch sizes or a larger train_subset"
            )


def _record_heartbeat(trial) -> None:
    """A heartbeat now, not at the heartbeat thread's first beat: a trial killed before its first
    beat would never turn stale, and its setting would never be retried."""
    storage = trial.storage
    study_id = storage.get_study_id_from_name(trial.study.study_name)
    storage.record_heartbeat(
        storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
    )


def _refuse_duplicate(trial, params: dict) -> None:
    taken = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    for other in trial.study.get_trials(deepcopy=False, states=taken):
        if other.params == params and other.number != trial.number:
            raise DuplicateSetting(
                f"trial {trial.number} not run: trial {other.number} has the settings {params}"
            )


def run_trial(trial, data, model, hparams, base, grid, test, device):
    """The objective: train one setting, report each epoch's validation accuracy to the pruner,
    record the results as the trial's user attributes."""
    _record_heartbeat(trial)
    params = {}
    for key, values in grid.items():
        params[key] = trial.suggest_categorical(key, values)
    _refuse_duplicate(trial, params)
    config = base.replace(**params)
    start = time.perf_counter()
    trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")

    # after every epoch; True stops fit when the pruner finds the trial hopeless
    def report(history):
        trial.report(history.val_acc[-1], history.epochs)
        return history.epochs < config.epochs and trial.should_prune()

    try:
        net, history = fit(
            model, data, config, hparams=hparams, device=device, callback=report, progress=False
        )
    except TrainingDiverged as exc:  # a result too: recorded as pruned, never run again
        raise optuna.TrialPruned(str(exc)) from None
    test_acc = None
    if test and not history.stopped_early:
        test_acc = evaluate(net, data.test).accuracy
    results = {
        "val_accs": history.val_acc,
        "val_acc": history.val_acc[-1],
        "epochs": history.epochs,
        "test_acc": test_acc,
        "config": vars(config),
        "seconds": time.perf_counter() - start,
    }
    for key, value in results.items():
        trial.set_user_attr(key, value)
    if history.stopped_early:
        raise optuna.TrialPruned()
    return results["val_acc"]


def settings_by_state(trials, grid: dict) -> dict:
    """TrialState -> the settings (value tuples, in the grid's order) of its trials."""
    settings = {state: set() for state in TrialState}
    for trial in trials:
        settings[trial.state].add(tuple(trial.params.get(key) for key in grid))
    return settings


def _fail_stale_trials(study) -> None:
    """A trial whose worker died: failed, and queued again (RetryHeartbeatStaleTrialCallback)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def run_worker(storage, study_name: str, grid: dict, prune: bool, objective) -> None:
    """One worker: run trials until every setting of the grid is finished (COMPLETE or PRUNED)."""
    if prune:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=3)
    else:
        pruner = optuna.pruners.NopPruner()
    sampler = optuna.samplers.GridSampler(grid, seed=0)
    study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
    )
    every_setting = set(itertools.product(*grid.values()))
    while True:
        _fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        settings = settings_by_state(trials, grid)
        unfinished = every_setting - settings[TrialState.COMPLETE] - settings[TrialState.PRUNED]
        unclaimed = unfinished - settings[TrialState.RUNNING]
        queued = any(trial.state == TrialState.WAITING for trial in trials)
        if not unfinished and not queued:
            return
        if not unclaimed and not queued:
            time.sleep(HEARTBEAT)  # other workers run the rest: wait for them, or their death
        elif study.sampler.is_exhausted(study) and not queued:
            # the sampler drew every setting, yet one is unfinished (its trial crashed): queue it
            study.enqueue_trial(dict(zip(grid, min(unclaimed))))
        else:
            study.optimize(objective, n_trials=1, catch=(DuplicateSetting,))


def _open_study(storage, name: str, settings: dict):
    """Study ``name``, created if new; refused if it was run with other settings (its trials would
    not be comparable: one grid, one set of fixed settings per study)."""
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True
    )
    if "settings" not in study.user_attrs:  # a new study records what its trials share
        study.set_user_attr("settings", settings)
    recorded = study.user_attrs["settings"]
    if recorded != settings:
        changed = []
        for key, value in settings.items():
            if recorded.get(key) != value:
                changed.append(key)
        raise ValueError(
            f"study {name!r} was run with other {', '.join(changed)}; "
            "name a new study (--study NAME) or keep them"
        )
    return study


def _plain_column(name: str) -> str:
    """trials_dataframe's column names without their prefixes: params_lr -> lr."""
    return name.removeprefix("params_").removeprefix("user_attrs_")


def _results_table(study, grid: dict):
    table = study.trials_dataframe(attrs=("number", "params", "user_attrs", "state"))
    table = table[table["state"].isin(["COMPLETE", "PRUNED"])].rename(columns=_plain_column)
    columns = [*grid, "state", "epochs", "val_acc", "test_acc", "seconds", "val_accs", "number"]
    table = table.sort_values("val_acc", ascending=False, kind="stable").reindex(columns=columns)
    return table.reset_index(drop=True)


def _run_workers(worker: dict, count: int) -> None:
    """``count`` processes share the grid (none when count is 1); then this process takes whatever a
    crashed worker left (normally nothing), or, alone, does all the work."""
    spawn = torch.multiprocessing.get_context("spawn")  # tensors reach the workers in shared memory
    processes = []
    if count > 1:
        for _ in range(count):
            processes.append(spawn.Process(target=run_worker, kwargs=worker))
    # each runs until the grid is finished; the others take up a dead one's trial
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    run_worker(**worker)


def grid_search(
    data,
    grid: dict | None = None,
    *,
    model: str = "cnn",
    hparams: dict | None = None,
    config: TrainConfig | None = None,
    storage: str | None = None,
    study: str = "grid",
    workers: int = 1,
    prune: bool = False,
    test: bool = True,
    device=None,
    **options,
):
    """Train ``model`` once per setting of ``grid`` as study ``study`` in ``storage`` (a database
    URL); return the finished trials, best validation accuracy first. ``config`` and ``options``
    (``epochs=2``) fix the rest."""
    build_model(model, **(hparams or {}))  # checks the name and hyperparameters up front
    base = (config or TrainConfig()).replace(**options)
    grid = check_grid(DEFAULT_GRID if grid is None else grid, base)
    worker_count = check_int("workers", workers, minimum=1)
    _check_settings(grid, base, len(data.train_y))
    database = open_storage(storage or DEFAULT_STORAGE)
    data_summary = [len(data.train_y), len(data.val_y), data.normalize]
    settings = {"model": model, "hparams": hparams or {}, "grid": grid, "data": data_summary}
    settings.update(vars(base))
    settings["threads"] = None  # how many threads trained is no part of what a trial means
    # as the database gives it back (tuples become lists), to compare with a study's record
    settings = json.loads(json.dumps(settings))
    optuna_study = _open_study(database, study, settings)
    # N workers share the CPU: each gets its share of the threads
    base = base.replace(threads=base.threads or max(1, torch.get_num_threads() // worker_count))
    objective = functools.partial(
        run_trial,
        data=data,
        model=model,
        hparams=hparams,
        base=base,
        grid=grid,
        test=test,
        device=device,
    )
    worker = {
        "storage": database,
        "study_name": study,
        "grid": grid,
        "prune": prune,
        "objective": objective,
    }
    _run_workers(worker, worker_count)
    return _results_table(optuna_study, grid)
