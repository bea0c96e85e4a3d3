"""Grid search as an Optuna study: GridSampler over TrainConfig fields, one ``fit`` per trial, kept in a database so a
killed search resumes and workers share the grid; a dead worker's trial is failed after GRACE seconds and retried."""
import functools
import itertools
import json
import os
import time
import warnings

import optuna
import torch
from optuna.storages import RetryHeartbeatStaleTrialCallback as RETRY
from optuna.trial import TrialState as State

from .config import TrainConfig, TrainingDiverged
from .evaluate import evaluate
from .models import build_model
from .train import fit
from .validation import check_int

DEFAULT_GRID = {"lr": [1e-3, 1e-4], "batch_size": [64, 128], "optimizer": ["adam", "sgd"]}
DEFAULT_STORAGE = "sqlite:///runs/grid/grid_search.db"  # relative to the current folder; runs/ is ignored by git
HEARTBEAT, GRACE = 2, 10  # seconds: a RUNNING trial without a heartbeat for GRACE seconds is failed and retried


class Duplicate(Exception):
    """Parallel workers drew a setting that another trial has: this trial is failed, not run."""


def check_grid(grid, base: TrainConfig) -> dict:
    """``grid`` (TrainConfig field -> values; one value counts as a list of one), each value checked by TrainConfig."""
    if not isinstance(grid, dict) or not grid or [] in grid.values() or () in grid.values():
        raise TypeError(f"grid must map settings to non-empty lists of values, e.g. {DEFAULT_GRID}, got {grid!r}")
    checked = {key: [] for key in grid}
    for key, value in [(k, v) for k, vs in grid.items() for v in (vs if isinstance(vs, (list, tuple)) else [vs])]:
        try:
            checked[key].append(getattr(base.replace(**{key: value}), key))  # TrainConfig checks it
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"grid[{key!r}] holds a bad value {value!r}: {exc}") from None
    return checked


def _trial(trial, data, model, hparams, base, grid, test, device):
    """The objective: train one setting, report each epoch's validation accuracy to the pruner, record the results."""
    # a heartbeat now, not at the heartbeat thread's first beat: a trial killed before any heartbeat never turns stale
    storage, study_id = trial.storage, trial.storage.get_study_id_from_name(trial.study.study_name)
    storage.record_heartbeat(storage.get_trial_id_from_study_id_trial_number(study_id, trial.number))
    params = {key: trial.suggest_categorical(key, values) for key, values in grid.items()}
    for t in trial.study.get_trials(False, states=(State.COMPLETE, State.PRUNED, State.RUNNING)):
        if t.params == params and t.number != trial.number:
            raise Duplicate(f"trial {trial.number} not run: trial {t.number} has the settings {params}")
    config, start = base.replace(**params), time.perf_counter()
    trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
    def report(history):  # after every epoch; True stops fit when the pruner finds this trial hopeless
        trial.report(history.val_acc[-1], history.epochs)
        return history.epochs < config.epochs and trial.should_prune()
    try:
        net, history = fit(model, data, config, hparams=hparams, device=device, callback=report, progress=False)
    except TrainingDiverged as exc:  # a result too: recorded as pruned, never run again
        raise optuna.TrialPruned(str(exc)) from None
    attrs = {"val_accs": history.val_acc, "val_acc": history.val_acc[-1], "epochs": history.epochs,
             "test_acc": evaluate(net, data.test).accuracy if test and not history.stopped_early else None,
             "config": vars(config), "seconds": time.perf_counter() - start}
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if history.stopped_early:
        raise optuna.TrialPruned()
    return attrs["val_acc"]


def _work(storage, name: str, grid: dict, prune: bool, objective) -> None:
    """One worker: run trials until every setting of the grid is finished (COMPLETE or PRUNED) in the study."""
    study = optuna.load_study(study_name=name, storage=storage, sampler=optuna.samplers.GridSampler(grid, 0),
                              pruner=optuna.pruners.MedianPruner(3) if prune else optuna.pruners.NopPruner())
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a trial whose worker died: failed, and queued again
        trials = study.get_trials(deepcopy=False)
        having = {s: {tuple(t.params.get(key) for key in grid) for t in trials if t.state == s} for s in State}
        missing = set(itertools.product(*grid.values())) - having[State.COMPLETE] - having[State.PRUNED]
        if not missing and not having[State.WAITING]:
            return
        if not (missing - having[State.RUNNING] or having[State.WAITING]):  # others run the rest: wait for them
            time.sleep(HEARTBEAT)
        elif study.sampler.is_exhausted(study) and not having[State.WAITING]:  # e.g. a setting whose trial crashed
            study.enqueue_trial(dict(zip(grid, min(missing - having[State.RUNNING]))))
        else:
            study.optimize(objective, n_trials=1, catch=(Duplicate,))


def grid_search(data, grid: dict | None = None, *, model: str = "cnn", hparams: dict | None = None,
                config: TrainConfig | None = None, storage: str | None = None, study: str = "grid", workers: int = 1,
                prune: bool = False, test: bool = True, device=None, **options):
    """Train ``model`` once per setting of ``grid`` as study ``study`` in ``storage`` (a database URL); return the
    finished trials, best validation accuracy first. ``config`` and ``options`` (``epochs=2``) fix the rest."""
    build_model(model, **(hparams or {}))  # checks the name and hyperparameters up front
    base = (config or TrainConfig()).replace(**options)
    grid, workers = check_grid(DEFAULT_GRID if grid is None else grid, base), check_int("workers", workers, minimum=1)
    for combination in itertools.product(*grid.values()):  # each setting as a whole: nesterov with adam, batch size
        if (size := base.replace(**dict(zip(grid, combination))).batch_size) > len(data.train_y):
            raise ValueError(f"batch_size {size} is larger than the training set ({len(data.train_y)} images); use "
                             "smaller batch sizes or a larger train_subset")
    url = storage or DEFAULT_STORAGE
    if url.startswith("sqlite:///"):  # SQLite creates the file, not its folder
        os.makedirs(os.path.dirname(url.removeprefix("sqlite:///")) or ".", exist_ok=True)
    for attempt in range(3):  # workers started together race to create the tables: the loser tries again
        try:  # heartbeats are "experimental" in Optuna: silence that warning here, not for the whole process
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT, grace_period=GRACE,
                                                     heartbeat_stale_trial_callback=RETRY())
            break
        except Exception as exc:  # noqa: BLE001 (unknown scheme, no driver, no server: one message naming the fix)
            if attempt == 2 or type(exc).__name__ != "IntegrityError":
                raise ValueError(f"cannot open storage {url!r}: {str(exc).splitlines()[0]}; use sqlite:///FILE, "
                                 "or a postgresql:// or mysql:// URL with a reachable server and driver") from None
    settings = json.loads(json.dumps({"model": model, "hparams": hparams or {}, "grid": grid, "data": [
        len(data.train_y), len(data.val_y), data.normalize], **vars(base), "threads": None}))
    made = optuna.create_study(storage=storage, study_name=study, direction="maximize", load_if_exists=True)
    if "settings" not in made.user_attrs:  # a new study records what its trials share
        made.set_user_attr("settings", settings)
    old = made.user_attrs.get("settings", settings)
    if old != settings:  # a study's trials are comparable: one grid, one set of fixed settings
        changed = ", ".join(key for key in settings if old.get(key) != settings[key])
        raise ValueError(f"study {study!r} was run with other {changed}; name a new study (--study NAME) or keep them")
    base = base.replace(threads=base.threads or max(1, torch.get_num_threads() // workers))  # N workers share the CPU
    args = storage, study, grid, prune, functools.partial(_trial, data=data, model=model, hparams=hparams, base=base,
                                                          grid=grid, test=test, device=device)
    spawn = torch.multiprocessing.get_context("spawn")  # tensors travel to the workers through shared memory
    workers = [spawn.Process(target=_work, args=args) for _ in range(workers if workers > 1 else 0)]
    for process in workers:  # each runs until the grid is finished; if one dies, the others take up its trial
        process.start()
    for process in workers:
        process.join()
    _work(*args)  # the one worker; after N, whatever a crashed worker left (normally nothing)
    table = made.trials_dataframe(attrs=("number", "params", "user_attrs", "state"))
    table = table[table["state"].isin(["COMPLETE", "PRUNED"])].rename(columns=lambda c: c.split("s_", 1)[-1])
    columns = [*grid, "state", "epochs", "val_acc", "test_acc", "seconds", "val_accs", "number"]  # params_lr -> lr
    return table.sort_values("val_acc", ascending=False, kind="stable").reindex(columns=columns).reset_index(drop=True)
