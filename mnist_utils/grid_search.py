"""Grid search as an Optuna study: GridSampler over TrainConfig fields, one ``fit`` per trial, kept in a database
(default SQLite under runs/) so a killed search resumes and workers on one machine or many share the grid. A trial
whose worker died stops its heartbeat: after GRACE seconds it is failed and queued again (Optuna's retry callback)."""
from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import time
import warnings

import optuna
import torch
from optuna.trial import TrialState as State

from .config import TrainConfig, TrainingDiverged
from .data import MnistData
from .evaluate import evaluate
from .models import build_model
from .train import fit
from .validation import check_int

DEFAULT_GRID = {"lr": [1e-3, 1e-4], "batch_size": [64, 128], "optimizer": ["adam", "sgd"]}
DEFAULT_STORAGE = "sqlite:///runs/grid/grid_search.db"  # relative to the current folder; runs/ is ignored by git
HEARTBEAT, GRACE = 2, 10  # seconds: a RUNNING trial without a heartbeat for GRACE seconds is failed and retried
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats are "experimental"
optuna.logging.set_verbosity(optuna.logging.ERROR)  # grid_search prints one line per trial instead


class Duplicate(Exception):
    """GridSampler, with parallel workers, drew a setting that another trial has: this trial is failed, not run."""


def check_grid(grid, base: TrainConfig) -> dict:
    """``grid`` (TrainConfig field -> list of values, one value counting as a list of one) checked by TrainConfig."""
    if not isinstance(grid, dict) or not grid or [] in grid.values() or () in grid.values():
        raise TypeError(f"grid must map settings to non-empty lists of values, e.g. {DEFAULT_GRID}, got {grid!r}")
    checked = {key: [] for key in grid}
    for key, values in grid.items():
        for value in values if isinstance(values, (list, tuple)) else [values]:
            try:
                checked[key].append(getattr(base.replace(**{key: value}), key))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"grid[{key!r}] holds a bad value {value!r}: {exc}") from None
    return checked


def _trial(trial, data, model, hparams, base, grid, test, device, verbose):
    """The objective: train one setting, report each epoch's validation accuracy to the pruner, record the results."""
    trial.storage.record_heartbeat(trial._trial_id)  # now: a trial killed before its first heartbeat is never stale
    params = {key: trial.suggest_categorical(key, values) for key, values in grid.items()}
    label = f"trial {trial.number} ({', '.join(f'{k}={v}' for k, v in params.items())})"
    for t in trial.study.get_trials(False, states=(State.COMPLETE, State.PRUNED, State.RUNNING)):
        if t.params == params and t.number != trial.number:  # parallel workers drew a setting twice: fail this draw
            raise Duplicate(f"{label}: not run, trial {t.number} has these settings")
    config, start = base.replace(**params), time.perf_counter()
    trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")  # which process runs it, on which machine
    def report(history):  # after every epoch; True stops fit when the pruner finds this trial hopeless
        trial.report(history.val_acc[-1], history.epochs)
        return history.epochs < config.epochs and trial.should_prune()
    try:
        net, history = fit(model, data, config, hparams=hparams, device=device, callback=report, progress=False)
    except TrainingDiverged as exc:  # a result too: recorded as pruned (val_acc empty), never run again
        raise optuna.TrialPruned(str(exc)) from None
    attrs = {"val_accs": history.val_acc, "val_acc": history.val_acc[-1], "epochs": history.epochs,
             "test_acc": evaluate(net, data.test).accuracy if test and not history.stopped_early else None,
             "config": dataclasses.asdict(config), "seconds": time.perf_counter() - start}
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if verbose:
        print(f"{label}: val accuracy {100 * attrs['val_acc']:.2f} %{', pruned' * history.stopped_early} "
              f"({attrs['seconds']:.0f} s)", flush=True)
    if history.stopped_early:
        raise optuna.TrialPruned()
    return attrs["val_acc"]


def _work(storage, name: str, grid: dict, prune: bool, objective) -> None:
    """One worker: run trials until every setting of the grid is finished (COMPLETE or PRUNED) in the study."""
    study = optuna.load_study(study_name=name, storage=storage, sampler=optuna.samplers.GridSampler(grid, 0),
                              pruner=optuna.pruners.MedianPruner(3) if prune else optuna.pruners.NopPruner())
    while True:
        optuna.storages.fail_stale_trials(study)  # a trial whose worker died: failed, and queued again
        trials = study.get_trials(deepcopy=False)
        having = {s: {tuple(t.params.get(key) for key in grid) for t in trials if t.state == s} for s in State}
        missing = set(itertools.product(*grid.values())) - having[State.COMPLETE] - having[State.PRUNED]
        if not missing and not having[State.WAITING]:
            return
        if not (missing - having[State.RUNNING] or having[State.WAITING]):  # wait for other workers or their heartbeats
            time.sleep(HEARTBEAT)
        elif study.sampler.is_exhausted(study) and not having[State.WAITING]:  # e.g. a setting whose trial crashed
            study.enqueue_trial(dict(zip(grid, min(missing - having[State.RUNNING]))))
        else:
            study.optimize(objective, n_trials=1, catch=(Duplicate,))


def grid_search(data: MnistData, grid: dict | None = None, *, model: str = "cnn", hparams: dict | None = None,
                config: TrainConfig | None = None, storage: str | None = None, study: str = "grid", workers: int = 1,
                prune: bool = False, test: bool = True, device=None, verbose: bool = True, **options):
    """Train ``model`` once per combination of ``grid`` as study ``study`` in ``storage`` (a database URL); return the
    finished trials, best validation accuracy first. ``config`` and ``options`` (``epochs=2``) fix the rest."""
    if not isinstance(data, MnistData) or len(data.val_y) == 0 or not isinstance(model, str):
        raise TypeError("grid_search needs MnistData with val_size > 0 (trials are ranked on validation accuracy) "
                        f"and a model name such as 'cnn'; got {type(data).__name__} and {model!r}")
    build_model(model, **(hparams or {}))  # checks the name and hyperparameters up front
    base = (config or TrainConfig()).replace(**options)
    grid, workers = check_grid(DEFAULT_GRID if grid is None else grid, base), check_int("workers", workers, minimum=1)
    for combination in itertools.product(*grid.values()):  # each setting as a whole: nesterov with adam, batch size
        if (size := base.replace(**dict(zip(grid, combination))).batch_size) > len(data.train_y):
            raise ValueError(f"batch_size {size} is larger than the training set ({len(data.train_y)} images); use "
                             "smaller batch sizes or a larger train_subset")
    url = storage or DEFAULT_STORAGE
    os.makedirs(os.path.dirname(url[10:]) or ".", exist_ok=True) if url.startswith("sqlite:///") else None
    for attempt in range(3):  # workers started together race to create the tables: the loser tries again
        try:
            storage = optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT, grace_period=GRACE,
                                                 heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback())
            break
        except Exception as exc:  # noqa: BLE001 (unknown scheme, no driver, no server: one message naming the fix)
            if attempt == 2 or type(exc).__name__ != "IntegrityError":
                raise ValueError(f"cannot open storage {url!r}: {str(exc).splitlines()[0]}; use sqlite:///FILE, or a "
                                 "postgresql:// or mysql:// URL whose server is reachable and its driver installed") from None
    settings = json.loads(json.dumps({"model": model, "hparams": hparams or {}, "grid": grid, "data": [
        len(data.train_y), len(data.val_y), data.normalize], **dataclasses.asdict(base.replace(threads=None))}))
    made = optuna.create_study(storage=storage, study_name=study, direction="maximize", load_if_exists=True)
    old = made.user_attrs.get("settings") or made.set_user_attr("settings", settings) or settings
    if old != settings:
        raise ValueError(f"study {study!r} was run with other {', '.join(k for k in settings if old.get(k) != settings[k])}"
                         "; name a new study (study=... or --study NAME) or keep the settings it was run with")
    base = base.replace(threads=base.threads or max(1, torch.get_num_threads() // workers))  # N workers share the CPU
    args = storage, study, grid, prune, functools.partial(_trial, data=data, model=model, hparams=hparams, base=base,
                                                          grid=grid, test=test, device=device, verbose=verbose)
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
