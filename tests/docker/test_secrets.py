"""No default secrets: every credential of docker-compose.yaml (and its overlays) is required, `make secrets`
writes them once with mode 0600, and a missing one stops compose in one line (issue 31)."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from demo.env_file import EnvFileExists, write_env_file
from demo.stack import COMPOSE_FILE, SECRET_VARIABLES, MissingVariable, fresh_credentials, interpolate

REPO = COMPOSE_FILE.parent
COMPOSE_FILES = [COMPOSE_FILE, *sorted((REPO / "docker" / "compose").glob("*.yaml"))]
REQUIRED = re.compile(r"\$\{(\w+):\?([^}]*)\}")
DEFAULTED = re.compile(r"\$\{(\w+):?-([^}]*)\}")
ALL_SECRETS = {*SECRET_VARIABLES, "AIRFLOW_FERNET_KEY"}


def texts() -> dict[Path, str]:
    return {path: path.read_text() for path in COMPOSE_FILES}


def test_every_secret_is_required_and_every_required_variable_is_a_secret():
    required = {name for text in texts().values() for name, _ in REQUIRED.findall(text)}
    assert required == ALL_SECRETS
    assert set(fresh_credentials()) == ALL_SECRETS, "make secrets writes every one of them"


def test_no_credential_has_a_default():
    for path, text in texts().items():
        for name, default in DEFAULTED.findall(text):
            assert not re.search(r"PASSWORD|SECRET|_KEY|TOKEN", name), f"{path.name}: {name} defaults to {default!r}"
        assert "change-me" not in text, path.name


def test_no_url_carries_a_literal_password():
    """Every user:password@ in a URL of the compose files is a variable, never a value written there."""
    for path, text in texts().items():
        for url in re.findall(r"[a-z+]+://[^\s'\"]+", text):
            netloc = urlsplit(url.replace("${", "{").replace("}", "")).netloc
            if "@" in netloc and ":" in netloc.split("@")[0]:
                password = netloc.split("@")[0].split(":", 1)[1]
                assert password.startswith("{"), f"{path.name}: {url} has a literal password"


def test_each_message_is_one_line_naming_the_variable_and_the_fix():
    for text in texts().values():
        for name, message in REQUIRED.findall(text):
            assert "\n" not in message and message.startswith(name) and "make secrets" in message


def test_interpolation_refuses_a_missing_secret_with_composes_message():
    env = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["redis"]["environment"]
    variables = fresh_credentials()
    assert interpolate(env, variables)["REDIS_PASSWORD"] == variables["REDIS_PASSWORD"]
    for missing in ({}, {"REDIS_PASSWORD": ""}):
        with pytest.raises(MissingVariable, match=r"^REDIS_PASSWORD is not set, run make secrets"):
            interpolate(env, missing)


def test_make_secrets_writes_fresh_values_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / ".env"
    first = fresh_credentials()
    write_env_file(path, first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    assert written == first
    assert all(len(v) >= 32 for v in written.values()), "at least 24 random bytes each"
    assert not set(first.values()) & set(fresh_credentials().values()), "fresh values every time"
    before = path.read_text()
    with pytest.raises(EnvFileExists):
        write_env_file(path, fresh_credentials())
    assert path.read_text() == before, "an existing .env is never overwritten"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_compose_refuses_to_start_in_one_line_when_a_secret_is_missing(tmp_path):
    variables = fresh_credentials()
    complete = tmp_path / "complete.env"
    write_env_file(complete, variables)

    def config(env_file: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker-compose", "--project-directory", str(REPO), "--env-file", str(env_file),
                               *(a for f in COMPOSE_FILES for a in ("-f", str(f))), "config", "-q"],
                              capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})

    assert config(complete).returncode == 0, config(complete).stderr
    for name in ("REDIS_PASSWORD", "AIRFLOW_DB_PASSWORD"):
        partial = tmp_path / f"without-{name}.env"
        write_env_file(partial, {k: v for k, v in variables.items() if k != name})
        done = config(partial)
        lines = (done.stderr + done.stdout).strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1, lines
        assert f"{name} is not set, run make secrets" in lines[0]
