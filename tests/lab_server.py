"""Start a throwaway JupyterLab server for the browser tests, and always stop it.

Everything the server and its kernels read or write (config, runtime, settings, workspaces, IPython profile)
lives in a temporary folder, so neither the tests nor the developer's own Jupyter setup affect each other.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"
# Debian's Chromium, as the browser tests launch it (never `playwright install`: it downloads)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


@dataclass
class Lab:
    url: str  # http://127.0.0.1:<port>
    token: str
    root_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(
    name: str, url: str, process: subprocess.Popen, log_path: Path, timeout: float
) -> None:
    """Poll ``url`` until the server ``name`` answers 200; fail at once if it exited."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            log = log_path.read_text(errors="replace")
            raise TimeoutError(f"{name} did not answer within {timeout} s:\n{log}")
        time.sleep(0.2)  # polling interval while the server starts, not a wait for an outcome


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the server (it shuts its kernels down), then SIGKILL whatever is left of its process group.

    Kernels run in sessions of their own; one that outlives a killed server notices its parent is gone
    (JPY_PARENT_PID) and exits.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


@contextlib.contextmanager
def jupyter_lab(
    work_dir: Path,
    root_dir: Path,
    env: dict[str, str] | None = None,
    *,
    disable_widget_manager: bool = False,
    start_timeout: float = 120,
):
    """Run ``jupyter lab`` on a free loopback port with a random token; yield a :class:`Lab`."""
    dirs = {
        name: work_dir / name.lower()
        for name in (
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_RUNTIME_DIR",
            "JUPYTER_DATA_DIR",
            "JUPYTERLAB_SETTINGS_DIR",
            "JUPYTERLAB_WORKSPACES_DIR",
            "IPYTHONDIR",
        )
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    # no "get notified about Jupyter news?" toast over the page in screenshots
    news = (
        dirs["JUPYTERLAB_SETTINGS_DIR"]
        / "@jupyterlab"
        / "apputils-extension"
        / "notification.jupyterlab-settings"
    )
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text('{"fetchNews": "false"}')
    full_env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, **(env or {})}
    if disable_widget_manager:  # to prove the browser test fails when widgets cannot render
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jupyter",
                "labextension",
                "disable",
                "--level=user",
                WIDGET_MANAGER,
            ],
            env=full_env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    token, port = secrets.token_hex(24), free_port()
    log_path = work_dir / "jupyter-lab.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--allow-root",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            env=full_env,
            cwd=root_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        status_url = f"{url}/api/status?token={token}"
        wait_until_answering("jupyter lab", status_url, process, log_path, start_timeout)
        yield Lab(url=url, token=token, root_dir=root_dir, log_path=log_path)
    finally:
        stop(process)
