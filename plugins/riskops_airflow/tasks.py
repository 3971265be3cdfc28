"""The container-task factory: one `python -m ml ...` step, run as a local subprocess, a Docker container or a
Kubernetes pod.

RISKOPS_TASK_MODE selects the mode (read when DAG files are parsed):
  local       (default) a BashOperator running the CLI with this interpreter, for the embedded setup
  docker      a DockerOperator running the CLI in a container of RISKOPS_TASK_IMAGE on the worker's Docker
  kubernetes  a KubernetesPodOperator running the CLI in a pod of RISKOPS_TASK_IMAGE
One builder (`step_command`, `settings.step_env`, `settings.STEP_CREDENTIALS`) says what a step runs with; the
modes differ only in the operator and in how credentials arrive (the worker's environment, hidden from the
UI, in docker mode; the pod template's Secrets in kubernetes mode). So a container run in docker mode runs
exactly the command, arguments and environment of the pod, and a DAG never knows which mode it runs in.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from airflow.sdk import BaseOperator

from riskops_airflow import settings
from riskops_airflow.settings import task_mode

COMMAND = ("python", "-m", "ml")  # the task image's interpreter on PATH; the image has no ENTRYPOINT


def step_command(args: Sequence[str]) -> list[str]:
    """The whole command line of a step in a container (docker mode's command = the pod's command + args)."""
    return [*COMMAND, *args]


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
        "cmds": list(COMMAND),
        "env_vars": settings.step_env(),
        "pod_template_file": str(template),
        "service_account_name": settings.service_account(),
        # the operator's resources replace the template's whole, so `size` carries the template's too
        "container_resources": k8s.V1ResourceRequirements(**size) if size else None,
        "get_logs": True,
        "on_finish_action": "delete_succeeded_pod",
    }


def _docker_kwargs(task_id: str) -> dict[str, Any]:
    # DOCKER_HOST (Docker's own variable) says which engine; RISKOPS_DOCKER_NETWORK which network the step
    # joins to reach the object store, MLflow and the history database.
    return {
        "task_id": task_id,
        "image": settings.task_image(),
        "environment": settings.step_env(),
        # not templated, not shown in the UI, not serialised with the DAG: read by the worker that runs it
        "private_environment": settings.step_credentials(),
        "network_mode": settings.docker_network(),
        # the image's own user (uid 10001, as the pod's runAsUser); nothing of the worker's disk is mounted
        "mount_tmp_dir": False,
        # the output is in the task log (streamed as it runs); no stopped container is left behind
        "auto_remove": "force",
        "labels": {"org.riskops.step": task_id},
        "do_xcom_push": False,
    }


def ml_step(task_id: str, args: Sequence[str], **kwargs: Any) -> BaseOperator:
    """An operator running `python -m ml <args>`; extra kwargs go to the operator (outlets, retries, ...)."""
    mode = task_mode()
    if mode == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        return KubernetesPodOperator(arguments=list(args), **_pod_kwargs(task_id), **kwargs)
    if mode == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator

        return DockerOperator(command=step_command(args), **_docker_kwargs(task_id), **kwargs)
    from airflow.providers.standard.operators.bash import BashOperator

    # Arguments travel as environment variables and reach python as "$VAR": a rendered value (an
    # approver's free-text reason, say) is then one argument and never parsed by bash.
    env = {f"RISKOPS_ARG_{i}": arg for i, arg in enumerate(args)}
    command = " ".join([shlex.quote(sys.executable), *COMMAND[1:], *(f'"${name}"' for name in env)])
    return BashOperator(task_id=task_id, bash_command=command, env=env, append_env=True, **kwargs)


def ml_step_mapped(task_id: str, mapped_inputs: Any, **kwargs: Any) -> Any:
    """One `python -m ml` task per element of an upstream XCom made by `mapped_inputs` (dynamic mapping)."""
    mode = task_mode()
    if mode == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        return KubernetesPodOperator.partial(**_pod_kwargs(task_id), **kwargs).expand(arguments=mapped_inputs)
    if mode == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator

        return DockerOperator.partial(**_docker_kwargs(task_id), **kwargs).expand(command=mapped_inputs)
    from airflow.providers.standard.operators.bash import BashOperator

    return BashOperator.partial(task_id=task_id, append_env=True, **kwargs).expand(bash_command=mapped_inputs)


def mapped_inputs(arg_lists: list[list[str]]) -> list[Any]:
    """What `ml_step_mapped` expands over: argument lists for pods, whole command lines for containers,
    shell-quoted commands for subprocesses."""
    mode = task_mode()
    if mode == "kubernetes":
        return arg_lists
    if mode == "docker":
        return [step_command(args) for args in arg_lists]
    # every value is quoted by shlex, so a path from a run's conf stays one argument
    return [" ".join([shlex.quote(sys.executable), *COMMAND[1:], *(shlex.quote(str(a)) for a in args)])
            for args in arg_lists]
