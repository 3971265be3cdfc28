"""Values only DAG files read, when they are parsed: task mode, pods, schedules, on-call, approval timing.

Parsing must stay cheap and side-effect free, so nothing here imports more of `ml` than `ml.config`
(standard library only) or opens a connection. Every setting the steps read too (specs, sender, approvers)
is read by `ml.config`, and so are the parsers these use.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ml.config import PROJECT_ROOT, addresses, choice, switch


def task_mode() -> str:
    """RISKOPS_TASK_MODE: `local` (steps as subprocesses of the worker), `docker` (containers) or `kubernetes`
    (pods)."""
    return choice("RISKOPS_TASK_MODE", os.environ.get("RISKOPS_TASK_MODE", "local"), ("local", "docker", "kubernetes"))


def pod_template() -> Path:
    return Path(os.environ.get("RISKOPS_POD_TEMPLATE", PROJECT_ROOT / "docker" / "k8s" / "pod_template.yaml"))


def k8s_namespace() -> str:
    return os.environ.get("RISKOPS_K8S_NAMESPACE", "riskops")


def task_image() -> str:
    return os.environ.get("RISKOPS_TASK_IMAGE", "riskops-task:latest")


def service_account() -> str:
    """RISKOPS_K8S_SERVICE_ACCOUNT: the pods' service account (what a cloud IAM role for the bucket binds to)."""
    return os.environ.get("RISKOPS_K8S_SERVICE_ACCOUNT", "riskops-task")


# Per-step pod sizes (a step = its task id), laid over the pod template's requests and limits. Training holds
# the development sample, the model and the champion's predictions in memory at once and uses every core
# XGBoost gets; a scoring slice streams record batches (flat memory, one core predicts).
DEFAULT_POD_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "train": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
    "score_partition": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "3Gi"}},
    # with one partition per day the commit task scores the whole day itself
    "commit": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "3Gi"}},
}
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
Size = dict[str, dict[str, str]]  # {"requests": {"cpu": "1"}, "limits": {...}}


def pod_resources(base: Size) -> dict[str, Size]:
    """Requests and limits of the steps that differ from `base` (the pod template's): DEFAULT_POD_RESOURCES,
    then RISKOPS_POD_RESOURCES (JSON, e.g. {"train": {"limits": {"memory": "16Gi"}}}), each laid over
    what it does not name."""
    raw = os.environ.get("RISKOPS_POD_RESOURCES", "").strip()
    try:
        given: Any = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ValueError(f"RISKOPS_POD_RESOURCES is not valid JSON: {exc}") from exc
    if not isinstance(given, dict):
        raise ValueError("RISKOPS_POD_RESOURCES must be a JSON object of step name -> {requests, limits}")
    for step, size in given.items():
        _check_size(step, size)
    sizes = {}
    for step in {**DEFAULT_POD_RESOURCES, **given}:
        layers = (base, DEFAULT_POD_RESOURCES.get(step, {}), given.get(step, {}))
        sizes[step] = {kind: {k: v for layer in layers for k, v in layer.get(kind, {}).items()}
                       for kind in ("requests", "limits")}
        _check_requests_within_limits(step, sizes[step])
    return sizes


def _check_size(step: str, size: Any) -> None:
    where = f"RISKOPS_POD_RESOURCES: {step}"
    if not isinstance(size, dict) or not size or set(size) - {"requests", "limits"}:
        raise ValueError(f"{where} must be an object with 'requests' and/or 'limits'")
    for kind, values in size.items():
        if not isinstance(values, dict) or set(values) - set(_RESOURCE_NAMES):
            raise ValueError(f"{where}.{kind} must map {', '.join(_RESOURCE_NAMES)} to quantities")
        for name, value in values.items():
            if not isinstance(value, str) or not _QUANTITY.match(value):
                raise ValueError(f"{where}.{kind}.{name}: {value!r} is not a Kubernetes quantity such as "
                                 "'500m', '2' or '4Gi'")


def _check_requests_within_limits(step: str, size: Size) -> None:
    from kubernetes.utils import parse_quantity  # kubernetes mode only: the provider imports it anyway

    for name, request in size["requests"].items():
        limit = size["limits"].get(name)
        if limit is not None and parse_quantity(request) > parse_quantity(limit):
            raise ValueError(f"RISKOPS_POD_RESOURCES: {step}: the {name} request {request} is above its "
                             f"limit {limit}")


# The settings of ml.config a step reads, passed from the scheduler's environment to every step's container
# (pod or Docker) in plain sight: where data, specs, the tracking server and its artifacts are, and who may
# approve (promote and reject check it themselves). Never a credential: see STEP_CREDENTIALS.
STEP_SETTINGS = ("RISKOPS_DATA", "RISKOPS_SPECS", "MLFLOW_TRACKING_URI", "RISKOPS_MLFLOW_ARTIFACTS",
                 "RISKOPS_APPROVER_USERS", "RISKOPS_SEPARATE_DUTIES", "RISKOPS_APPROVAL_QUORUM")


def step_env() -> dict[str, str]:
    return {k: os.environ[k] for k in STEP_SETTINGS if k in os.environ}


# ---- container steps' credentials and docker mode (RISKOPS_TASK_MODE=docker)

# The credentials a step needs, by name. In kubernetes mode the pod template takes them from the Secrets
# riskops-object-store (every key) and riskops-mlflow; in docker mode they are copied from the worker's own
# environment into the container's, never into the DAG, the UI or the task log.
STEP_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                    "RISKOPS_HISTORY_URL", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def step_credentials() -> dict[str, str]:
    return {k: os.environ[k] for k in STEP_CREDENTIALS if k in os.environ}


def docker_network() -> str | None:
    """RISKOPS_DOCKER_NETWORK: the Docker network the step containers join (compose's, so they reach the
    object store, MLflow and PostgreSQL by their service names); unset: Docker's default bridge."""
    return os.environ.get("RISKOPS_DOCKER_NETWORK") or None


def score_partitions() -> int:
    """RISKOPS_SCORE_PARTITIONS: default number of slices a day is scored in (param `partitions`)."""
    value = os.environ.get("RISKOPS_SCORE_PARTITIONS", "1")
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise ValueError(f"RISKOPS_SCORE_PARTITIONS must be a whole number from 1 to 256, not '{value}'")
    return int(value)


def score_days_per_task() -> int:
    """RISKOPS_SCORE_DAYS_PER_TASK: default number of days one scoring task scores with one model load
    (param `days_per_task`)."""
    value = os.environ.get("RISKOPS_SCORE_DAYS_PER_TASK", "10")
    if not value.isdigit() or not 1 <= int(value) <= 366:
        raise ValueError(f"RISKOPS_SCORE_DAYS_PER_TASK must be a whole number from 1 to 366, not '{value}'")
    return int(value)


def retry_delay_seconds() -> int:
    """RISKOPS_RETRY_DELAY_SECONDS: how long a failed task waits before its first retry (300; the embedded demo,
    whose failures are transient contention on one machine, waits 15)."""
    value = os.environ.get("RISKOPS_RETRY_DELAY_SECONDS", "300")
    if not value.isdigit():
        raise ValueError(f"RISKOPS_RETRY_DELAY_SECONDS must be a whole number of seconds, not '{value}'")
    return int(value)


def supersede_check_seconds() -> float:
    """How often a waiting approval asks MLflow whether a newer candidate superseded it."""
    return float(os.environ.get("RISKOPS_SUPERSEDE_CHECK_SECONDS", "60"))


def approval_reminder_hours() -> float:
    """RISKOPS_APPROVAL_REMINDER_HOURS: how long after a retrain or rollback run was queued the approvers are
    reminded of a decision it still waits for (72; 0 switches the reminder off)."""
    value = os.environ.get("RISKOPS_APPROVAL_REMINDER_HOURS", "72")
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if not (hours >= 0 and hours < 24 * 365):
        raise ValueError(f"RISKOPS_APPROVAL_REMINDER_HOURS must be a number of hours from 0 (off) to a year, not "
                         f"'{value}'")
    return hours


def approver_users() -> list[dict[str, str]] | None:
    """Who may answer an approval (Airflow user ids, RISKOPS_APPROVER_USERS, read by ml.config): the HITL
    tasks' `assigned_users`; None lets anyone who may open the DAG answer."""
    from ml.config import Settings

    users = Settings.from_env().approver_users
    return [{"id": u, "name": u} for u in users] or None


def cron_schedules() -> bool:
    """Whether DAGs keep their cron schedules (RISKOPS_CRON_SCHEDULES=on, the default) or run only when
    triggered or by Assets (off: the embedded demo, which drives every business date itself)."""
    return switch("RISKOPS_CRON_SCHEDULES", os.environ.get("RISKOPS_CRON_SCHEDULES", "on"))


def oncall() -> tuple[str, ...]:
    """RISKOPS_ONCALL: the operations addresses every failed riskops task is mailed to."""
    return addresses(os.environ.get("RISKOPS_ONCALL", "riskops-oncall@example.com"))
