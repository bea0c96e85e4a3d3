"""A throwaway PostgreSQL server for tests: Debian's ``postgresql`` binaries, a temporary folder, a
free port on 127.0.0.1, password login (scram-sha-256) and one database; stopped and removed
afterwards.

Debian keeps ``initdb`` and ``pg_ctl`` off the PATH, in /usr/lib/postgresql/<version>/bin/. They
refuse to run as root, so as root they run as the ``postgres`` user that the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL = "apt-get install -y postgresql"
USER = "mnist"
DATABASE = "mnist"


@dataclass
class Server:
    host: str
    port: int
    password: str
    socket_dir: Path
    binaries: Path
    log_path: Path  # the server's log, while it runs

    def url(
        self, database: str = DATABASE, *, password: str | None = None, driver="psycopg"
    ) -> str:
        """A SQLAlchemy URL, as Optuna takes it; ``password`` replaces the real one."""
        secret = self.password if password is None else password
        return f"postgresql+{driver}://{USER}:{secret}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = DATABASE) -> str:
        """For psycopg.connect: to look into a database without Optuna."""
        server = f"host={self.host} port={self.port}"
        return f"{server} user={USER} password={self.password} dbname={database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; return its URL."""
        createdb = str(self.binaries / "createdb")
        # through the server's socket, which trusts its user: no password needed
        connection = ["-h", str(self.socket_dir), "-p", str(self.port), "-U", USER]
        _run([createdb, *connection, name], timeout=60)
        return self.url(name)


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on the PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent  # a symlink, e.g. /usr/local/bin -> Debian's folder
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if installed:
        return Path(installed[-1]).parent
    return None


def _major_version(initdb_path: str) -> int:
    version = Path(initdb_path).parent.parent.name  # /usr/lib/postgresql/15/bin/initdb -> 15
    return int(version) if version.isdigit() else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    """initdb and postgres refuse root: run them as Debian's ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"]
    return []


def _give_to_server_user(folder: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres", group="postgres")


def _run(command: list[str], timeout: float) -> None:
    """Run a server command as the server's user; fail with what it printed."""
    done = subprocess.run(
        [*_as_server_user(), *command], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


@contextlib.contextmanager
def postgres_server(binaries: Path):
    """Start a server from ``binaries`` (see :func:`find_binaries`); yield a :class:`Server`."""
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    work_dir = Path(tempfile.mkdtemp(prefix="mnist-pg-"))
    _give_to_server_user(work_dir)
    data_dir = work_dir / "data"
    password_file = work_dir / "password"
    log_path = work_dir / "server.log"
    password = secrets.token_hex(16)
    password_file.write_text(password)
    _give_to_server_user(password_file)
    try:
        initdb = [
            str(binaries / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            USER,
            "-E",
            "UTF8",
            "--no-sync",
        ]
        # local socket connections are trusted (only the server's user can reach its folder);
        # TCP connections, the ones the tests make, need the password
        login = ["--pwfile", str(password_file), "--auth-local=trust", "--auth-host=scram-sha-256"]
        _run([*initdb, *login], timeout=120)
        port = free_port()
        # -F: no fsync, a throwaway server need not survive a power cut
        options = f"-p {port} -h 127.0.0.1 -k {work_dir} -F"
        pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data_dir), "-l", str(log_path), "-o", options]
        _run([*pg_ctl, "-w", "-t", "60", "start"], timeout=90)
        try:
            server = Server("127.0.0.1", port, password, work_dir, binaries, log_path)
            server.create_database(DATABASE)
            yield server
        finally:
            _run([*pg_ctl, "-m", "immediate", "-w", "stop"], timeout=60)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
