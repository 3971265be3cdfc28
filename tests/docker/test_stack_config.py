"""`make stack` and the production-like test run docker-compose.yaml's configuration: demo.stack changes the
addresses (ADDRESSES) and adds what a process needs that a container gets from its image (LOCAL), nothing
else. A setting added to, changed in or dropped from one and not the other fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from demo.stack import (
    ADDRESSES,
    COMPOSE_FILE,
    LOCAL,
    MLFLOW_ADDRESS_OPTIONS,
    MLFLOW_AUTH_INI,
    Stack,
    airflow_commands,
    compose,
    interpolate,
    service_env,
)

PREFIXES = ("AIRFLOW", "_AIRFLOW", "MLFLOW_", "AWS_", "RISKOPS_")


@pytest.fixture
def stack(tmp_path) -> Stack:
    return Stack(tmp_path / "stack")  # configured, not started


def compose_airflow_env(variables: dict[str, str]) -> dict[str, str]:
    raw = interpolate(compose()["x-airflow-common"]["environment"], variables)
    return {k: "" if v is None else str(v) for k, v in raw.items()}


def test_the_stack_sets_only_variables_compose_reads(stack):
    text = COMPOSE_FILE.read_text()
    for name in stack.variables:
        assert "${" + name in text, f"{name} is not a variable of docker-compose.yaml"


def test_airflow_gets_composes_environment_with_local_addresses(stack):
    expected = compose_airflow_env(stack.variables)
    env = {k: v for k, v in stack.airflow_env().items() if k.startswith(PREFIXES)}
    assert set(env) - set(expected) == LOCAL, "only LOCAL settings are added"
    assert set(expected) <= set(env), "every compose setting is kept"
    assert {k for k in expected if env[k] != expected[k]} == set(ADDRESSES["airflow"]), "only addresses differ"

    # each address is the same kind of address, on this machine
    db, compose_db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]), urlsplit(expected["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert db.scheme == compose_db.scheme and db.hostname == "127.0.0.1"
    assert db.path.lstrip("/") == stack.databases["airflow"]
    execution = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution.path == urlsplit(expected["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path
    assert execution.port == int(env["AIRFLOW__API__PORT"]) and env["AIRFLOW__API__HOST"] == "127.0.0.1"
    smtp, compose_smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"]), json.loads(expected["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert {**smtp, "host": "mailpit", "port": 1025} == compose_smtp and smtp["host"] == "127.0.0.1"
    for key in ("AWS_ENDPOINT_URL", "MLFLOW_TRACKING_URI"):
        assert urlsplit(env[key]).hostname == "127.0.0.1" and urlsplit(env[key]).scheme == "http"
    assert Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).is_relative_to(stack.home)
    assert env["RISKOPS_DATA"] == "s3://riskops/data" and env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_the_callers_own_settings_do_not_leak_into_the_stack(monkeypatch, tmp_path):
    for key, value in {"AIRFLOW__CORE__EXECUTOR": "SequentialExecutor", "AWS_SECRET_ACCESS_KEY": "callers-secret",
                       "MLFLOW_TRACKING_URI": "sqlite:///elsewhere.db", "RISKOPS_DATA": "/tmp/elsewhere",
                       "AIRFLOW__CORE__UNIT_TEST_MODE": "True"}.items():
        monkeypatch.setenv(key, value)
    stack = Stack(tmp_path / "stack")
    for env in (stack.airflow_env(), stack.mlflow_env(), stack.users_env()):
        assert "callers-secret" not in env.values() and "/tmp/elsewhere" not in env.values()
        assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env
    assert stack.airflow_env()["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_mlflow_runs_composes_command_and_environment(stack):
    raw = [str(a) for a in interpolate(compose()["services"]["mlflow"]["command"], stack.variables)]
    argv = stack.mlflow_argv()
    assert Path(argv[0]).name == raw[0] and len(argv) == len(raw)
    differing = {raw[i - 1] for i in range(1, len(raw)) if argv[i] != raw[i]}
    assert differing == set(MLFLOW_ADDRESS_OPTIONS)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--backend-store-uri") + 1].endswith("/" + stack.databases["mlflow"])
    assert "basic-auth" in argv and "--serve-artifacts" in argv

    expected = service_env("mlflow", stack.variables)
    env = {k: v for k, v in stack.mlflow_env().items() if k.startswith(PREFIXES)}
    assert set(env) == set(expected)
    assert {k for k in expected if env[k] != expected[k]} == set(ADDRESSES["mlflow"])

    ini, compose_ini = stack.mlflow_auth_ini().splitlines(), MLFLOW_AUTH_INI.read_text().splitlines()
    changed = [(a, b) for a, b in zip(ini, compose_ini, strict=True) if a != b]
    assert len(ini) == len(compose_ini) and len(changed) == 1
    assert re.fullmatch(rf"database_uri = \S+/{stack.databases['mlflow_auth']}", changed[0][0])


def test_users_are_the_ones_compose_creates(stack):
    env = stack.airflow_env()
    names = [u.split(":")[0] for u in env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")]
    assert list(stack.airflow_users()) == names, "a password for every Airflow user, as airflow-init writes"
    assert env["RISKOPS_APPROVER_USERS"] == names[1] != names[0]
    users = stack.users_env()
    assert (users["MLFLOW_PLATFORM_USER"], users["MLFLOW_PLATFORM_PASSWORD"]) == (
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"])
    assert users["MLFLOW_TRACKING_URI"] == env["MLFLOW_TRACKING_URI"]
    assert set(service_env("mlflow-init", stack.variables)) | {"MLFLOW_TRACKING_URI"} == {
        k for k in users if k.startswith(PREFIXES)}


def test_the_stack_runs_composes_components_and_buckets(stack):
    assert sorted(airflow_commands()) == ["api-server", "dag-processor", "scheduler", "triggerer"]
    script = " ".join(compose()["services"]["minio-init"]["command"])
    assert stack.buckets() == sorted(set(re.findall(r"local/([a-z0-9.-]+)", script.split("mc mb", 1)[1])))
