"""The production-like stack on this machine without Docker: the services of docker-compose.yaml as processes.

    make stack            (python -m demo.stack)  starts it, prints where each part is, stops it on Ctrl-C
    make stack-stop       stops a stack started by `make stack` in another terminal

What runs, each in its own process group on 127.0.0.1 with free ports:
  - moto's S3 server in place of minio (the buckets of RISKOPS_DATA and of MLflow's artifacts, in memory),
  - the MLflow tracking server with basic-auth, its runs and users in two fresh PostgreSQL databases and its
    artifacts proxied to the S3 bucket; the platform's and an approver's MLflow users
    (docker/mlflow/create_users.py, as compose's mlflow-init),
  - Airflow 3 on a fresh PostgreSQL database: `db migrate`, then api-server, scheduler, dag-processor and
    triggerer as separate processes (LocalExecutor), with an admin (the platform) and an approver; the
    monitoring history (stability, backtests) in a fresh PostgreSQL database of its own,
  - the demo's SMTP sink in place of mailpit (every mail kept as an .eml file).

Configuration comes from docker-compose.yaml itself: the Airflow environment (x-airflow-common), the MLflow
server's command and environment, the users of airflow-init and mlflow-init, docker/mlflow/basic_auth.ini.
The stack sets the compose variables a `.env` file would (fresh random credentials) and replaces only the
values that are addresses (ADDRESSES: hosts, ports, databases, paths inside containers); LOCAL lists what a
process here needs that a container gets from its image or port mapping. Everything else is compose's value
(tests/docker/test_stack_config.py). The databases are dropped on stop; the S3 data lives in moto's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlsplit

import httpx
import yaml

from demo.airflow_runtime import REPO, AirflowApi, WaitError, signal_group, stop_process_group, wait_for

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

COMPOSE_FILE = REPO / "docker-compose.yaml"
MLFLOW_AUTH_INI = REPO / "docker" / "mlflow" / "basic_auth.ini"
CREATE_USERS = REPO / "docker" / "mlflow" / "create_users.py"
VENV_BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"

# Compose values that are addresses; the stack replaces these, per service environment.
ADDRESSES = {
    "airflow": ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__API__BASE_URL",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "AIRFLOW_CONN_SMTP_DEFAULT", "AWS_ENDPOINT_URL",
                "MLFLOW_TRACKING_URI", "RISKOPS_HISTORY_URL"),
    "mlflow": ("AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_AUTH_CONFIG_PATH"),
    "mlflow-init": ("MLFLOW_TRACKING_URI",),
}
MLFLOW_ADDRESS_OPTIONS = ("--host", "--port", "--backend-store-uri")
# What an Airflow process here needs that a container has from its image (paths, RISKOPS_SPECS) or from
# compose's port mapping (its own ports), and the two choices of a one-machine stack.
LOCAL = {
    "AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER", "RISKOPS_SPECS",
    "AIRFLOW__API__HOST", "AIRFLOW__API__PORT",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST", "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    "AIRFLOW__API__WORKERS",  # one API worker instead of four: one machine, shared with the tasks
    "RISKOPS_CRON_SCHEDULES",  # off, as in the demo: the data are replayed history (runs are triggered)
}
# The credentials of docker-compose.yaml, each required there (`${VAR:?...}`, no default): `make secrets`
# writes them to .env (demo.env_file), and every stack gets fresh ones. AIRFLOW_FERNET_KEY is one more, of
# its own format (fresh_credentials).
SECRET_VARIABLES = (
    "MINIO_ROOT_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_APPROVER_PASSWORD", "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_SECRET_KEY", "MLFLOW_PLATFORM_PASSWORD",
    "MLFLOW_APPROVER_PASSWORD", "POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "MLFLOW_DB_PASSWORD",
    "RISKOPS_DB_PASSWORD", "REDIS_PASSWORD",
)
# make stack is one machine: LocalExecutor, not compose's CeleryExecutor (no broker, no workers), so the
# Celery settings are dropped (docs/deployment.md: when to choose which).
ONE_MACHINE = {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
CELERY_PREFIX = "AIRFLOW__CELERY__"


class MissingVariable(ValueError):
    """A `${VAR:?message}` of docker-compose.yaml whose variable is not set: compose refuses to start too."""

_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}"
                  r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: Any, variables: dict[str, str] | None = None) -> Any:
    """Compose's variable substitution: ${X:-default} is X if set (and not empty) else default, ${X} is X or
    '', ${X:?message} is X or raises MissingVariable(message), `$$` is a literal dollar; applied through lists
    and mappings."""
    variables = variables or {}

    def substitute(m: re.Match[str]) -> str:
        name, op = m.group("braced") or m.group("bare"), m.group("op") or ""
        if name in variables and (variables[name] or not op.startswith(":")):
            return variables[name]
        if op.endswith("?"):
            raise MissingVariable(m.group("default") or f"{name} is not set")
        return m.group("default") or ""

    if isinstance(value, str):
        return "$".join(_VAR.sub(substitute, part) for part in value.split("$$"))
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    return value


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def service_env(name: str, variables: dict[str, str]) -> dict[str, str]:
    """A compose service's environment, interpolated with `variables`."""
    raw = compose()["services"][name].get("environment") or {}
    return {k: "" if v is None else str(v) for k, v in interpolate(raw, variables).items()}


def airflow_commands() -> list[str]:
    """The Airflow components compose runs as services (`airflow <command>`), in compose's order, but Celery's
    workers: one machine runs its tasks with LocalExecutor (ONE_MACHINE)."""
    image = compose()["x-airflow-common"]["image"]
    return [str(s["command"]) for s in compose()["services"].values()
            if s.get("image") == image and isinstance(s.get("command"), str) and not s["command"].startswith("celery")]


def option(argv: list[str], name: str) -> str | None:
    """The value of `--name value` in a command line."""
    return argv[argv.index(name) + 1] if name in argv else None


def replace_options(argv: list[str], values: dict[str, str]) -> list[str]:
    out = list(argv)
    for name, value in values.items():
        out[out.index(name) + 1] = value
    return out


PORTS = ("s3", "mlflow", "airflow", "smtp", "scheduler_health", "worker_logs", "trigger_logs")


def fresh_credentials() -> dict[str, str]:
    """The compose variables a .env file would set for credentials: new random values."""
    from cryptography.fernet import Fernet

    return {**{k: secrets.token_urlsafe(24) for k in SECRET_VARIABLES},
            "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode()}


def fresh_database_names() -> dict[str, str]:
    token = uuid.uuid4().hex[:10]
    return {k: f"riskops_stack_{token}_{k}" for k in ("airflow", "mlflow", "mlflow_auth", "history")}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """One component: a command in its own process group, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.popen is not None:
            stop_process_group(self.popen)
            self.popen = None


@dataclass
class Stack:
    """The whole stack: configured when built (no side effects), started by `start`, torn down by `stop`."""

    home: Path
    postgres: str = DEFAULT_POSTGRES
    variables: dict[str, str] = field(default_factory=fresh_credentials)
    ports: dict[str, int] = field(default_factory=lambda: {k: free_port() for k in PORTS})
    databases: dict[str, str] = field(default_factory=fresh_database_names)

    def __post_init__(self) -> None:
        self.processes: list[Process] = []
        self.created: list[str] = []
        self.smtp: Controller | None = None
        self.airflow = AirflowApi(self.home / "airflow", self.ports["airflow"], self.airflow_env(),
                                  log_path=self.home / "logs")

    # ------------------------------------------------------------------ configuration

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def database_url(self, name: str) -> str:
        return f"{self.postgres.rstrip('/')}/{self.databases[name]}"

    def _base_env(self) -> dict[str, str]:
        # the caller's own Airflow, MLflow, object-store and riskops settings must not leak into the stack
        prefixes = ("AIRFLOW", "_AIRFLOW", "MLFLOW_", "AWS_", "RISKOPS_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")  # Airflow spawns `airflow ...`
        return env

    def airflow_env(self) -> dict[str, str]:
        """x-airflow-common's environment with the stack's addresses, plus LOCAL."""
        raw = compose()["x-airflow-common"]["environment"]
        env = {k: "" if v is None else str(v) for k, v in interpolate(raw, self.variables).items()
               if not k.startswith(CELERY_PREFIX)}
        smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
        smtp.update(host="127.0.0.1", port=self.ports["smtp"])
        addresses = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url("airflow"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url('airflow')}{urlsplit(env['AIRFLOW__CORE__EXECUTION_API_SERVER_URL']).path}",
            "AIRFLOW__API__BASE_URL": self.url("airflow"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "airflow" / "passwords.json"),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
            "AWS_ENDPOINT_URL": self.url("s3"),
            "MLFLOW_TRACKING_URI": self.url("mlflow"),
            "RISKOPS_HISTORY_URL": self.database_url("history"),  # monitoring's own database, as in compose
        }
        local = {
            "AIRFLOW_HOME": str(self.home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "RISKOPS_SPECS": str(REPO / "datasets"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.ports["airflow"]),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports["worker_logs"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["trigger_logs"]),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports["scheduler_health"]),
            "AIRFLOW__API__WORKERS": "1",
            "RISKOPS_CRON_SCHEDULES": "off",
        }
        return {**self._base_env(), **env, **addresses, **local, **ONE_MACHINE}

    def mlflow_argv(self) -> list[str]:
        """compose's `mlflow server` command, listening here, on the stack's database."""
        argv = [str(a) for a in interpolate(compose()["services"]["mlflow"]["command"], self.variables)]
        argv = replace_options(argv, {"--host": "127.0.0.1", "--port": str(self.ports["mlflow"]),
                                      "--backend-store-uri": self.database_url("mlflow")})
        return [str(VENV_BIN / argv[0]), *argv[1:]]

    def mlflow_env(self) -> dict[str, str]:
        env = service_env("mlflow", self.variables)
        env.update({"AWS_ENDPOINT_URL": self.url("s3"), "MLFLOW_S3_ENDPOINT_URL": self.url("s3"),
                    "MLFLOW_AUTH_CONFIG_PATH": str(self.home / "mlflow" / "basic_auth.ini")})
        return {**self._base_env(), **env}

    def mlflow_auth_ini(self) -> str:
        """docker/mlflow/basic_auth.ini with the users' database of this stack."""
        text = MLFLOW_AUTH_INI.read_text()
        return re.sub(r"(?m)^database_uri = .*$", f"database_uri = {self.database_url('mlflow_auth')}", text)

    def users_env(self) -> dict[str, str]:
        return {**self._base_env(), **service_env("mlflow-init", self.variables),
                "MLFLOW_TRACKING_URI": self.url("mlflow")}

    def airflow_users(self) -> dict[str, str]:
        """user -> password, as compose's airflow-init writes them."""
        env = service_env("airflow-init", self.variables)
        return {env["_AIRFLOW_WWW_USER_USERNAME"]: env["_AIRFLOW_WWW_USER_PASSWORD"],
                env["_AIRFLOW_APPROVER_USERNAME"]: env["_AIRFLOW_APPROVER_PASSWORD"]}

    def buckets(self) -> list[str]:
        """The buckets compose's minio-init creates: RISKOPS_DATA's and MLflow's artifacts'."""
        artifacts = option(self.mlflow_argv(), "--artifacts-destination") or ""
        return sorted({urlsplit(self.airflow_env()["RISKOPS_DATA"]).netloc, urlsplit(artifacts).netloc})

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 240) -> None:
        """Start everything; on a failure stop what started and raise (WaitError: what failed, and its log)."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        from demo.smtp_sink import start as start_smtp

        deadline = time.monotonic() + timeout
        self._clear_home()
        for name in self.databases:
            self._create_database(name)
        (self.home / "mlflow").mkdir(parents=True)
        (self.home / "mlflow" / "basic_auth.ini").write_text(self.mlflow_auth_ini())
        self.smtp = start_smtp(self.home / "outbox", port=self.ports["smtp"])
        s3 = self._process("s3", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.ports["s3"])],
                           self._base_env())
        mlflow = self._process("mlflow", self.mlflow_argv(), self.mlflow_env())
        self._migrate_airflow()  # while MLflow creates its tables
        (self.home / "airflow" / "passwords.json").write_text(json.dumps(self.airflow_users()))
        for command in airflow_commands():
            self._process(f"airflow-{command}", [str(VENV_BIN / "airflow"), command], self.airflow.env)

        wait_for(self._s3_ready, self._left(deadline), f"the S3 server at {self.url('s3')}; log: {s3.log}",
                 0.5, s3.popen)
        self._create_buckets()
        wait_for(self._mlflow_ready, self._left(deadline),
                 f"MLflow at {self.url('mlflow')}; log: {mlflow.log}", 0.5, mlflow.popen)
        self._run("mlflow-users", [sys.executable, str(CREATE_USERS)], self.users_env())
        wait_for(self._airflow_ready, self._left(deadline),
                 f"Airflow's four components to report healthy at {self.url('airflow')}; logs: {self.home / 'logs'}", 1)
        self.airflow.token = self.airflow.login(next(iter(self.airflow_users())))
        self._write_env_file()

    def stop(self) -> None:
        """Stop every process (reaping their children), the SMTP sink, and drop the databases."""
        # every group is asked at once, so stopping takes as long as the slowest component, not their sum
        for process in self.processes:
            if process.popen is not None:
                signal_group(process.popen.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None
        for name in reversed(self.created):
            self._drop_database(name)
        self.created.clear()

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _left(deadline: float) -> float:
        return max(deadline - time.monotonic(), 1.0)

    def _clear_home(self) -> None:
        """A stack starts empty: remove what an earlier stack in this home left (its logs and files)."""
        import shutil

        for name in ("airflow", "mlflow", "logs", "outbox", "stack.env"):
            path = self.home / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        self.home.mkdir(parents=True, exist_ok=True)

    def _process(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        process = Process(name, argv, env, self.home / "logs" / f"{name}.log", self.home)
        self.processes.append(process)
        process.start()
        return process

    def _run(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = self.home / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            done = subprocess.run(argv, env=env, cwd=self.home, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise WaitError(f"{name} failed with status {done.returncode}; log: {log}")

    def _migrate_airflow(self) -> None:
        (self.home / "airflow").mkdir(parents=True, exist_ok=True)
        self._run("airflow-db-migrate", [str(VENV_BIN / "airflow"), "db", "migrate"], self.airflow.env)

    def _create_database(self, name: str) -> None:
        self._sql(f'CREATE DATABASE "{self.databases[name]}"')
        self.created.append(name)

    def _drop_database(self, name: str) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{self.databases[name]}" WITH (FORCE)')

    def _sql(self, statement: str) -> None:
        """One statement on the server's `postgres` database (CREATE/DROP DATABASE need autocommit)."""
        import psycopg2

        server = urlsplit(self.postgres)
        try:
            conn = psycopg2.connect(host=server.hostname, port=server.port or 5432, user=server.username,
                                    password=server.password, dbname="postgres")
        except psycopg2.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WaitError(f"cannot use PostgreSQL at {server.hostname}:{server.port or 5432} as "
                            f"{server.username} ({first}); set RISKOPS_STACK_POSTGRES to a server whose user may "
                            "create databases") from exc
        try:
            conn.autocommit = True
            conn.cursor().execute(statement)
        finally:
            conn.close()

    def s3_client(self):
        """A boto3 S3 client of the stack's object store, with the platform's credentials."""
        import boto3

        env = self.airflow.env
        return boto3.client("s3", endpoint_url=self.url("s3"), aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"))

    def _s3_ready(self) -> bool:
        try:
            return httpx.get(self.url("s3"), timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    def _create_buckets(self) -> None:
        s3 = self.s3_client()
        for bucket in self.buckets():
            s3.create_bucket(Bucket=bucket)

    def _mlflow_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url('mlflow')}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _airflow_ready(self) -> bool:
        for process in self.processes:
            if process.popen is not None and process.popen.poll() is not None:
                raise WaitError(f"{process.name} exited with {process.popen.returncode}; log: {process.log}")
        return self.airflow.healthy()

    def _write_env_file(self) -> None:
        """stack.env: what `python -m ml ...` needs to work on this stack (what a task gets), and the stack's
        credentials (what a compose .env would hold); readable by its owner only."""
        cli = {k: self.airflow.env[k] for k in ("RISKOPS_DATA", "RISKOPS_SPECS", "MLFLOW_TRACKING_URI",
                                                "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                                                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                                                "AWS_DEFAULT_REGION")}
        lines = ["# python -m ml against this stack:  set -a; . <this file>; set +a",
                 *(f"{k}={shlex.quote(v)}" for k, v in cli.items()),
                 "# the stack's credentials, as a compose .env file would set them",
                 *(f"{k}={shlex.quote(v)}" for k, v in sorted(self.variables.items()))]
        path = self.home / "stack.env"
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n")

    # ------------------------------------------------------------------ status

    def status(self) -> Iterator[str]:
        """One line per component: what it is, whether it runs, where it is."""
        by_name = {p.name: p for p in self.processes}

        def state(name: str) -> str:
            popen = by_name[name].popen if name in by_name else None
            return f"running (pid {popen.pid})" if popen is not None and popen.poll() is None else "stopped"

        env = self.airflow.env
        airflow_users = ", ".join(self.airflow_users())
        yield (f"s3       {state('s3')}  {self.url('s3')}  buckets {', '.join(self.buckets())}; RISKOPS_DATA="
               f"{env['RISKOPS_DATA']} (moto, in memory)")
        yield (f"mlflow   {state('mlflow')}  {self.url('mlflow')}  users admin, {env['MLFLOW_TRACKING_USERNAME']} "
               f"(platform), {self.users_env()['MLFLOW_APPROVER_USER']} (approver)")
        for command in airflow_commands():
            where = (f"{self.url('airflow')}  users {airflow_users}" if command == "api-server"
                     else f"log {self.home / 'logs' / f'airflow-{command}.log'}")
            yield f"airflow  {command:<13} {state(f'airflow-{command}')}  {where}"
        yield f"mail     {'running' if self.smtp else 'stopped'}  smtp://127.0.0.1:{self.ports['smtp']}  -> {self.home / 'outbox'}"
        server = urlsplit(self.postgres)
        yield (f"postgres {server.hostname}:{server.port or 5432}  databases "
               f"{', '.join(self.databases[n] for n in self.created)} (dropped on stop)")
        yield f"secrets  {self.home / 'stack.env'} (passwords; `set -a; . {self.home / 'stack.env'}; set +a` for the CLI)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("RISKOPS_STACK_HOME", REPO / "var" / "stack")))
    parser.add_argument("--postgres", default=os.environ.get("RISKOPS_STACK_POSTGRES", DEFAULT_POSTGRES),
                        help="a PostgreSQL server whose user may create databases (default: %(default)s)")
    parser.add_argument("--stop", action="store_true", help="stop the stack started in this home")
    args = parser.parse_args(argv)
    pid_file = args.home / "stack.pid"
    if args.stop:
        return stop_running(pid_file)

    stack = Stack(args.home, postgres=args.postgres)
    # Ctrl-C (SIGINT, also when started from a script that ignores it) and `make stack-stop` (SIGTERM) both
    # end the wait below and stop everything
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    print(f"starting the stack in {args.home} (about a minute) ...", flush=True)
    try:
        stack.start()
        pid_file.write_text(str(os.getpid()))
        print("\n".join(stack.status()), flush=True)
        print("Ctrl-C or `make stack-stop` stops everything.", flush=True)
        while all(p.popen is not None and p.popen.poll() is None for p in stack.processes):
            time.sleep(1)
        print("error: a component exited:", *[line for line in stack.status() if "stopped" in line], sep="\n  ")
        return 1
    except KeyboardInterrupt:
        return 0
    except (WaitError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        pid_file.unlink(missing_ok=True)
        print("stopped: every process reaped, databases dropped", flush=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def stop_running(pid_file: Path) -> int:
    """Ask the stack recorded in `pid_file` to stop (SIGTERM) and wait until it has."""
    if not pid_file.exists():
        print(f"no stack is running ({pid_file} does not exist)")
        return 0
    pid = int(pid_file.read_text())
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        command = b""
    if b"demo.stack" not in command:  # a stack that died without cleaning up; the pid may be reused
        pid_file.unlink(missing_ok=True)
        print(f"no stack is running (pid {pid} is not one)")
        return 0
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_file.exists(), 120, f"the stack (pid {pid}) to stop", 0.5)
    print("stack stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
