"""Grid search over training settings that survives interruption.

Every finished trial is written to a JSON-lines results file at once (the whole file is rewritten
through a temporary file and renamed, so a crash never leaves half a line). A re-run with the same
file skips every trial already there. A trial is identified by everything that decides its result:
its grid values, the fixed training settings, the model and its hyperparameters, and the data split.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from . import atomic
from .config import TrainConfig, TrainingDiverged
from .data import MnistData
from .models import build_model
from .train import fit

DEFAULT_GRID = {"lr": [1e-3, 1e-4], "batch_size": [64, 128], "optimizer": ["adam", "sgd"]}
SEARCHABLE = tuple(f.name for f in dataclasses.fields(TrainConfig))
METRICS = ("val_acc", "best_val_acc", "val_loss", "train_loss", "epochs", "seconds")


def check_grid(grid, base: TrainConfig) -> list[dict]:
    """Validate ``grid`` and return every combination as a dict, in grid order.

    Each key must be a :class:`TrainConfig` field; each value a non-empty list of valid values (a
    single value counts as a one-item list). Raises before anything is trained.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise TypeError(f"grid must be a non-empty dict of setting -> list of values, e.g. {DEFAULT_GRID}, "
                        f"got {grid!r}")
    columns = {}
    for key, values in grid.items():
        if key not in SEARCHABLE:
            raise ValueError(f"unknown grid key {key!r}; searchable settings: {', '.join(SEARCHABLE)}")
        if not isinstance(values, (list, tuple)):
            values = [values]
        if not values:
            raise ValueError(f"grid[{key!r}] is empty; list at least one value, e.g. {key}={DEFAULT_GRID.get(key, '[...]')}")
        checked = []
        for value in values:
            try:
                checked.append(getattr(base.replace(**{key: value}), key))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"grid[{key!r}] holds a bad value {value!r}: {exc}") from None
        if len(set(checked)) != len(checked):
            raise ValueError(f"grid[{key!r}] lists the same value twice: {list(values)!r}")
        columns[key] = checked
    return [dict(zip(columns, combo)) for combo in itertools.product(*columns.values())]


def data_signature(data: MnistData) -> dict:
    """What identifies the split a trial saw: sizes, normalization and a hash of the labels' order."""
    def digest(y):
        return hashlib.sha1(y.cpu().numpy().tobytes()).hexdigest()[:16]

    return {"train": len(data.train_y), "val": len(data.val_y), "normalize": data.normalize,
            "train_labels": digest(data.train_y), "val_labels": digest(data.val_y)}


def trial_key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True)


def read_results(path) -> list[dict]:
    """The trial records in a results file; unreadable lines (e.g. a torn last line) are skipped with a warning."""
    path = Path(path)
    if not path.exists():
        return []
    records, bad = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not (isinstance(record, dict) and isinstance(record.get("params"), dict)
                    and isinstance(record.get("settings"), dict) and isinstance(record.get("metrics"), dict)):
                raise ValueError("not a trial record")  # noqa: TRY004 (caught just below: a bad line)
        except ValueError:
            bad.append(number)
            continue
        records.append(record)
    if bad:
        warnings.warn(f"results file {str(path)!r}: ignoring unreadable line(s) {bad} (for example a line cut "
                      "short when a process was killed); those trials will run again", stacklevel=2)
    return records


def append_result(path, record: dict) -> None:
    """Add one trial record: read the valid records, add the new one, replace the file atomically."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # read_results already warned when the search started
        lines = [json.dumps(r) for r in read_results(path)]
    lines.append(json.dumps(record))
    atomic.write_text(path, "\n".join(lines) + "\n")


def _finite(value):
    return value if isinstance(value, (int, str)) or (value is not None and math.isfinite(value)) else None


def _metrics(history, seconds: float) -> dict:
    return {
        "val_acc": _finite(history.val_acc[-1]) if history.val_acc else None,
        "best_val_acc": _finite(max(history.val_acc)) if history.val_acc else None,
        "val_loss": _finite(history.val_loss[-1]) if history.val_loss else None,
        "train_loss": _finite(history.train_loss[-1]) if history.train_loss else None,
        "epochs": history.epochs,
        "seconds": round(seconds, 2),
    }


def _per_epoch(callback, params: dict):
    """Adapt ``callback(params, history)`` to fit's per-epoch hook. Its return value is ignored, so a
    callback can stop the search (by raising) but cannot cut a trial short and have it recorded."""
    if callback is None:
        return None

    def hook(history) -> None:
        callback(dict(params), history)

    return hook


def _describe(params: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def grid_search(
    data: MnistData,
    grid: Mapping | None = None,
    *,
    model: str = "cnn",
    hparams: dict | None = None,
    config: TrainConfig | None = None,
    results_file=None,
    callback: Callable | None = None,
    device=None,
    progress: bool | None = None,
    verbose: bool = True,
    **options,
):
    """Train ``model`` once per combination in ``grid`` and return a pandas DataFrame, one row per trial.

    ``grid``: setting -> values (default :data:`DEFAULT_GRID`: lr x batch_size x optimizer).
    ``config`` and keyword ``options`` (``epochs=2, schedule="onecycle", ...``) fix the other settings.
    ``results_file``: a ``.jsonl`` path; finished trials are appended as they finish and skipped on a re-run.
    ``callback(params, history)`` runs after every epoch of every trial; raise in it (KeyboardInterrupt)
    to stop the search; the trials finished so far stay in the file. Rows come in grid order (sort by
    ``val_acc`` to rank them); the test set is never touched: trials are compared on the validation split.
    """
    import pandas as pd

    if not isinstance(data, MnistData):
        raise TypeError(f"data must be MnistData from load_mnist, got {type(data).__name__}")
    if len(data.val_y) == 0:
        raise ValueError("grid search compares trials on the validation split, which is empty; "
                         "load the data with val_size > 0, e.g. load_mnist(val_size=5000)")
    if not isinstance(model, str):
        raise TypeError(f"model must be a model name such as 'cnn' or 'mlp' (each trial builds a fresh one), "
                        f"got {type(model).__name__}")
    built = build_model(model, **(hparams or {}))  # checks the name and hyperparameters up front
    base = (config or TrainConfig()).replace(**options) if options else (config or TrainConfig())
    trials = check_grid(DEFAULT_GRID if grid is None else grid, base)
    largest = max(base.replace(**t).batch_size for t in trials)
    if largest > len(data.train_y):
        raise ValueError(f"batch_size {largest} is larger than the training set ({len(data.train_y)} images); "
                         "use smaller batch sizes or a larger train_subset")
    fixed = {"model": built.arch, "hparams": json.loads(json.dumps(built.hparams)), "data": data_signature(data)}

    done = {}
    if results_file is not None:
        results_file = Path(results_file)
        done = {trial_key(r["settings"]): r for r in read_results(results_file)}

    rows = []
    for number, params in enumerate(trials, 1):
        trial_config = base.replace(**params)
        settings = {**fixed, "config": dataclasses.asdict(trial_config)}
        label = f"trial {number}/{len(trials)} ({_describe(params)})"
        record = done.get(trial_key(settings))
        if record is not None:
            if verbose:
                print(f"{label}: already in the results file, skipped", flush=True)
            rows.append({**params, **record["metrics"], "status": record.get("status", "finished"), "resumed": True})
            continue
        start = time.perf_counter()
        try:
            _, history = fit(model, data, trial_config, hparams=hparams, device=device,
                             callback=_per_epoch(callback, params), progress=progress)
            status = "finished"
        except TrainingDiverged as exc:  # a real result for this setting: record it, don't retry it
            history, status = exc.history, "diverged"
        metrics = _metrics(history, time.perf_counter() - start)
        if status == "diverged":
            metrics["val_acc"] = None  # an earlier epoch's accuracy would rank a broken setting
        record = {"params": params, "settings": settings, "metrics": metrics, "status": status, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if results_file is not None:
            append_result(results_file, record)
        if verbose:
            accuracy = record["metrics"]["val_acc"]
            shown = "diverged" if accuracy is None else f"val accuracy {100 * accuracy:.2f} %"
            print(f"{label}: {shown} ({record['metrics']['seconds']:.0f} s)", flush=True)
        rows.append({**params, **record["metrics"], "status": status, "resumed": False})
    return pd.DataFrame(rows, columns=[*trials[0], *METRICS, "status", "resumed"])
