"""Static checks of the container artefacts: docker-compose.yaml, the Dockerfiles, the postgres init script
and the Kubernetes pod template. Nothing here needs a docker engine or a cluster; the files are parsed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from demo.stack import fresh_credentials, interpolate  # compose's ${X:-default} substitution, shared with make stack

# what `make secrets` would write to .env: compose has no default for any of them
CREDENTIALS = fresh_credentials()

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
POD_TEMPLATE = ROOT / "docker" / "k8s" / "pod_template.yaml"
INIT_SQL_DIR = "/docker-entrypoint-initdb.d"
AIRFLOW_DOCKERFILE = "docker/airflow/Dockerfile"
TASK_DOCKERFILE = "docker/task/Dockerfile"
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"}
# Settings every Airflow component must agree on.
SHARED_AIRFLOW_ENV = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW_CONN_SMTP_DEFAULT",
    "RISKOPS_DATA",
    "RISKOPS_HISTORY_URL",
    "RISKOPS_TASK_MODE",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "RISKOPS_APPROVER_USERS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
)


# ---------------------------------------------------------------------------------------------------------
# compose helpers


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def env(service: dict) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {k: "" if v is None else str(interpolate(v, CREDENTIALS)) for k, v in raw.items()}


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return interpolate(shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd], CREDENTIALS)


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def dockerfile_of(service: dict) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def airflow_services() -> dict[str, dict]:
    return {n: s for n, s in services().items() if dockerfile_of(s) == ROOT / AIRFLOW_DOCKERFILE}


def option(cmd: list[str], name: str) -> str | None:
    """The value of a `--name value` / `--name=value` option in a command line."""
    for i, arg in enumerate(cmd):
        if arg == name and i + 1 < len(cmd):
            return cmd[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port (short and long syntax)."""
    out = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                out.append((entry.get("host_ip", "0.0.0.0"), int(interpolate(str(entry["published"]))),
                            int(entry["target"])))
            continue
        spec = str(interpolate(str(entry))).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            continue  # container port only: no fixed host port
        ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        out.append((ip, int(parts[-2]), int(parts[-1])))
    return out


def mlflow_service() -> tuple[str, dict]:
    found = [(n, s) for n, s in services().items() if command(s)[:2] == ["mlflow", "server"]]
    assert len(found) == 1, "exactly one service runs `mlflow server`"
    return found[0]


def service_named(pattern: str) -> tuple[str, dict]:
    found = [(n, s) for n, s in services().items() if pattern in n]
    assert len(found) == 1, f"exactly one service named like {pattern!r}, found {[n for n, _ in found]}"
    return found[0]


# ---------------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore helpers


@cache
def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        instr, _, args = full.partition(" ")
        out.append((instr.upper(), args.strip()))
    assert not pending, f"{dockerfile}: dangling line continuation"
    return out


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    ins = instructions(dockerfile)
    last_from = max(i for i, (instr, _) in enumerate(ins) if instr == "FROM")
    return ins[last_from:]


def copies(dockerfile: Path) -> list[tuple[list[str], str, dict[str, str]]]:
    """(sources, destination, flags) of each COPY/ADD; sources of `COPY --from=stage` are not host paths."""
    out = []
    for instr, args in instructions(dockerfile):
        if instr not in ("COPY", "ADD"):
            continue
        words = shlex.split(args)
        flags = {}
        while words and words[0].startswith("--"):
            key, _, value = words.pop(0)[2:].partition("=")
            flags[key] = value
        if words and words[0].startswith("["):
            words = json.loads(" ".join(words))
        assert len(words) >= 2, f"{dockerfile}: malformed {instr} {args}"
        out.append((words[:-1], words[-1], flags))
    return out


def env_of(dockerfile: Path) -> dict[str, str]:
    """ENV of the final stage (both `ENV K=V ...` and the legacy `ENV K V`)."""
    values: dict[str, str] = {}
    for instr, args in final_stage(dockerfile):
        if instr != "ENV":
            continue
        words = shlex.split(args)
        if "=" not in words[0]:
            values[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            values[key] = value
    return values


def _pattern_regex(pattern: str) -> re.Pattern:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if pattern.startswith("/", i):
                out += "/?"
                i += 1
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def in_build_context(dockerfile: Path, rel: str) -> bool:
    """Whether a path (relative to the context, the repository root) survives the root .dockerignore, the only
    one Docker 20.10's legacy builder and docker-compose 1.29 read (BuildKit would prefer a
    <Dockerfile>.dockerignore beside the Dockerfile: there is none, test_images.py checks).

    Docker semantics: the last matching pattern wins, and a pattern matching a folder matches what is in it.
    """
    ignore = ROOT / ".dockerignore"
    if not ignore.exists():
        return True
    included = True
    parts = PurePosixPath(rel).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in ignore.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        regex = _pattern_regex(pattern.strip("/"))
        if any(regex.fullmatch(p) for p in prefixes):
            included = negate
    return included


def host_files(rel: str) -> list[str]:
    """The files a COPY source stands for (a file, or the files under a folder, caches left out)."""
    path = ROOT / rel
    if path.is_file():
        return [rel.strip("/")]
    return [
        p.relative_to(ROOT).as_posix()
        for p in path.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    ]


def dockerfiles() -> list[Path]:
    """Every Dockerfile whose build context is the repository root (docker/base/Dockerfile gets a context of
    its own from docker/base/build.sh)."""
    found = {dockerfile_of(s) for s in services().values()} - {None}
    found |= set((ROOT / "docker").glob("*/Dockerfile"))
    return sorted(found - {ROOT / "docker" / "base" / "Dockerfile"})


def base_image(dockerfile: Path) -> str:
    """The default of the Dockerfile's ARG BASE (what it builds from without --build-arg)."""
    for instr, args in instructions(dockerfile):
        if instr == "ARG" and args.startswith("BASE="):
            return args.split("=", 1)[1]
        if instr == "FROM":
            break
    raise AssertionError(f"{dockerfile}: no ARG BASE=... before its first FROM")


def default_pod_template() -> Path:
    """The pod template the DAGs use when RISKOPS_POD_TEMPLATE is not set (the settings module imports no Airflow)."""
    import os
    from unittest import mock

    from riskops_airflow import settings

    with mock.patch.dict(os.environ):
        os.environ.pop("RISKOPS_POD_TEMPLATE", None)
        return settings.pod_template()


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"\[.*\]", "", name).strip().lower().replace("_", "-")] = version.split(";")[0].strip()
    return pins


# ---------------------------------------------------------------------------------------------------------
# compose: structure


def test_every_service_has_an_image_or_a_buildable_dockerfile():
    for name, svc in services().items():
        assert svc.get("image") or svc.get("build"), f"{name}: neither image nor build"
        dockerfile = dockerfile_of(svc)
        if dockerfile is not None:
            assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
            assert dockerfile.parent.is_relative_to(ROOT)
        else:
            image = interpolate(svc["image"])
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), (
                f"{name}: third-party image {image} must be pinned to a version tag")


def test_depends_on_targets_exist_and_conditions_hold():
    svcs = services()
    for name, svc in svcs.items():
        for target, condition in depends_on(svc).items():
            assert target in svcs, f"{name} depends on unknown service {target}"
            assert target != name
            assert condition in ("service_started", "service_healthy", "service_completed_successfully")
            if condition == "service_healthy":
                assert svcs[target].get("healthcheck", {}).get("test"), f"{name} waits for {target}'s health, it has no healthcheck"
            if condition == "service_completed_successfully":
                assert str(svcs[target].get("restart", "no")) == "no", f"{target} is a one-shot job: restart must be 'no'"
            if "profiles" in svcs[target]:
                assert svc.get("profiles") == svcs[target]["profiles"], f"{name} depends on {target}, which is in a profile"

    # no cycles: a topological order exists
    remaining = {n: set(depends_on(s)) for n, s in svcs.items()}
    while remaining:
        ready = [n for n, deps in remaining.items() if not deps & remaining.keys()]
        assert ready, f"depends_on cycle among {sorted(remaining)}"
        for n in ready:
            del remaining[n]


def test_key_services_have_healthchecks():
    svcs = services()
    api_name, api = service_named("api-server")
    for name in ("postgres", mlflow_service()[0], api_name):
        check = svcs[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    api_check = " ".join(api["healthcheck"]["test"])
    container_port = {p[2] for p in published_ports(api)}
    assert "/api/v2/monitor/health" in api_check
    assert any(f"localhost:{port}" in api_check for port in container_port)


def test_airflow_services_run_airflow_3_components():
    afs = airflow_services()
    by_command = {}
    for name, svc in afs.items():
        cmd = command(svc)
        if cmd and cmd[0] == "airflow":  # `airflow scheduler` and `scheduler` are the same to the image entrypoint
            cmd = cmd[1:]
        if cmd and " ".join(cmd[:2]) in AIRFLOW_COMMANDS:  # `celery worker`
            by_command[" ".join(cmd[:2])] = name
        elif cmd and cmd[0] in AIRFLOW_COMMANDS:
            by_command[cmd[0]] = name
    assert set(by_command) == AIRFLOW_COMMANDS, f"missing airflow components: {AIRFLOW_COMMANDS - set(by_command)}"
    assert not any("webserver" in command(s) for s in afs.values()), "Airflow 3 has no webserver command"

    init_name, init = service_named("airflow-init")
    assert init_name in afs
    script = " ".join(command(init))
    assert "airflow db migrate" in script
    assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in script, "airflow-init sets the admin password"
    for name in by_command.values():
        assert depends_on(afs[name]).get(init_name) == "service_completed_successfully", (
            f"{name} must wait for {init_name}")
    scheduler = afs[by_command["scheduler"]]
    assert env(scheduler)["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"].lower() == "true"
    assert "8974/health" in " ".join(scheduler["healthcheck"]["test"])


def test_airflow_services_share_one_configuration():
    afs = airflow_services()
    assert len(afs) >= 5
    envs = {name: env(svc) for name, svc in afs.items()}
    for key in SHARED_AIRFLOW_ENV:
        values = {name: e.get(key) for name, e in envs.items()}
        assert None not in values.values(), f"{key} missing in {[n for n, v in values.items() if v is None]}"
        assert len(set(values.values())) == 1, f"{key} differs between airflow services: {values}"
    e = next(iter(envs.values()))
    assert e["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # Celery's broker is the redis service, with its password; results in Airflow's own database
    broker, redis = urlsplit(e["AIRFLOW__CELERY__BROKER_URL"]), services()["redis"]
    assert broker.scheme == "redis" and broker.hostname == "redis" and broker.password == env(redis)["REDIS_PASSWORD"]
    # the driver named: a bare db+postgresql:// makes the worker import psycopg 3, which the lock does not have
    backend = urlsplit(e["AIRFLOW__CELERY__RESULT_BACKEND"])
    assert backend.hostname == "postgres" and backend.scheme == "db+postgresql+psycopg2"
    workers = [svc for svc in afs.values() if svc.get("command") == "celery worker"]
    assert len(workers) == 1 and workers[0].get("scale") == 2, "one airflow-worker service, two containers"
    assert e["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
    assert e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert e["RISKOPS_DATA"] == "s3://riskops/data"
    assert e["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert e["RISKOPS_TASK_MODE"] == "local"
    assert e["AIRFLOW__API_AUTH__JWT_SECRET"], "an empty JWT secret makes each component invent its own"
    # the same image for all: one build, one set of DAGs
    assert len({interpolate(s.get("image")) for s in afs.values()}) == 1


def test_urls_point_at_the_services_that_serve_them():
    svcs = services()
    e = env(next(iter(airflow_services().values())))

    db = urlsplit(e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert db.hostname == "postgres" and db.hostname in svcs

    mlflow_name, mlflow = mlflow_service()
    tracking = urlsplit(e["MLFLOW_TRACKING_URI"])
    assert tracking.hostname == mlflow_name
    assert tracking.port == int(option(command(mlflow), "--port") or 5000)
    # MLflow 3's security middleware rejects Host headers it does not know: the one clients send must pass.
    allowed = (option(command(mlflow), "--allowed-hosts") or env(mlflow).get("MLFLOW_SERVER_ALLOWED_HOSTS", "")).split(",")
    assert any(fnmatch.fnmatch(tracking.netloc, a) if "*" in a else tracking.netloc == a for a in allowed), (
        f"{tracking.netloc} is not in mlflow --allowed-hosts {allowed}")

    s3 = urlsplit(e["AWS_ENDPOINT_URL"])
    service_named_exact("minio")  # exists
    assert s3.hostname == "minio"
    assert s3.port == 9000 and "server" in command(svcs[s3.hostname])
    assert env(mlflow)["MLFLOW_S3_ENDPOINT_URL"] == e["AWS_ENDPOINT_URL"]

    api_name, api = service_named("api-server")
    execution = urlsplit(e["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution.hostname == api_name
    assert execution.port in {p[2] for p in published_ports(api)}
    assert execution.path.rstrip("/") == "/execution"

    smtp = json.loads(e["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert smtp["conn_type"] == "smtp"
    assert smtp["host"] in svcs and "mailpit" in interpolate(svcs[smtp["host"]]["image"])
    assert int(smtp["port"]) == 1025
    assert smtp["extra"]["disable_ssl"] and smtp["extra"]["disable_tls"], "mailpit speaks plain SMTP"


def service_named_exact(name: str) -> dict:
    assert name in services(), f"no service {name}"
    return services()[name]


def test_object_store_credentials_and_buckets_match_minio():
    minio = service_named_exact("minio")
    root_user = env(minio)["MINIO_ROOT_USER"]
    root_password = env(minio)["MINIO_ROOT_PASSWORD"]
    assert len(root_user) >= 3 and len(root_password) >= 8, "minio refuses shorter root credentials"
    for name, svc in services().items():
        e = env(svc)
        if "AWS_ACCESS_KEY_ID" in e:
            assert (e["AWS_ACCESS_KEY_ID"], e["AWS_SECRET_ACCESS_KEY"]) == (root_user, root_password), name
        if "MINIO_ROOT_USER" in e:
            assert (e["MINIO_ROOT_USER"], e["MINIO_ROOT_PASSWORD"]) == (root_user, root_password), name

    init = service_named_exact("minio-init")
    assert depends_on(init).get("minio") == "service_healthy"
    script = " ".join(command(init))
    created = set(re.findall(r"local/([a-z0-9.-]+)", script.split("mc mb", 1)[1]))
    data_bucket = urlsplit(env(next(iter(airflow_services().values())))["RISKOPS_DATA"]).netloc
    artifact_bucket = urlsplit(option(command(mlflow_service()[1]), "--artifacts-destination")).netloc
    assert {data_bucket, artifact_bucket} <= created, f"buckets created: {created}"


def test_mlflow_server_uses_postgres_and_proxies_s3_artifacts():
    name, mlflow = mlflow_service()
    cmd = command(mlflow)
    assert urlsplit(option(cmd, "--backend-store-uri")).scheme.startswith("postgresql")
    assert option(cmd, "--artifacts-destination").startswith("s3://")
    assert "--serve-artifacts" in cmd and "--no-serve-artifacts" not in cmd
    assert option(cmd, "--host") == "0.0.0.0"
    assert depends_on(mlflow).get("postgres") == "service_healthy"


def mlflow_auth_config() -> dict[str, str]:
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / "docker" / "mlflow" / "basic_auth.ini")
    return dict(parser["mlflow"])


def test_mlflow_has_users_for_the_platform_and_an_approver():
    name, mlflow = mlflow_service()
    assert option(command(mlflow), "--app-name") == "basic-auth"
    mounted = {str(v).split(":")[1]: str(v).split(":")[0] for v in mlflow.get("volumes", [])}
    assert mounted[env(mlflow)["MLFLOW_AUTH_CONFIG_PATH"]] == "./docker/mlflow/basic_auth.ini"
    auth = mlflow_auth_config()
    assert auth["default_permission"] == "READ", "others read; only what a user created may it change"
    assert "admin_password" not in auth, "the admin's password comes from the environment"
    assert env(mlflow)["MLFLOW_AUTH_ADMIN_PASSWORD"] and env(mlflow)["MLFLOW_FLASK_SERVER_SECRET_KEY"]

    init = service_named_exact("mlflow-init")
    assert depends_on(init) == {name: "service_healthy"}
    users = env(init)
    assert users["MLFLOW_AUTH_ADMIN_PASSWORD"] == env(mlflow)["MLFLOW_AUTH_ADMIN_PASSWORD"]
    assert users["MLFLOW_AUTH_ADMIN_USERNAME"] == auth["admin_username"]
    assert urlsplit(users["MLFLOW_TRACKING_URI"]).hostname == name
    assert command(init)[-1] == "/opt/mlflow/create_users.py"
    copied = {d: src for src, d, _ in copies(dockerfile_of(init))}
    assert copied["/opt/mlflow/create_users.py"] == ["docker/mlflow/create_users.py"]
    assert users["MLFLOW_APPROVER_USER"] != users["MLFLOW_PLATFORM_USER"]
    # Airflow (and its tasks) log in as the platform; the scheduler starts once the users exist
    for svc_name, svc in airflow_services().items():
        e = env(svc)
        assert (e["MLFLOW_TRACKING_USERNAME"], e["MLFLOW_TRACKING_PASSWORD"]) == (
            users["MLFLOW_PLATFORM_USER"], users["MLFLOW_PLATFORM_PASSWORD"]), svc_name
    assert depends_on(service_named("scheduler")[1]).get("mlflow-init") == "service_completed_successfully"


def test_only_the_approver_may_answer_an_approval_in_airflow():
    e = env(next(iter(airflow_services().values())))
    roles = dict(u.split(":") for u in e["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(","))
    approvers = e["RISKOPS_APPROVER_USERS"].split(",")
    assert approvers and all(roles.get(a) == "user" for a in approvers), "approvers: users that exist, not admins"
    assert [u for u, r in roles.items() if r == "admin"] and not set(approvers) & {u for u, r in roles.items() if r == "admin"}
    assert e["RISKOPS_SEPARATE_DUTIES"] == "on"
    init = env(service_named_exact("airflow-init"))
    assert {init["_AIRFLOW_WWW_USER_USERNAME"], init["_AIRFLOW_APPROVER_USERNAME"]} == set(roles), (
        "airflow-init writes a password for every user")


def test_init_sql_creates_the_databases_the_connections_name():
    postgres = service_named_exact("postgres")
    scripts = []
    for volume in postgres.get("volumes", []):
        source, _, target = str(volume).partition(":")
        if target.split(":")[0].startswith(INIT_SQL_DIR):
            scripts.append(ROOT / source)
    assert scripts, f"no init script mounted into {INIT_SQL_DIR}"
    sql = "\n".join(p.read_text() for p in scripts)
    sql = re.sub(r"--[^\n]*", "", sql)
    databases = {m.group(1): m.group(2) for m in re.finditer(r"CREATE DATABASE\s+(\w+)(?:\s+OWNER\s+(\w+))?", sql, re.I)}
    # each owner's password is a psql variable (-v name="$VAR"), VAR from the postgres service's environment
    psql_vars = dict(re.findall(r'-v\s+(\w+)="\$(\w+)"', sql))
    users = {user: env(postgres)[psql_vars[var]] for user, var in
             re.findall(r"CREATE (?:USER|ROLE)\s+(\w+)\s+WITH\s+(?:LOGIN\s+)?PASSWORD\s+:'(\w+)'", sql, re.I)}
    assert set(users) == {"airflow", "mlflow", "riskops"} and all(users.values())
    pgpassword = env(mlflow_service()[1])["PGPASSWORD"]  # libpq's, for the URLs that carry none

    conns = {"airflow": env(next(iter(airflow_services().values())))["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
             "mlflow": option(command(mlflow_service()[1]), "--backend-store-uri"),
             "mlflow's users": mlflow_auth_config()["database_uri"]}
    for who, url in conns.items():
        parts = urlsplit(url)
        db = parts.path.lstrip("/")
        assert parts.hostname == "postgres", f"{who} connects to {parts.hostname}"
        assert db in databases, f"{who}'s database {db} is not created by the init script"
        assert users.get(parts.username) == (parts.password or pgpassword), (
            f"{who}: user {parts.username} / password differ from the init script")
        assert databases[db] == parts.username, f"{who}: {db} should be owned by {parts.username}"


def test_mounted_host_paths_exist_and_named_volumes_are_declared():
    declared = set((compose().get("volumes") or {}).keys())
    for name, svc in services().items():
        for volume in svc.get("volumes") or []:
            if isinstance(volume, dict):
                source, kind = volume.get("source"), volume.get("type", "volume")
            else:
                source = str(volume).split(":")[0]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            if kind == "bind":
                assert source.startswith("."), f"{name}: bind mount {source} must be inside the repository"
                assert (ROOT / source).exists(), f"{name}: bind-mounted {source} does not exist"
            elif source:
                assert source in declared, f"{name}: named volume {source} is not declared"


def test_published_host_ports_do_not_collide():
    seen: dict[int, str] = {}
    for name, svc in services().items():
        for ip, host_port, _ in published_ports(svc):
            assert host_port not in seen, f"host port {host_port} published by {seen.get(host_port)} and {name}"
            seen[host_port] = name
            assert ip in ("127.0.0.1", "0.0.0.0")
    assert {8080, 5000} <= set(seen), "Airflow and MLflow UIs are reachable from the host"


# ---------------------------------------------------------------------------------------------------------
# Dockerfiles


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_dockerfile_copy_sources_exist_and_are_in_the_build_context(dockerfile):
    found = False
    for sources, _, flags in copies(dockerfile):
        if "from" in flags:
            continue
        for source in sources:
            found = True
            assert not source.startswith(("/", "..")), f"{source} is outside the build context"
            assert (ROOT / source).exists(), f"{dockerfile.name}: COPY source {source} does not exist"
            files = host_files(source)
            missing = [f for f in files if not in_build_context(dockerfile, f)]
            assert not missing, f"{dockerfile}: excluded by its .dockerignore: {missing[:5]}"
    assert found


def test_requirements_lock_installs_in_an_image():
    for lock in [ROOT / "requirements.txt", *sorted((ROOT / "requirements").glob("*.txt"))]:
        lines = [raw.split("#", 1)[0].strip() for raw in lock.read_text().splitlines()]
        for line in filter(None, lines):
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[^\s;]+(\s*;.*)?", line), (
                f"{lock.name}: '{line}' is not a plain pin (no -e, paths or URLs: the images install it as is)")
    pins = requirement_pins()
    for needed in ("apache-airflow", "apache-airflow-providers-cncf-kubernetes", "apache-airflow-providers-smtp",
                   "apache-airflow-providers-docker", "mlflow", "s3fs", "psycopg2-binary", "pyyaml"):
        assert needed in pins, f"{needed} is not in the lock"


def installs_its_lock(dockerfile: Path, lock: str) -> None:
    """The Dockerfile installs requirements/<lock> exactly (uv pip sync) and the project without re-resolving."""
    runs = " ".join(args for instr, args in instructions(dockerfile) if instr == "RUN")
    copied = {d: src for src, d, flags in copies(dockerfile) if "from" not in flags}
    target = next(d for d, src in copied.items() if src == [f"requirements/{lock}"])
    assert re.search(rf"uv pip sync [^&]*{re.escape(target)}", runs), f"{dockerfile}: {lock} not synced exactly"


def test_airflow_image_matches_the_lock_and_carries_the_project():
    dockerfile = ROOT / AIRFLOW_DOCKERFILE
    m = re.fullmatch(r"python:(?P<python>3\.\d+)-slim-bookworm", base_image(dockerfile))
    assert m, base_image(dockerfile)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f">={m['python']}" in requires.replace(" ", "")
    installs_its_lock(dockerfile, "airflow.txt")

    dest = {tuple(src): d for src, d, flags in copies(dockerfile) if "from" not in flags}
    assert dest[("dags/",)] == "/opt/airflow/dags/"
    assert dest[("plugins/",)] == "/opt/airflow/plugins/"
    runs = " ".join(args for instr, args in instructions(dockerfile) if instr == "RUN")
    assert re.search(r"uv pip install [^&]*--no-deps", runs), "the project goes in without re-resolving the lock"
    entrypoint = json.loads([a for i, a in final_stage(dockerfile) if i == "ENTRYPOINT"][-1])
    assert entrypoint[-1] == "airflow", "compose's `command: scheduler` must run `airflow scheduler`"
    assert [a for i, a in final_stage(dockerfile) if i == "USER"][-1].split(":")[0] == "50000"

    # riskops_airflow.tasks looks for the pod template relative to its own file; in the image that file sits
    # under the plugins folder, so the template must be copied to the same relative place.
    rel = default_pod_template().relative_to(ROOT).as_posix()
    image_root = PurePosixPath(dest[("plugins/",)]).parent
    assert dest.get((rel,)) == str(image_root / rel), f"{rel} must be copied to {image_root / rel}"


def test_task_image_runs_the_cli_as_non_root():
    dockerfile = ROOT / TASK_DOCKERFILE
    stage = final_stage(dockerfile)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base_image(dockerfile)), base_image(dockerfile)
    assert stage[0][1] == "${BASE}"
    users = [args for instr, args in stage if instr == "USER"]
    assert users, "the task image must not run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "USER must be a numeric non-root uid (Kubernetes runAsNonRoot checks it)"
    entrypoints = [args for instr, args in stage if instr == "ENTRYPOINT"]
    assert not entrypoints or json.loads(entrypoints[-1]) == [], (
        "an ENTRYPOINT would be prepended to `python -m ml --help` and to the command both operators set")
    cmd = json.loads([args for instr, args in stage if instr == "CMD"][-1])
    assert cmd[:3] == ["python", "-m", "ml"]
    installs_its_lock(dockerfile, "task.txt")
    runs = " ".join(args for instr, args in instructions(dockerfile) if instr == "RUN")
    assert re.search(r"uv pip install [^&]*--no-deps", runs)


def test_both_images_agree_on_the_specs_path():
    # tasks.py passes RISKOPS_SPECS from the Airflow side to the pods: one path must hold the specs in both.
    task_specs = env_of(ROOT / TASK_DOCKERFILE)["RISKOPS_SPECS"]
    airflow_specs = env_of(ROOT / AIRFLOW_DOCKERFILE)["RISKOPS_SPECS"]
    assert task_specs == airflow_specs == "/opt/riskops/datasets"
    task_dest = {tuple(s): d for s, d, f in copies(ROOT / TASK_DOCKERFILE) if "from" not in f}
    assert task_dest[("datasets/",)].rstrip("/") == task_specs
    airflow_dest = {tuple(s): d for s, d, f in copies(ROOT / AIRFLOW_DOCKERFILE)}[("datasets/",)].rstrip("/")
    assert airflow_dest == airflow_specs


def test_image_cmd_runs_here():
    """The task image's default command, run with this checkout: the CLI starts and lists its steps."""
    cmd = json.loads([a for i, a in final_stage(ROOT / TASK_DOCKERFILE) if i == "CMD"][-1])
    assert cmd[0] == "python"
    done = subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "preprocess" in done.stdout


# ---------------------------------------------------------------------------------------------------------
# Kubernetes pod template


def load_pod_template():
    from kubernetes.client import ApiClient

    raw = yaml.safe_load(POD_TEMPLATE.read_text())
    client = ApiClient()
    pod = client._ApiClient__deserialize(raw, "V1Pod")
    return raw, pod, client


def test_pod_template_is_a_valid_pod_without_unknown_fields():
    raw, pod, client = load_pod_template()
    assert raw["apiVersion"] == "v1" and raw["kind"] == "Pod"
    # The client silently drops keys it does not know: a round trip shows every key was understood.
    assert client.sanitize_for_serialization(pod) == raw, "the pod template has misspelt or unknown fields"


def test_pod_template_runs_the_base_container_as_non_root_with_limits_and_secrets():
    from kubernetes.utils import parse_quantity

    _, pod, _ = load_pod_template()
    spec = pod.spec
    assert spec.restart_policy == "Never"
    assert [c.name for c in spec.containers] == ["base"], "KubernetesPodOperator merges into the container 'base'"
    base = spec.containers[0]

    assert spec.security_context.run_as_non_root is True
    task_uid = [a for i, a in final_stage(ROOT / TASK_DOCKERFILE) if i == "USER"][-1].split(":")[0]
    assert spec.security_context.run_as_user == int(task_uid), "pod and task image must agree on the uid"
    assert base.security_context.allow_privilege_escalation is False
    assert base.security_context.capabilities.drop == ["ALL"]

    for kind in ("cpu", "memory"):
        request = parse_quantity(base.resources.requests[kind])
        limit = parse_quantity(base.resources.limits[kind])
        assert 0 < request <= limit, f"{kind}: request {request} above limit {limit}"

    secrets = [e.secret_ref.name for e in base.env_from or [] if e.secret_ref]
    assert secrets == ["riskops-object-store"]
    volumes = {v.name for v in spec.volumes or []}
    for mount in base.volume_mounts or []:
        assert mount.name in volumes, f"volume mount {mount.name} has no volume"
    if base.security_context.read_only_root_filesystem:
        assert "/tmp" in {m.mount_path for m in base.volume_mounts or []}, "a read-only root needs a writable /tmp"
