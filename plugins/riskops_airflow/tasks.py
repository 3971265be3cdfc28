"""The container-task factory: one `python -m ml ...` step, run as a local subprocess or as a Kubernetes pod.

RISKOPS_TASK_MODE selects the mode (read when DAG files are parsed):
  local       (default) a BashOperator running the CLI with this interpreter, for the embedded setup
  kubernetes  a KubernetesPodOperator running the same CLI in RISKOPS_TASK_IMAGE
Both receive the same argument list (Jinja templates allowed), so a DAG never knows which mode it runs in.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from airflow.sdk import BaseOperator

from riskops_airflow import settings
from riskops_airflow.settings import task_mode


def _template_resources(template: Path) -> settings.Size:
    """Requests and limits of the pod template's container `base`."""
    import yaml

    spec = yaml.safe_load(template.read_text())["spec"]
    base = next((c for c in spec["containers"] if c.get("name") == "base"), {})
    return dict(base.get("resources") or {})


def _pod_kwargs(task_id: str) -> dict[str, Any]:
    from kubernetes.client import models as k8s

    template = settings.pod_template()
    if not template.is_file():
        # without the template a pod would run with no limits, as root, without object-store credentials
        raise FileNotFoundError(f"pod template {template} not found; set RISKOPS_POD_TEMPLATE")
    size = settings.pod_resources(_template_resources(template)).get(task_id)
    return {
        "task_id": task_id,
        "name": f"riskops-{task_id}".replace("_", "-"),
        "namespace": settings.k8s_namespace(),
        "image": settings.task_image(),
        "cmds": ["python", "-m", "ml"],
        "env_vars": settings.pod_env(),
        "pod_template_file": str(template),
        "service_account_name": settings.service_account(),
        # the operator's resources replace the template's whole, so `size` carries the template's too
        "container_resources": k8s.V1ResourceRequirements(**size) if size else None,
        "get_logs": True,
        "on_finish_action": "delete_succeeded_pod",
    }


def ml_step(task_id: str, args: Sequence[str], **kwargs: Any) -> BaseOperator:
    """An operator running `python -m ml <args>`; extra kwargs go to the operator (outlets, retries, ...)."""
    if task_mode() == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        return KubernetesPodOperator(arguments=list(args), **_pod_kwargs(task_id), **kwargs)
    from airflow.providers.standard.operators.bash import BashOperator

    # Arguments travel as environment variables and reach python as "$VAR": a rendered value (an
    # approver's free-text reason, say) is then one argument and never parsed by bash.
    env = {f"RISKOPS_ARG_{i}": arg for i, arg in enumerate(args)}
    command = " ".join([shlex.quote(sys.executable), "-m", "ml", *(f'"${name}"' for name in env)])
    return BashOperator(task_id=task_id, bash_command=command, env=env, append_env=True, **kwargs)


def ml_step_mapped(task_id: str, mapped_inputs: Any, **kwargs: Any) -> Any:
    """One `python -m ml` task per element of an upstream XCom made by `mapped_inputs` (dynamic mapping)."""
    if task_mode() == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        return KubernetesPodOperator.partial(**_pod_kwargs(task_id), **kwargs).expand(arguments=mapped_inputs)
    from airflow.providers.standard.operators.bash import BashOperator

    return BashOperator.partial(task_id=task_id, append_env=True, **kwargs).expand(bash_command=mapped_inputs)


def mapped_inputs(arg_lists: list[list[str]]) -> list[Any]:
    """What `ml_step_mapped` expands over: argument lists for pods, shell-quoted commands for subprocesses."""
    if task_mode() == "kubernetes":
        return arg_lists
    # every value is quoted by shlex, so a path from a run's conf stays one argument
    return [" ".join([shlex.quote(sys.executable), "-m", "ml", *(shlex.quote(str(a)) for a in args)])
            for args in arg_lists]
