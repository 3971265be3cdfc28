"""Drive a running Airflow through its REST API, and start and stop a real `airflow standalone` (api-server,
scheduler, dag-processor, triggerer in one process group). `demo.stack` starts the same components as
separate processes and drives them with the same client."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, Callable

import httpx

REPO = Path(__file__).resolve().parents[1]
# how long after the approval task deferred the scheduler must have heartbeaten before a scripted answer
ANSWER_AFTER_DEFER = dt.timedelta(seconds=3)
WAITING_FOR_HUMAN = {"deferred", "awaiting_input"}  # the approval gate defers; stock HITL tasks park
SCHEDULER_GONE = 180.0  # seconds without a scheduler heartbeat after which a wait gives up


class WaitError(RuntimeError):
    """Something the runtime waited for did not happen; the message says what, and where the log is."""


SETTINGS_FILE = "riskops-settings.json"  # under AIRFLOW_HOME: the settings the demo ran Airflow with


def platform_settings(airflow_home: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The settings of an embedded Airflow on SQLite with this project's DAGs and plugins (environment
    variables; `extra` laid over them)."""
    return {
        "AIRFLOW_HOME": str(airflow_home),
        # SQLite: a writer waits up to a minute for a busy database instead of failing the scheduler at once
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}?timeout=60",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",  # the embedded platform is not served to the network
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # the DAG files do not change while the demo runs: parsing them every few seconds (and the specs
        # they read) took a core of two, and slowed the API server until task starts timed out
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        # a task's calls to the Execution API wait for a busy API server instead of failing the task (and
        # waiting out its retry delay); the default is 5 s
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        # INFO keeps what each step printed in its task log (what was promoted, what monitoring found)
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "RISKOPS_RETRY_DELAY_SECONDS": "15",
        # a second user whose name ends up in the audit trail of the models it approves: the only approver,
        # with the least role that may answer an approval (SimpleAuthManager's "user": DAG runs and their
        # required actions, no connections, variables or configuration)
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,risk-approver:user",
        "RISKOPS_APPROVER_USERS": "risk-approver",
        # runs are driven for replayed business dates; cron schedules would add runs for today's date
        "RISKOPS_CRON_SCHEDULES": "off",
        **(extra or {}),
    }


def with_machine_env(settings: dict[str, str]) -> dict[str, str]:
    """The environment Airflow's processes run with: this shell's (less its MLflow settings, which must not leak
    into the platform's), the virtual environment's bin first on PATH (standalone spawns `airflow ...`
    subcommands through PATH), then `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return {**env, **settings}


def airflow_env(airflow_home: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an embedded Airflow on SQLite with this project's DAGs and plugins."""
    return with_machine_env(platform_settings(airflow_home, port, extra))


def save_settings(airflow_home: Path, settings: dict[str, str]) -> Path:
    """Write the settings an Airflow runs with beside its database, so that `make ui` reopens it with the same
    (`load_settings`)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    path = airflow_home / SETTINGS_FILE
    path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    return path


def load_settings(airflow_home: Path) -> dict[str, str]:
    """The settings `save_settings` wrote; WaitError when there are none (no demo ran there)."""
    path = airflow_home / SETTINGS_FILE
    try:
        settings = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise WaitError(f"no demo has run with AIRFLOW_HOME {airflow_home} (no {path}): run `make demo` first, "
                        "or set RISKOPS_HOME to the demo's home") from exc
    except ValueError as exc:
        raise WaitError(f"{path} is not valid JSON ({exc}): run `make demo` again to rewrite it") from exc
    if not isinstance(settings, dict) or not all(isinstance(v, str) for v in settings.values()):
        raise WaitError(f"{path} is not an object of settings (name -> text): run `make demo` again to rewrite it")
    return settings


@dataclass
class AirflowApi:
    """An authenticated client of a running Airflow's REST API on 127.0.0.1 (SimpleAuthManager users)."""

    airflow_home: Path
    port: int
    env: dict[str, str]
    _: KW_ONLY
    token: str | None = None
    log_path: Path | None = None  # where a failure message sends the reader
    unhealthy_since: float | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        default = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        return Path(self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", default))

    def healthy(self) -> bool:
        """The metadata database, scheduler, dag-processor and triggerer all report healthy."""
        try:
            health = httpx.get(f"{self.base}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
        return all(health.get(p, {}).get("status") == "healthy" for p in parts)

    def login(self, user: str = "admin") -> str:
        """A REST API token of `user` (password from the SimpleAuthManager passwords file)."""
        password = json.loads(self.passwords_file.read_text())[user]
        resp = httpx.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30)
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def assert_running(self) -> None:
        """Raise WaitError when the scheduler has not heartbeaten for SCHEDULER_GONE seconds (a busy machine
        delays heartbeats; a crashed scheduler never comes back)."""
        try:
            health = httpx.get(f"{self.base}/api/v2/monitor/health", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            return  # a busy API server is not a dead one; the waits time out if it stays away
        scheduler = health.get("scheduler", {})
        if scheduler.get("status") != "unhealthy":
            self.unhealthy_since = None
            return
        self.unhealthy_since = self.unhealthy_since or time.monotonic()
        if time.monotonic() - self.unhealthy_since > SCHEDULER_GONE:
            raise WaitError(f"Airflow's scheduler stopped (last heartbeat {scheduler.get('latest_scheduler_heartbeat')}); "
                            f"log: {self.log_path}")

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API (/api/v2/...) and return the decoded JSON body.

        On SQLite the scheduler's writes briefly lock the database and the API answers 500/503 with a
        database error; the transaction was rolled back, so the call is retried, as are timeouts and dropped
        connections of an API server too busy to answer.
        """
        for attempt in range(20):
            try:
                resp = httpx.request(method, f"{self.base}/api/v2{path}", timeout=60,
                                     headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
            except httpx.TransportError as exc:  # an overloaded API server times out or drops connections
                if attempt == 19:
                    raise WaitError(f"Airflow's API at {self.base} did not answer {method} {path} ({exc!r}); "
                                    f"log: {self.log_path}") from exc
                time.sleep(1 + attempt * 0.5)
                continue
            busy = resp.status_code in (500, 503) and "atabase" in resp.text
            if not busy or attempt == 19:
                break
            time.sleep(1 + attempt * 0.5)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def as_user(self, user: str) -> "AirflowApi":
        """The same Airflow seen through another user's token (e.g. an approver)."""
        return dataclasses.replace(self, token=self.login(user), unhealthy_since=None)

    def trigger(self, dag_id: str, logical_date: str, conf: dict[str, Any] | None = None, *,
                unpause: bool = True) -> str:
        """Trigger a run (or clear the existing run of that logical date) and unpause the DAG; returns the run
        id. With unpause=False the run waits until `set_paused(dag_id, False)`.

        Why trigger while paused: Airflow 3.3's API server commits an audit-log row for every write request
        synchronously on its event loop. On SQLite that commit can wait for a running task's Execution API
        call that holds the write lock and needs the event loop to finish, and both sit out the database's
        busy timeout (60 s). Writes made while nothing runs cannot meet such a call.
        """
        if unpause:
            self.set_paused(dag_id, False)
        runs = self.api("GET", f"/dags/{dag_id}/dagRuns", params={
            "logical_date_gte": f"{logical_date}T00:00:00Z", "logical_date_lte": f"{logical_date}T00:00:00Z"})
        if runs["dag_runs"]:
            run_id = str(runs["dag_runs"][0]["dag_run_id"])
            self.api("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False})
            return run_id
        run_id = f"manual__{logical_date}__{time.strftime('%Y%m%dT%H%M%S')}"
        try:
            self.api("POST", f"/dags/{dag_id}/dagRuns", json={
                "dag_run_id": run_id, "logical_date": f"{logical_date}T00:00:00Z", "conf": conf or {}})
        except RuntimeError as exc:
            if "-> 409" not in str(exc):  # 409: a retried POST whose first attempt did create the run
                raise
        return run_id

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").get("state")

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def run_states(self, dag_id: str) -> dict[str, str]:
        """Every run of a DAG and its state, a page of 100 per request (one request instead of one per run:
        on two cores the API server also serves the running tasks)."""
        states: dict[str, str] = {}
        while True:
            page = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, "offset": len(states)})
            states.update({str(r["dag_run_id"]): str(r["state"]) for r in page["dag_runs"]})
            if not page["dag_runs"] or len(states) >= page["total_entries"]:
                return states

    def wait_for_task(self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float) -> str:
        """Wait until a task reaches one of `states`; fails fast if the run fails first."""
        seen: dict[str, str | None] = {}

        def reached() -> bool:
            self.assert_running()
            seen["task"] = self.task_state(dag_id, run_id, task_id)
            if seen["task"] not in states and self.run_state(dag_id, run_id) == "failed":
                raise WaitError(f"run {run_id} of {dag_id} failed before {task_id} reached "
                                f"{' or '.join(sorted(states))}; task logs: {self.task_logs(dag_id, run_id)}")
            return seen["task"] in states

        wait_for(reached, timeout, f"{dag_id}.{task_id} (run {run_id}) to reach {' or '.join(sorted(states))}; "
                 f"task logs: {self.task_logs(dag_id, run_id)}", 2)
        return str(seen["task"])

    def task_logs(self, dag_id: str, run_id: str) -> Path:
        return self.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        states = {"success", "failed"}

        def finished() -> bool:
            self.assert_running()
            return self.run_state(dag_id, run_id) in states

        wait_for(finished, timeout,
                 f"run {run_id} of {dag_id} to finish; task logs: {self.task_logs(dag_id, run_id)}", 2)
        return self.run_state(dag_id, run_id)

    def respond(self, dag_id: str, run_id: str, task_id: str, option: str, reason: str = "") -> dict[str, Any]:
        """Answer a human-in-the-loop task (ApprovalOperator: 'Approve' or 'Reject') as this user."""
        return dict(self.api("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
                             json={"chosen_options": [option], "params_input": {"reason": reason}}))

    def scheduler_heartbeat(self) -> dt.datetime | None:
        """The scheduler's latest heartbeat, on the server's clock."""
        try:
            beat = httpx.get(f"{self.base}/api/v2/monitor/health", timeout=10).json()["scheduler"]
        except (httpx.HTTPError, ValueError, KeyError):
            return None
        return dt.datetime.fromisoformat(beat["latest_scheduler_heartbeat"]) if beat.get(
            "latest_scheduler_heartbeat") else None

    def answerable(self, ti: dict[str, Any]) -> bool:
        """Whether a deferred human-in-the-loop task can take an answer now: the scheduler has run (heartbeaten)
        ANSWER_AFTER_DEFER after the task deferred (its trigger's creation), so it has processed the executor's
        report of the deferring process. Airflow 3.3 fails a deferred task that resumes before that report is
        processed (apache/airflow#67287, #72716), which an instant answer on a busy machine can hit."""
        created = (ti.get("trigger") or {}).get("created_date")
        if ti["state"] != "deferred" or not created:
            return ti["state"] in WAITING_FOR_HUMAN and ti["state"] != "deferred"  # parked: no executor race
        beat = self.scheduler_heartbeat()
        return beat is not None and beat >= dt.datetime.fromisoformat(created) + ANSWER_AFTER_DEFER

    def answer(self, dag_id: str, run_id: str, task_id: str, option: str, reason: str, timeout: float) -> None:
        """Answer the human-in-the-loop task, again if it is retried (a re-ask), until it has succeeded; each
        try is answered as soon as it is `answerable`."""
        answered: set[int] = set()

        def done() -> bool:
            self.assert_running()
            ti = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
            if ti["state"] == "success":
                return True
            if ti["state"] in WAITING_FOR_HUMAN and ti["try_number"] not in answered and self.answerable(ti):
                self.respond(dag_id, run_id, task_id, option, reason)
                answered.add(ti["try_number"])
            elif ti["state"] in ("failed", "upstream_failed") and self.run_state(dag_id, run_id) == "failed":
                raise WaitError(f"{dag_id}.{task_id} failed in run {run_id}; task logs: "
                                f"{self.task_logs(dag_id, run_id)}")
            return False

        wait_for(done, timeout, f"{dag_id}.{task_id} (run {run_id}) to take the answer '{option}'; task logs: "
                 f"{self.task_logs(dag_id, run_id)}", 2)


@dataclass
class Standalone(AirflowApi):
    """A running `airflow standalone` in its own process group, with an authenticated REST client."""

    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.log_path = self.airflow_home / "standalone.log"

    def start(self, timeout: float = 180) -> None:
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "standalone"],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=self.airflow_home)
        wait_for(self.healthy, timeout, f"Airflow to become healthy at {self.base}; log: {self.log_path}",
                 alive=self.process)
        self.token = self.login()

    def assert_running(self) -> None:
        """Raise WaitError when `airflow standalone` exited, or its scheduler is gone (AirflowApi's check)."""
        if self.process is not None and self.process.poll() is not None:
            raise WaitError(f"airflow standalone exited with {self.process.returncode}; log: {self.log_path}")
        super().assert_running()

    def stop(self, timeout: float = 60) -> None:
        """Stop the process group and reap every member (see stop_process_group)."""
        if self.process is not None:
            stop_process_group(self.process, timeout)
            self.process = None


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM a process started with start_new_session=True and its whole group, wait for every member to
    exit, SIGKILL stragglers, reap the leader. Airflow's workers outlive a plain SIGTERM of their parent."""
    pgid = process.pid
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        process.poll()
        time.sleep(0.5)
    if _group_alive(pgid):
        signal_group(pgid, signal.SIGKILL)
    process.wait()
    while _group_alive(pgid):
        time.sleep(0.2)


def signal_group(pgid: int, sig: int) -> None:
    """Send `sig` to a process group that may have exited already."""
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


def wait_for(check: Callable[[], bool], timeout: float, waiting_for: str, interval: float = 1.0,
             alive: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `check` until it is true; WaitError naming what was waited for on timeout or if `alive` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and alive.poll() is not None:
            raise WaitError(f"gave up waiting for {waiting_for}: the process exited with {alive.returncode}")
        time.sleep(interval)
    raise WaitError(f"gave up after {timeout:.0f} s waiting for {waiting_for}")
