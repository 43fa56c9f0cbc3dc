"""A private JupyterLab for the real-client test of the live widgets (``test_live_widgets.py``).

:func:`start_lab` runs ``jupyter lab`` on 127.0.0.1 with a random token and its own config,
data, runtime, IPython, settings and workspace folders (under one temporary folder, so the
developer's own Jupyter set-up plays no part), with news, update checks and the extension
manager's package index off, so that nothing reaches the network. The port is the one the
server's log announces; :meth:`LabServer.stop` stops the server by its PID (the server shuts
its kernels down on SIGTERM).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LOCAL_HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0

# The front end's own switches: no "would you like news?" toast, no update check.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, process and log file."""

    url: str  # e.g. "http://127.0.0.1:41234/"
    token: str
    process: subprocess.Popen
    log: Path

    def notebook_url(self, name: str) -> str:
        """The URL that opens notebook ``name`` (relative to the server's root) in JupyterLab."""
        return f"{self.url}lab/tree/{name}?token={self.token}"

    def stop(self) -> None:
        """SIGTERM to the server's PID (it stops its kernels), SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)


def start_lab(root: Path, home: Path, timeout_s: float = START_TIMEOUT_S) -> LabServer:
    """Start JupyterLab serving folder ``root``, with all its state under folder ``home``."""
    dirs = {name: home / name for name in ("config", "data", "runtime", "ipython", "settings", "workspaces")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for name, values in USER_SETTINGS.items():
        target = dirs["settings"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
    }
    token = secrets.token_hex(24)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        f"--ServerApp.ip={LOCAL_HOST}",
        "--ServerApp.port=0",  # a free port, announced in the log
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run cells, read kernel status
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
    ]
    if os.geteuid() == 0:  # CI runs as root
        command.append("--allow-root")
    log = home / "jupyterlab.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT)
    server = LabServer(url="", token=token, process=process, log=log)
    pattern = re.compile(rf"http://{re.escape(LOCAL_HOST)}:(\d+)/")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = pattern.search(text)
        if found:
            server.url = f"http://{LOCAL_HOST}:{found.group(1)}/"
            return server
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{text[-3000:]}")
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"JupyterLab announced no URL within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
