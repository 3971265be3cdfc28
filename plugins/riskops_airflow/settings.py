"""Values DAG files read when they are parsed, from the environment; the one place parse time reads it.

Parsing must stay cheap and side-effect free, so nothing here imports `ml` (pandas, MLflow) or opens a
connection; runtime settings of the steps themselves live in `ml.config`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def specs_dir() -> Path:
    """Where dataset specs live (same default as ml.config)."""
    return Path(os.environ.get("RISKOPS_SPECS", PROJECT_ROOT / "datasets"))


def task_mode() -> str:
    """RISKOPS_TASK_MODE: `local` (steps as subprocesses of the worker) or `kubernetes` (pods)."""
    return _choice("RISKOPS_TASK_MODE", "local", ("local", "kubernetes"))


def pod_template() -> Path:
    return Path(os.environ.get("RISKOPS_POD_TEMPLATE", PROJECT_ROOT / "docker" / "k8s" / "pod_template.yaml"))


def k8s_namespace() -> str:
    return os.environ.get("RISKOPS_K8S_NAMESPACE", "riskops")


def task_image() -> str:
    return os.environ.get("RISKOPS_TASK_IMAGE", "riskops-task:latest")


def pod_env() -> dict[str, str]:
    """What pods receive from the scheduler's environment: where data, specs and the tracking server are.
    Secrets come from the pod template (envFrom a Secret), never from DAG code."""
    return {k: os.environ[k] for k in ("RISKOPS_DATA", "RISKOPS_SPECS", "MLFLOW_TRACKING_URI") if k in os.environ}


def score_partitions() -> int:
    """RISKOPS_SCORE_PARTITIONS: default number of slices a day is scored in (param `partitions`)."""
    value = os.environ.get("RISKOPS_SCORE_PARTITIONS", "1")
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise ValueError(f"RISKOPS_SCORE_PARTITIONS must be a whole number from 1 to 256, not '{value}'")
    return int(value)


def supersede_check_seconds() -> float:
    """How often a waiting approval asks MLflow whether a newer candidate superseded it."""
    return float(os.environ.get("RISKOPS_SUPERSEDE_CHECK_SECONDS", "60"))


def approver_users() -> list[dict[str, str]] | None:
    """Who may answer an approval (Airflow user ids, RISKOPS_APPROVER_USERS, read by ml.config): the HITL
    tasks' `assigned_users`; None lets anyone who may open the DAG answer."""
    from ml.config import Settings

    users = Settings.from_env().approver_users
    return [{"id": u, "name": u} for u in users] or None


def cron_schedules() -> bool:
    """Whether DAGs keep their cron schedules (RISKOPS_CRON_SCHEDULES=on, the default) or run only when
    triggered or by Assets (off: the embedded demo, which drives every business date itself)."""
    return _choice("RISKOPS_CRON_SCHEDULES", "on", ("on", "off")) == "on"
