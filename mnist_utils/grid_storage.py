"""The grid search's database: an Optuna RDBStorage with heartbeats, opened with one clear error.

Any problem (no driver, no server, a wrong password, not a URL) raises a ValueError of one line that
names the fix, before anything is written.
"""

import os
import time
import warnings

import optuna
import sqlalchemy.engine
import sqlalchemy.exc
from optuna.storages import RetryHeartbeatStaleTrialCallback

HEARTBEAT = 2  # seconds between a running trial's heartbeats
GRACE = 10  # seconds without a heartbeat before a RUNNING trial counts as dead: failed, retried
TABLE_ATTEMPTS = 3  # workers started together race to create the study's tables: the losers retry
POSTGRES_DRIVER = 'pip install "psycopg[binary]" and use a postgresql+psycopg:// URL'
# What the database driver says (any of these words) -> what to do about it
STORAGE_FIXES = [
    (("authentication failed",), "check the user and password in the URL"),
    (
        ("no password supplied",),
        "give the password in the URL (USER:PASSWORD@HOST), in ~/.pgpass or in $PGPASSWORD",
    ),
    (("does not exist",), "create the database on the server, or correct its name in the URL"),
    (
        ("connection refused", "timeout expired", "no route to host", "could not translate host"),
        "start the database server, or correct the host and port in the URL",
    ),
    (
        ("permission denied",),
        "let the URL's user create tables (make it the database's owner: createdb -O USER NAME)",
    ),
]
ANY_STORAGE = "use sqlite:///FILE, or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"


def _shown_url(url: str) -> str:
    """``url`` with its password as ***, for messages that end up in terminals and logs."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:  # not a URL at all: nothing to hide
        return url


def _storage_fix(url: str, exc: Exception, problem: str) -> str:
    """What to do about ``exc``, which the driver put as ``problem``."""
    for needles, fix in STORAGE_FIXES:
        for needle in needles:
            if needle in problem.lower():
                return fix
    no_driver = isinstance(exc, (ImportError, sqlalchemy.exc.NoSuchModuleError))
    if no_driver and url.startswith("postgres"):
        return POSTGRES_DRIVER
    if isinstance(exc, ImportError):  # Optuna's words for a driver that is not installed
        return "install the Python driver that the URL names"
    return ANY_STORAGE


def _storage_error(url: str, exc: Exception) -> ValueError:
    """One line: the storage (its password hidden), what went wrong, what to do."""
    cause = getattr(exc, "orig", None) or exc.__cause__ or exc  # the driver's own words
    problem = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    fix = _storage_fix(url, exc, problem)
    return ValueError(f"cannot open storage {_shown_url(url)!r}: {problem}; {fix}")


def _connect(url: str) -> optuna.storages.RDBStorage:
    # heartbeats are "experimental" in Optuna: silence that warning here, not process-wide
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT,
            grace_period=GRACE,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(),
        )


def _connect_retrying(url: str) -> optuna.storages.RDBStorage:
    """Workers started together race to create the study's tables and first rows: a loser's attempt
    fails on what the winner created, and its next attempt finds it there."""
    for attempt in range(1, TABLE_ATTEMPTS):
        try:
            return _connect(url)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            time.sleep(0.2 * attempt)
    return _connect(url)  # the last attempt: its error is the one reported


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The study database at ``url`` with heartbeats; any problem (no driver, no server, a wrong
    password, not a URL) raises ValueError, one line naming the fix, before anything is written."""
    if url.startswith("sqlite:///"):  # SQLite creates the file, not its folder
        os.makedirs(os.path.dirname(url.removeprefix("sqlite:///")) or ".", exist_ok=True)
    try:
        return _connect_retrying(url)
    except Exception as exc:  # noqa: BLE001 (every failure becomes one line naming the fix)
        raise _storage_error(url, exc) from None
