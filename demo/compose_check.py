"""`make compose-check`: docker-compose.yaml brought up for real in Docker, every step a container, the whole
production path run through it and checked.

    python -m demo.compose_check        (make compose-check)

1. Docker must answer (else one line says so, exit 1). The local Debian base is built if missing
   (docker/base/build.sh, cached by its inputs), then the images, each through compose's own build section:
   postgres (Debian's package) and the stand-ins (moto's S3, the SMTP sink) of docker/compose/local-images.yaml,
   MLflow, Airflow, the task image. Their sizes are printed; the task image must stay within 800 MB.
2. docker-compose.yaml + docker/compose/task-containers.yaml (RISKOPS_TASK_MODE=docker) + local-images.yaml
   + a small file of this check's own settings (cron off, one API worker) come up under a project name of
   their own, with fresh credentials (its own env file, mode 0600, as `make secrets` writes one) and free
   ports on 127.0.0.1: CeleryExecutor with Redis and two airflow-worker containers, each starting its steps
   on the Docker engine it runs on.
3. demo.production_flow runs on it: landing (the task image through compose's `riskops-task`), preprocess,
   retrain, the approval answered by the approver through the REST API, score, stability, backtest; then
   the history on PostgreSQL, MLflow's registry through its REST API with auth, the mails and their PDFs, the
   refusals, and no credential in any container's (every service's) or task's log; both Celery workers ran
   tasks (each task instance's hostname, from the REST API). The scored day is scored once more on this
   machine with the development lock's (CUDA) xgboost: its file must be byte-identical to the one the task
   image's xgboost-cpu wrote.
4. The fault phase (demo.faults): the Celery worker running a scoring step is SIGKILLed; the step is retried
   and the day scored once.
5. Every container, network and volume of the project is removed, whatever happened; the phase times are
   printed. Images stay (they are the cache of the next run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from demo.airflow_runtime import REPO, AirflowApi, WaitError, wait_for
from demo.env_file import write_env_file
from demo.faults import kill_worker_during_scoring
from demo.production_flow import (
    DATASET,
    DAYS,
    SCORED,
    SCORES_KEY,
    CheckFailed,
    Clock,
    check_all,
    read_mails,
    require,
    run_flow,
)
from demo.stack import free_port, fresh_credentials, service_env

COMPOSE_FILES = (REPO / "docker-compose.yaml", REPO / "docker" / "compose" / "task-containers.yaml",
                 REPO / "docker" / "compose" / "local-images.yaml")
BASE_IMAGE, DEBIAN_IMAGE = "riskops-base:bookworm", "riskops-debian:bookworm"
TASK_IMAGE_LIMIT = 800_000_000  # bytes, as `docker images` counts them
# image -> (the compose service whose build section makes it, the compose variable naming it)
IMAGES = {
    "postgres": ("postgres", "RISKOPS_POSTGRES_IMAGE"),
    "redis": ("redis", "RISKOPS_REDIS_IMAGE"),
    "standins": ("minio", "RISKOPS_STANDINS_IMAGE"),
    "mlflow": ("mlflow", "RISKOPS_MLFLOW_IMAGE"),
    "airflow": ("airflow-init", "RISKOPS_AIRFLOW_IMAGE"),
    "task": ("task-image", "RISKOPS_TASK_IMAGE"),
}
PORTS = ("AIRFLOW_PORT", "MLFLOW_PORT", "MINIO_PORT", "MINIO_CONSOLE_PORT", "MAILPIT_PORT", "POSTGRES_PORT")
# What this check sets that a deployment would not: the data are replayed history (runs are triggered, no
# cron), and one API worker on a machine of two cores shared with the steps.
# The fault phase waits for a killed worker's task to be failed over and retried: a heartbeat timeout of 60 s
# and a retry after 15 s instead of compose's 120 s and 300 s keep that within a CI budget.
CHECK_SETTINGS = {"RISKOPS_CRON_SCHEDULES": "off", "AIRFLOW__API__WORKERS": "1",
                  "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60", "RISKOPS_RETRY_DELAY_SECONDS": "15"}
AIRFLOW_SERVICES = ("airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-worker",
                    "airflow-dag-processor", "airflow-triggerer")
WORKERS = 2  # airflow-worker's scale in docker-compose.yaml: both must run tasks


class DockerMissing(RuntimeError):
    """Docker (the engine or docker-compose) is not usable here."""


def run(argv: list[str], env: dict[str, str] | None = None, log: Path | None = None, timeout: float = 1800,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; its output goes to `log` (appended) or is returned. Raises WaitError on failure."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as out:
            out.write(f"$ {' '.join(argv)}\n")
            out.flush()
            done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
    else:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        where = f"; log: {log}" if log else f": {(done.stderr or done.stdout).strip()[-500:]}"
        raise WaitError(f"`{' '.join(argv[:4])} ...` exited with {done.returncode}{where}")
    return done


def docker_available() -> None:
    """Raise DockerMissing with the reason in one line when no Docker engine answers, or no docker-compose."""
    if shutil.which("docker") is None:
        raise DockerMissing("the docker command is not installed")
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DockerMissing(f"no Docker engine answers ({reason})")
    if shutil.which(compose_command()[0]) is None:
        raise DockerMissing(f"{compose_command()[0]} is not installed (Debian: apt-get install -y docker-compose)")


def compose_command() -> list[str]:
    """RISKOPS_COMPOSE: how to call compose (default docker-compose, 1.29 here; `docker compose` works too)."""
    return os.environ.get("RISKOPS_COMPOSE", "docker-compose").split()


@dataclass
class ComposeStack:
    """One compose project of the check: configured when built, `up`, driven through `Platform`, `down`."""

    home: Path
    project: str = field(default_factory=lambda: f"riskops-check-{uuid.uuid4().hex[:8]}")
    variables: dict[str, str] = field(default_factory=fresh_credentials)
    ports: dict[str, int] = field(default_factory=lambda: {k: free_port() for k in PORTS})

    def __post_init__(self) -> None:
        self.env_file = self.home / "check.env"  # this check's own .env (never the repository's)
        self.override = self.home / "check.yaml"
        self.log = self.home / "logs" / "compose.log"
        passwords = self.home / "airflow" / "passwords.json"
        self.airflow = AirflowApi(self.home / "airflow", self.ports["AIRFLOW_PORT"],
                                  {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords)},
                                  log_path=self.home / "logs")

    # ------------------------------------------------------------------ configuration

    def env(self) -> dict[str, str]:
        """What compose interpolates besides the credentials (in `env_file`): ports, image names, this machine's
        Docker."""
        images = {var: f"riskops-{name}:check" for name, (_, var) in IMAGES.items()}
        return {
            # the credentials come from this check's own env file only (compose() passes it)
            **{k: v for k, v in os.environ.items()
               if not k.startswith(("RISKOPS_", "AIRFLOW", "MLFLOW_", "AWS_")) and k not in self.variables},
            **{k: str(v) for k, v in self.ports.items()}, **images,
            "COMPOSE_PROJECT_NAME": self.project,
            "RISKOPS_DOCKER_NETWORK": self.project,
            "RISKOPS_BASE_IMAGE": BASE_IMAGE,
            "RISKOPS_DEBIAN_IMAGE": DEBIAN_IMAGE,
            "RISKOPS_OUTBOX": str(self.home / "outbox"),
            "RISKOPS_OUTBOX_UID": str(os.getuid()),
            "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid) if Path("/var/run/docker.sock").exists() else "0",
            # the legacy builder (Docker 20.10 has no buildx); docker-compose 1.29 then builds through the API
            "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0",
        }

    def compose(self, *args: str) -> list[str]:
        files = [*COMPOSE_FILES, self.override] if self.override.exists() else list(COMPOSE_FILES)
        if not self.env_file.exists():
            self.env_file.parent.mkdir(parents=True, exist_ok=True)
            write_env_file(self.env_file, self.variables)
        return [*compose_command(), "--project-name", self.project, "--project-directory", str(REPO),
                "--env-file", str(self.env_file), *(a for f in files for a in ("-f", str(f))), *args]

    def write_override(self) -> None:
        """This check's own settings, for every Airflow component (they must agree)."""
        import yaml

        self.override.parent.mkdir(parents=True, exist_ok=True)
        self.override.write_text("# written by demo.compose_check: the check's own settings\n" + yaml.safe_dump(
            {"services": {name: {"environment": dict(CHECK_SETTINGS)} for name in AIRFLOW_SERVICES}}))

    def airflow_users(self) -> dict[str, str]:
        env = service_env("airflow-init", self.variables)
        return {env["_AIRFLOW_WWW_USER_USERNAME"]: env["_AIRFLOW_WWW_USER_PASSWORD"],
                env["_AIRFLOW_APPROVER_USERNAME"]: env["_AIRFLOW_APPROVER_PASSWORD"]}

    def image(self, name: str) -> str:
        return self.env()[IMAGES[name][1]]

    # ------------------------------------------------------------------ Platform (demo.production_flow)

    @property
    def secrets(self) -> dict[str, str]:
        return dict(self.variables)

    @property
    def history_url(self) -> str:
        url = service_env("airflow-scheduler", self.variables)["RISKOPS_HISTORY_URL"]
        return url.replace("@postgres:5432/", f"@127.0.0.1:{self.ports['POSTGRES_PORT']}/")

    @property
    def airflow_public_url(self) -> str:
        return f"http://localhost:{self.ports['AIRFLOW_PORT']}"  # compose's AIRFLOW__API__BASE_URL

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name.upper() + '_PORT']}"

    def s3_env(self) -> dict[str, str]:
        """What a process on this machine needs to reach the stack's object store and tracking server."""
        env = service_env("airflow-scheduler", self.variables)
        return {"AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
                "AWS_DEFAULT_REGION": env["AWS_DEFAULT_REGION"], "AWS_ENDPOINT_URL": self.url("minio"),
                "RISKOPS_DATA": env["RISKOPS_DATA"], "MLFLOW_TRACKING_URI": self.url("mlflow"),
                "MLFLOW_TRACKING_USERNAME": env["MLFLOW_TRACKING_USERNAME"],
                "MLFLOW_TRACKING_PASSWORD": env["MLFLOW_TRACKING_PASSWORD"],
                "RISKOPS_HISTORY_URL": self.history_url, "RISKOPS_SPECS": str(REPO / "datasets"),
                # MLflow's server hands out presigned download URLs of the bucket at its own address
                # (http://minio:9000), which only compose's network resolves: from here, stream through it
                "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false"}

    def s3_client(self) -> Any:
        import boto3

        env = self.s3_env()
        return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])

    def mlflow_users(self) -> dict[str, tuple[str, str]]:
        env = service_env("mlflow-init", self.variables)
        return {"platform": (env["MLFLOW_PLATFORM_USER"], env["MLFLOW_PLATFORM_PASSWORD"]),
                "approver": (env["MLFLOW_APPROVER_USER"], env["MLFLOW_APPROVER_PASSWORD"])}

    def land(self, args: list[str]) -> None:
        """A step's command in the task image, through compose's `riskops-task` service (its documented use)."""
        run(self.compose("run", "--rm", "--no-deps", "-T", "riskops-task", "python", "-m", "ml", *args),
            env=self.env(), log=self.home / "logs" / "land.log", timeout=600)

    def mails(self) -> list[EmailMessage]:
        return read_mails(list((self.home / "outbox").glob("*.eml")))

    def logs(self) -> list[Path]:
        """Every container's output (docker logs) and every task log (copied out of the logs volume)."""
        self.collect_logs()
        return [p for p in (self.home / "logs").rglob("*") if p.is_file()] + [
            p for p in (self.home / "airflow" / "logs").rglob("*") if p.is_file()]

    # ------------------------------------------------------------------ lifecycle

    def build(self, clock: Clock) -> dict[str, int]:
        """The base (if its inputs changed), then each image through compose's build; returns sizes in bytes."""
        base = run([str(REPO / "docker" / "base" / "build.sh"), BASE_IMAGE])
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        with open(self.home / "logs" / "build.log", "a") as log:
            log.write(base.stdout + base.stderr)
        clock.lap("base image" + (" (cached)" if "cached" in base.stderr else ""))
        sizes = {}
        for name, (service, _) in IMAGES.items():
            run(self.compose("build", service), env=self.env(), log=self.home / "logs" / "build.log", timeout=3600)
            clock.lap(f"build {name}")
            sizes[name] = int(run(["docker", "image", "inspect", "-f", "{{.Size}}", self.image(name)]).stdout)
        return sizes

    def up(self, timeout: float = 600) -> None:
        (self.home / "outbox").mkdir(parents=True, exist_ok=True)
        (self.home / "airflow").mkdir(parents=True, exist_ok=True)
        (self.home / "airflow" / "passwords.json").write_text(json.dumps(self.airflow_users()))
        self.write_override()
        # compose waits for every depends_on condition: postgres healthy, buckets and users made, migrations done
        run(self.compose("up", "-d", "--no-build"), env=self.env(), log=self.log, timeout=timeout)
        wait_for(self.airflow.healthy, timeout, f"Airflow's components to report healthy at {self.airflow.base}; "
                 f"logs: {self.home / 'logs'}", 2)
        for service in ("postgres", "mlflow", "airflow-api-server"):
            wait_for(lambda service=service: self.health(service) == "healthy", 180, f"{service}'s health check", 2)
        self.airflow.token = self.airflow.login(next(iter(self.airflow_users())))

    def container_ids(self, *filters: str) -> list[str]:
        done = run(["docker", "ps", "-aq", *(a for f in filters for a in ("--filter", f))], check=False)
        return done.stdout.split()

    def health(self, service: str) -> str:
        ids = self.container_ids(f"label=com.docker.compose.project={self.project}",
                                 f"label=com.docker.compose.service={service}")
        if not ids:
            return "missing"
        return run(["docker", "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", ids[0]],
                   check=False).stdout.strip()

    def collect_logs(self) -> None:
        logs = self.home / "logs" / "containers"
        logs.mkdir(parents=True, exist_ok=True)
        for cid in self.container_ids(f"label=com.docker.compose.project={self.project}"):
            name = run(["docker", "inspect", "-f", "{{.Name}}", cid], check=False).stdout.strip().lstrip("/")
            done = run(["docker", "logs", cid], check=False)
            (logs / f"{name}.log").write_text(done.stdout + done.stderr)
        scheduler = self.container_ids(f"label=com.docker.compose.project={self.project}",
                                       "label=com.docker.compose.service=airflow-scheduler")
        if scheduler:
            target = self.home / "airflow" / "logs"
            shutil.rmtree(target, ignore_errors=True)
            run(["docker", "cp", f"{scheduler[0]}:/opt/airflow/logs", str(target)], check=False)

    def down(self) -> str:
        """Remove every container (step containers on the network too), the network and the volumes."""
        strays = self.container_ids(f"network={self.project}")
        if strays:
            run(["docker", "rm", "-f", *strays], check=False)
        run(self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20"), env=self.env(), log=self.log,
            check=False)
        left = {
            "containers": self.container_ids(f"label=com.docker.compose.project={self.project}"),
            "networks": run(["docker", "network", "ls", "-q", "--filter", f"name={self.project}"], check=False).stdout.split(),
            "volumes": run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={self.project}"],
                           check=False).stdout.split(),
        }
        remaining = {k: v for k, v in left.items() if v}
        return "nothing left" if not remaining else f"LEFT BEHIND: {remaining}"


def check_task_containers(stack: ComposeStack) -> None:
    """The steps ran as containers of the task image, as a non-root user."""
    task_logs = [p for p in (stack.home / "airflow" / "logs").rglob("*") if p.is_file()]
    image = stack.image("task")
    marker = f"Starting docker container from image {image}".encode()  # DockerOperator's own line
    ran = [p for p in task_logs if marker in p.read_bytes()]
    steps = [part.removeprefix("task_id=") for p in ran for part in p.parts if part.startswith("task_id=")]
    require({"preprocess", "train", "promote", "commit", "stability", "backtest"} <= set(steps)
            and steps.count("preprocess") == DAYS + 1, f"steps that ran in a container of {image}: {sorted(steps)}")
    uid = run(["docker", "run", "--rm", "--entrypoint", "id", image, "-u"]).stdout.strip()
    require(uid not in ("", "0"), f"the task image runs as uid {uid}")


def task_hosts(stack: ComposeStack) -> dict[str, int]:
    """How many task instances (every DAG, every run) each host ran, from Airflow's REST API."""
    hosts: dict[str, int] = {}
    offset = 0
    while True:
        page = stack.airflow.api("GET", "/dags/~/dagRuns/~/taskInstances", params={"limit": 100, "offset": offset})
        for ti in page["task_instances"]:
            if ti.get("hostname"):
                hosts[ti["hostname"]] = hosts.get(ti["hostname"], 0) + 1
        offset += len(page["task_instances"])
        if not page["task_instances"] or offset >= page["total_entries"]:
            return hosts


def check_workers_shared_the_tasks(stack: ComposeStack) -> None:
    """CeleryExecutor: every task ran on an airflow-worker container, and each of the WORKERS ran some."""
    workers = stack.container_ids(f"label=com.docker.compose.project={stack.project}",
                                  "label=com.docker.compose.service=airflow-worker")
    names = {run(["docker", "inspect", "-f", "{{.Config.Hostname}}", cid]).stdout.strip(): cid for cid in workers}
    hosts = task_hosts(stack)
    require(len(workers) == WORKERS, f"{len(workers)} airflow-worker containers, expected {WORKERS}")
    require(set(hosts) <= set(names), f"tasks ran on hosts that are not workers: {sorted(set(hosts) - set(names))}")
    require(set(hosts) == set(names), f"not every worker ran tasks: {hosts} of workers {sorted(names)}")
    print("celery workers: " + ", ".join(f"{h} ran {n} task(s)" for h, n in sorted(hosts.items())), flush=True)


def check_xgboost_builds_agree(stack: ComposeStack) -> None:
    """The scored day scored again here with the development lock's xgboost (the CUDA build): the file is
    byte-identical to the one xgboost-cpu wrote in the task image, from the same model and rows."""
    s3 = stack.s3_client()
    in_image = s3.get_object(Bucket="riskops", Key=SCORES_KEY)["Body"].read()
    s3.delete_object(Bucket="riskops", Key=SCORES_KEY)  # so the file compared below is the one written here
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("RISKOPS_", "MLFLOW_", "AWS_"))},
           **stack.s3_env()}
    run([sys.executable, "-m", "ml", "score", "--dataset", DATASET, "--model-version", "1", "--date",
         SCORED.isoformat()], env=env, log=stack.home / "logs" / "host-score.log", timeout=600)
    here = s3.get_object(Bucket="riskops", Key=SCORES_KEY)["Body"].read()
    import xgboost

    versions = run(["docker", "run", "--rm", stack.image("task"), "python", "-c",
                    "import importlib.metadata as m, xgboost; print(xgboost.__version__, "
                    "[d.metadata['Name'] for d in m.distributions() if d.metadata['Name'].startswith('xgboost')])"])
    require(in_image == here, f"scores differ between the task image ({versions.stdout.strip()}) and this "
            f"machine's xgboost {xgboost.__version__}")
    print(f"xgboost: task image {versions.stdout.strip()} and this machine's {xgboost.__version__} (CUDA build) "
          f"wrote byte-identical scores ({len(here)} bytes)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.compose_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("RISKOPS_CHECK_HOME", REPO / "var" / "compose-check")))
    parser.add_argument("--no-faults", dest="faults", action="store_false", help="skip the fault phase")
    args = parser.parse_args(argv)
    try:
        docker_available()
    except DockerMissing as exc:
        print(f"compose-check: FAILED: Docker cannot be used here: {exc}", flush=True)
        return 1
    shutil.rmtree(args.home, ignore_errors=True)
    args.home.mkdir(parents=True)
    clock = Clock()
    stack = ComposeStack(args.home)
    load = os.getloadavg()
    print(f"compose-check: project {stack.project}, home {args.home}; load average {load[0]:.1f} on "
          f"{os.cpu_count()} cores", flush=True)
    status, cleanup = 1, "not started"
    try:
        sizes = stack.build(clock)
        print("images: " + ", ".join(f"{n} {s / 1e6:.0f} MB" for n, s in sizes.items()), flush=True)
        require(sizes["task"] <= TASK_IMAGE_LIMIT, f"the task image is {sizes['task'] / 1e6:.0f} MB, over 800 MB")
        stack.up()
        clock.lap("up (healthy)")
        run_flow(stack, clock)
        check_all(stack, clock)
        check_task_containers(stack)
        check_workers_shared_the_tasks(stack)
        check_xgboost_builds_agree(stack)
        clock.lap("image checks")
        if args.faults:
            print(kill_worker_during_scoring(stack), flush=True)
            clock.lap("fault: worker SIGKILL during scoring")
        status = 0
    except (WaitError, CheckFailed, subprocess.TimeoutExpired, httpx.HTTPError, OSError) as exc:
        print(f"compose-check: FAILED: {exc}", flush=True)
    finally:
        stack.collect_logs()
        cleanup = stack.down()
        clock.lap("down")
    print(f"compose-check: phases: {clock}", flush=True)
    print(f"compose-check: cleanup: {cleanup}; logs in {args.home / 'logs'}", flush=True)
    if cleanup.startswith("LEFT"):
        status = 1
    print(f"compose-check: {'passed' if status == 0 else 'FAILED'}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
