"""The grid across machines, on a real PostgreSQL server (Debian's ``postgresql`` package, started
and removed by tests/postgres_server.py).

Two "machines" (two working folders, one process each) run the README's command on one study; one
is killed with -9 mid-trial and started again. Every setting finishes exactly once, with the very
results of a SQLite run of the same grid. A server that is down, a wrong password and a missing
driver are refused in one line naming the fix, before any trial trains and before anything is
written.

Without the server binaries the server tests skip, naming the install command; in CI (``$CI`` set)
they fail instead.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import optuna
import psycopg
import pytest
import sqlalchemy.engine
from optuna.trial import TrialState
from postgres_server import INSTALL, find_binaries, free_port, postgres_server

from mnist_utils import cli, load_mnist
from mnist_utils import grid_search as gs
from mnist_utils.grid_search import DEFAULT_GRID

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# the seed grid (DEFAULT_GRID, 8 settings), one MLP epoch each on a few hundred images
DATA_ARGS = ["--train-subset", "500", "--val-size", "200"]
GRID_ARGS = ["grid", "--model", "mlp", "--epochs", "1", *DATA_ARGS]
# The command line in a child process, with short heartbeats: a killed trial is retried within
# seconds, not GRACE's ten.
CLI = (
    "import sys; import mnist_utils.grid_search as g; g.HEARTBEAT = 1; g.GRACE = 3; "
    "from mnist_utils.cli import main; sys.exit(main())"
)
RUNNING_TRIALS = """SELECT trials.number, trial_user_attributes.value_json
    FROM trials JOIN trial_user_attributes USING (trial_id)
    WHERE trials.state = 'RUNNING' AND trial_user_attributes.key = 'worker'"""


@pytest.fixture(scope="session")
def postgres():
    binaries = find_binaries()
    if binaries is None:
        message = f"PostgreSQL server binaries not found; install them with: {INSTALL}"
        if os.environ.get("CI"):  # CI installs them (.ci/run): missing there is a failure
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with postgres_server(binaries) as server:
        yield server


def grid_command(data_dir, storage: str) -> list[str]:
    storage_args = ["--storage", storage, "--data-dir", str(data_dir)]
    return [sys.executable, "-c", CLI, *GRID_ARGS, *storage_args]


def start_machine(data_dir, storage: str, folder) -> subprocess.Popen:
    """One "machine": the grid command in its own working folder, its output in a log there."""
    folder.mkdir(exist_ok=True)
    with open(folder / "grid.log", "a") as log:
        return subprocess.Popen(
            grid_command(data_dir, storage), cwd=folder, stdout=log, stderr=subprocess.STDOUT
        )


def running_trials(conninfo: str) -> list[tuple[int, int]]:
    """(trial number, worker pid) of each RUNNING trial that has started training."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            rows = connection.execute(RUNNING_TRIALS).fetchall()
    except psycopg.errors.UndefinedTable:  # the workers have not created the tables yet
        return []
    found = []
    for number, worker_json in rows:
        worker = json.loads(worker_json)  # "hostname:pid"
        found.append((number, int(worker.rsplit(":", 1)[1])))
    return found


def kill_mid_trial(conninfo: str, process: subprocess.Popen) -> int:
    """SIGKILL ``process`` while it trains a trial; return that trial's number."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the worker finished before it was seen training"
        for number, pid in running_trials(conninfo):
            if pid == process.pid:
                os.kill(pid, signal.SIGKILL)
                return number
        time.sleep(0.02)  # polling interval, not a wait for an outcome
    pytest.fail("no trial of the worker was seen running")


def results_by_setting(storage: str) -> dict[tuple, list[dict]]:
    """Setting -> what each finished trial of it recorded (all but timings and the worker)."""
    results = collections.defaultdict(list)
    study = optuna.load_study(study_name="grid", storage=storage)
    for trial in study.get_trials(states=FINISHED):
        setting = tuple(trial.params[key] for key in DEFAULT_GRID)
        recorded = dict(trial.user_attrs)
        del recorded["seconds"]
        del recorded["worker"]
        results[setting].append({"state": trial.state, "value": trial.value, **recorded})
    return results


def unfinished(storage: str) -> list:
    study = optuna.load_study(study_name="grid", storage=storage)
    return study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))


def finish(process: subprocess.Popen, folder) -> None:
    try:
        process.wait(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
    log = (folder / "grid.log").read_text(errors="replace")
    assert process.returncode == 0, log


def test_two_machines_share_the_seed_grid_through_a_kill_9(postgres, data_dir, tmp_path):
    # the reference, alongside: the same grid in SQLite, one process
    reference_dir = tmp_path / "reference"
    reference_url = f"sqlite:///{reference_dir}/grid.db"
    reference = start_machine(data_dir, reference_url, reference_dir)

    url = postgres.create_database("machines")
    conninfo = postgres.conninfo("machines")
    machine_a = tmp_path / "machine-a"
    machine_b = tmp_path / "machine-b"
    first = start_machine(data_dir, url, machine_a)
    second = start_machine(data_dir, url, machine_b)
    killed = kill_mid_trial(conninfo, first)
    assert first.wait(timeout=60) == -signal.SIGKILL
    again = start_machine(data_dir, url, machine_a)  # the same command again on machine A
    finish(second, machine_b)
    finish(again, machine_a)
    finish(reference, reference_dir)

    results = results_by_setting(url)
    assert len(results) == 8, "every setting finished"
    for setting, trials in results.items():
        assert len(trials) == 1, f"{setting} finished {len(trials)} times"
    assert results == results_by_setting(reference_url), "the results of the SQLite run"
    assert unfinished(url) == []
    study = optuna.load_study(study_name="grid", storage=url)
    assert study.trials[killed].state == TrialState.FAIL  # its heartbeat stopped: failed, retried
    workers = set()
    for trial in study.get_trials(states=FINISHED):
        workers.add(int(trial.user_attrs["worker"].rsplit(":", 1)[1]))
    assert second.pid in workers, "machine B trained settings too"
    assert not (machine_a / "runs").exists(), "the study is on the server: nothing local"
    assert not (machine_b / "runs").exists()


# What a bad storage URL looks like, how it is refused, and the fix the line names.
BAD_STORAGE = {
    "server down": (
        r"Connection refused",
        "start the database server, or correct the host and port in the URL",
    ),
    "wrong password": (
        r"password authentication failed for user \"mnist\"",
        "check the user and password in the URL",
    ),
    "no password": (
        r"no password supplied",
        "give the password in the URL (USER:PASSWORD@HOST), in ~/.pgpass or in $PGPASSWORD",
    ),
    "psycopg2 named, not installed": (
        r"No module named 'psycopg2'",
        'pip install "psycopg[binary]" and use a postgresql+psycopg:// URL',
    ),
    "psycopg not installed": (
        r"No module named 'psycopg'|import of psycopg halted",
        'pip install "psycopg[binary]" and use a postgresql+psycopg:// URL',
    ),
}


def bad_storage(case: str, request, monkeypatch) -> tuple[str, str | None]:
    """The URL for a case of BAD_STORAGE, and the database to check that nothing was written into
    (None: there is none)."""
    if case == "server down":  # a port nothing listens on: no server binaries needed
        return f"postgresql+psycopg://mnist:secret@127.0.0.1:{free_port()}/mnist", None
    server = request.getfixturevalue("postgres")
    database = case.replace(" ", "_").replace(",", "")
    server.create_database(database)
    if case == "wrong password":
        return server.url(database, password="not-the-password"), server.conninfo(database)
    if case == "no password":
        monkeypatch.delenv("PGPASSWORD", raising=False)  # libpq's other places for a password
        monkeypatch.setenv("PGPASSFILE", os.devnull)
        url = server.url(database).replace(f":{server.password}@", "@")
        return url, server.conninfo(database)
    if case == "psycopg2 named, not installed":
        return server.url(database, driver="psycopg2"), server.conninfo(database)
    url = server.url(database)
    conninfo = server.conninfo(database)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if never installed: importing it fails
    return url, conninfo


def tables_in(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        return [row[0] for row in connection.execute(query)]


@pytest.mark.parametrize("case", list(BAD_STORAGE))
def test_a_bad_server_url_is_one_line_naming_the_fix(
    case, request, data_dir, tmp_path, monkeypatch, capsys, count_fits
):
    url, conninfo = bad_storage(case, request, monkeypatch)
    problem, fix = BAD_STORAGE[case]
    monkeypatch.chdir(tmp_path)  # where runs/ would appear
    data = load_mnist(data_dir, train_subset=500, val_size=200, seed=0)
    with pytest.raises(ValueError) as raised:
        gs.grid_search(data, storage=url, model="mlp", epochs=1, test=False)
    message = str(raised.value)
    assert message.startswith("cannot open storage 'postgresql+psycopg")
    assert re.search(problem, message) and message.endswith(fix)
    assert "\n" not in message
    password = sqlalchemy.engine.make_url(url).password
    if password:
        assert password not in message and ":***@" in message  # not shown to onlookers

    arguments = [*GRID_ARGS, "--storage", url, "--data-dir", str(data_dir)]
    assert cli.main(arguments) == 2
    printed = capsys.readouterr()
    assert printed.err == f"error: {message}\n" and printed.out == ""

    assert count_fits == []
    assert list(tmp_path.iterdir()) == []  # no runs/ folder
    if conninfo is not None:
        monkeypatch.setitem(sys.modules, "psycopg", psycopg)  # back, to look into the database
        assert tables_in(conninfo) == []  # no study, not even Optuna's tables


def test_workers_started_together_all_open_a_new_database(postgres):
    # Machines started at once race to create Optuna's tables: PostgreSQL refuses the losers'
    # CREATEs (a duplicate key in its catalog), and open_storage tries them again.
    url = postgres.create_database("started_together")
    start = threading.Barrier(4)
    opened = []
    failed = []

    def open_at_once():
        start.wait()
        try:
            opened.append(gs.open_storage(url))
        except ValueError as exc:
            failed.append(str(exc))

    threads = []
    for _ in range(4):
        threads.append(threading.Thread(target=open_at_once))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failed == [] and len(opened) == 4
    assert "studies" in tables_in(postgres.conninfo("started_together"))
