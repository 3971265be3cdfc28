"""Start, drive and stop a real `airflow standalone` (api-server, scheduler, dag-processor, triggerer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

REPO = Path(__file__).resolve().parents[1]


def airflow_env(airflow_home: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an embedded Airflow on SQLite with this project's DAGs and plugins."""
    env = os.environ.copy()
    venv_bin = str(Path(sys.executable).parent)
    env.update({
        # standalone spawns `airflow ...` subcommands through PATH
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    })
    env.update(extra or {})
    return env


@dataclass
class Standalone:
    """A running `airflow standalone` in its own process group, with an authenticated REST client."""

    airflow_home: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    token: str | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.airflow_home / "standalone.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=self.airflow_home)
        wait_for(self._healthy, timeout, f"Airflow did not become healthy (log: {self.log_path})",
                 alive=self.process)
        self.token = self._login()

    def _healthy(self) -> bool:
        try:
            health = httpx.get(f"{self.base}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
        return all(health.get(p, {}).get("status") == "healthy" for p in parts)

    def _login(self) -> str:
        passwords = json.loads((self.airflow_home / "simple_auth_manager_passwords.json.generated").read_text())
        user, password = next(iter(passwords.items()))
        resp = httpx.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30)
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API (/api/v2/...) and return the decoded JSON body."""
        resp = httpx.request(method, f"{self.base}/api/v2{path}", timeout=60,
                             headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM the whole process group, wait for every member to exit, SIGKILL stragglers."""
        if self.process is None:
            return
        pgid = self.process.pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _group_alive(pgid) and time.monotonic() < deadline:
            self.process.poll()
            time.sleep(0.5)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        self.process.wait()
        while _group_alive(pgid):
            time.sleep(0.2)
        self.process = None


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    # a member that has exited but is not yet reaped is a zombie; count only live members
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_for(check: Callable[[], bool], timeout: float, message: str, interval: float = 1.0,
             alive: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"{message}: process exited with {alive.returncode}")
        time.sleep(interval)
    raise TimeoutError(message)
