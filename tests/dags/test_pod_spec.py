"""Kubernetes mode without a cluster: the pod KubernetesPodOperator would submit for a preprocess step.

The operator is built the way DAG files build it (riskops_airflow.tasks.ml_step with RISKOPS_TASK_MODE=kubernetes),
its templates are rendered for a run, and build_pod_request_obj() merges it with docker/k8s/pod_template.yaml.
A throwaway kubeconfig points at a fake API server; any attempt to open a connection fails the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest
import yaml

# Airflow reads AIRFLOW_HOME when first imported; keep it out of the user's home (a conftest may set it first).
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="riskops-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

ROOT = Path(__file__).resolve().parents[2]
POD_TEMPLATE = ROOT / "docker" / "k8s" / "pod_template.yaml"
IMAGE = "registry.example.org/riskops/riskops-task:1.2.3"
POD_ENV = {
    "RISKOPS_DATA": "s3://riskops/data",
    "RISKOPS_SPECS": "/opt/riskops/datasets",
    "MLFLOW_TRACKING_URI": "http://mlflow:5000",
}
DS = "2026-09-01"


@pytest.fixture
def no_network(monkeypatch):
    """Fail on any connection attempt: building a pod must not talk to a cluster."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] or kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def kube_mode(tmp_path, monkeypatch, no_network):
    """Environment of an Airflow deployment in kubernetes mode; monkeypatch restores it afterwards."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "riskops", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "riskops", "namespace": "riskops"}}],
        "current-context": "fake",
    }))
    monkeypatch.setenv("RISKOPS_TASK_MODE", "kubernetes")
    monkeypatch.setenv("RISKOPS_TASK_IMAGE", IMAGE)
    monkeypatch.delenv("RISKOPS_POD_TEMPLATE", raising=False)  # the default: docker/k8s/pod_template.yaml
    monkeypatch.delenv("RISKOPS_K8S_NAMESPACE", raising=False)
    for key, value in POD_ENV.items():
        monkeypatch.setenv(key, value)
    # How a deployment points the provider at its cluster: the kubernetes_default connection.
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", json.dumps(
        {"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}}))
    # Object-store secrets on the Airflow side must not leak into the pod's env (they come from a Secret).
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "scheduler-side-secret")
    return kubeconfig


def run_context(dag, task, params=None) -> dict:
    ti = SimpleNamespace(dag_id=dag.dag_id, task_id=task.task_id, map_index=-1, try_number=1)
    return {
        "ds": DS,
        "ds_nodash": DS.replace("-", ""),
        "run_id": f"scheduled__{DS}T00:00:00+00:00",
        "params": params or {},
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": SimpleNamespace(logical_date=pendulum.parse(DS), run_after=pendulum.parse(DS),
                                   triggering_user_name="admin"),
        # a real run always has it (empty unless Asset events triggered the run)
        "triggering_asset_events": {},
    }


def build_pod(dag, op, params=None):
    context = run_context(dag, op, params)
    op.render_template_fields(context)
    return op.build_pod_request_obj(context)


def env_dict(container) -> dict[str, str]:
    return {e.name: e.value for e in container.env or []}


def test_preprocess_step_becomes_the_templated_pod(kube_mode):
    import pendulum
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk import DAG

    from riskops_airflow.tasks import ml_step

    with DAG(dag_id="pod_spec_preprocess", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        op = ml_step("preprocess", ["preprocess", "--dataset", "give_me_some_credit", "--date", "{{ ds }}"])
    assert isinstance(op, KubernetesPodOperator)
    assert op.pod_template_file == str(POD_TEMPLATE)

    pod = build_pod(dag, op)
    template = yaml.safe_load(POD_TEMPLATE.read_text())
    template_base = template["spec"]["containers"][0]

    # what the operator sets
    assert pod.metadata.namespace == "riskops"
    assert pod.metadata.name.startswith("riskops-preprocess")
    assert len(pod.spec.containers) == 1, "no xcom sidecar or extra containers"
    base = pod.spec.containers[0]
    assert base.name == "base"
    assert base.image == IMAGE
    assert base.command == ["python", "-m", "ml"]
    assert base.args == ["preprocess", "--dataset", "give_me_some_credit", "--date", DS]
    env = env_dict(base)
    for key, value in POD_ENV.items():
        assert env[key] == value, key
    assert not {k for k in env if k.startswith("AWS_")}, "object-store credentials must come from the Secret"

    # what the template sets, kept through the merge
    assert base.resources.requests == template_base["resources"]["requests"]
    assert base.resources.limits == template_base["resources"]["limits"]
    assert pod.spec.security_context.run_as_non_root is True
    assert pod.spec.security_context.run_as_user == template["spec"]["securityContext"]["runAsUser"]
    assert base.security_context.allow_privilege_escalation is False
    assert base.security_context.read_only_root_filesystem is True
    assert [e.secret_ref.name for e in base.env_from if e.secret_ref] == ["riskops-object-store"]
    assert env["HOME"] == "/tmp", "the template's own env survives next to the operator's"
    assert {m.mount_path for m in base.volume_mounts} == {"/tmp"}
    assert {v.name for v in pod.spec.volumes} == {"tmp"}
    assert pod.spec.restart_policy == "Never"
    assert pod.spec.automount_service_account_token is False
    assert pod.metadata.labels["app.kubernetes.io/part-of"] == "riskops"

    # labels the operator uses to find its pod again
    assert pod.metadata.labels["dag_id"] == "pod_spec_preprocess"
    assert pod.metadata.labels["task_id"] == "preprocess"
    assert pod.metadata.labels["kubernetes_pod_operator"] == "True"
    assert pod.metadata.labels["airflow_kpo_in_cluster"] == "False", "the kubeconfig was loaded, not in-cluster"

    # and it serialises to a plain Pod manifest (what the operator sends to the API server)
    from kubernetes.client import ApiClient

    manifest = ApiClient().sanitize_for_serialization(pod)
    assert manifest["kind"] == "Pod" and manifest["apiVersion"] == "v1"
    json.dumps(manifest)


def load_preprocess_steps(monkeypatch) -> dict:
    """Execute dags/preprocess.py in the current environment; its ml_step operators by dag_id."""
    from riskops_airflow import tasks

    made = []
    real = tasks.ml_step

    def recording(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tasks, "ml_step", recording)
    name = "riskops_test_preprocess_dag_k8s"
    spec = importlib.util.spec_from_file_location(name, ROOT / "dags" / "preprocess.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return {op.dag.dag_id: op for op in made}


@pytest.mark.parametrize("params, business_date", [({"date": None}, DS), ({"date": "2026-08-15"}, "2026-08-15")],
                         ids=["scheduled-run", "manual-run-with-date"])
def test_dag_file_renders_the_business_date_in_kubernetes_mode(kube_mode, monkeypatch, params, business_date):
    """dags/preprocess.py itself: the run's ds by default, the `date` param of a manual run when given."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    # The DAG file lists the datasets from RISKOPS_SPECS at parse time (and hands the same path to the pods,
    # which is why both images keep the specs at one path); here the checkout's specs.
    monkeypatch.setenv("RISKOPS_SPECS", str(ROOT / "datasets"))
    steps = load_preprocess_steps(monkeypatch)
    assert set(steps) == {f"preprocess_{p.stem}" for p in (ROOT / "datasets").glob("*.yaml")}
    op = steps["preprocess_give_me_some_credit"]
    assert isinstance(op, KubernetesPodOperator)
    assert all(isinstance(o, KubernetesPodOperator) for o in steps.values())
    pod = build_pod(op.dag, op, params=params)
    assert pod.spec.containers[0].args == ["preprocess", "--dataset", "give_me_some_credit", "--date", business_date]
    assert pod.spec.containers[0].image == IMAGE


# ---------------------------------------------------------------------------------------------------------
# Every step of every DAG, as the pod a cluster would receive, against the Kubernetes API schema


def kube_dagbag(monkeypatch):
    """Every DAG file parsed the way the dag-processor parses it, in Kubernetes mode."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("RISKOPS_SPECS", str(ROOT / "datasets"))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {} and bag.dags
    return bag


class FakeTaskInstance(SimpleNamespace):
    """What the step templates pull from upstream tasks (the candidate's version, the approver's decision)."""

    def xcom_pull(self, task_ids=None, key=None):
        if task_ids in ("email_approvers", "plan"):  # the candidate; a rollback's plan
            return {"version": "7", "model_name": "riskops-ds"}
        if str(task_ids).startswith("approval") and key == "decision":  # any gate of a quorum
            return {"option": "Approve", "by": "risk-approver", "reason": "--looks good; rm -rf /"}
        raise AssertionError(f"unexpected xcom_pull {task_ids} {key}")


def step_pods(bag) -> dict[tuple[str, str, int], object]:
    """(dag id, task id, map index) -> the V1Pod each container step submits, mapped steps expanded with the
    argument lists the score DAG's planner makes."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from riskops_airflow.scoring_plan import plan_scoring

    pods = {}
    for dag_id, dag in sorted(bag.dags.items()):
        params = dag.params.dump()
        for task in dag.tasks:
            assert not isinstance(task, BashOperator), f"{dag_id}.{task.task_id} runs on the worker in kubernetes mode"
            if isinstance(task, MappedOperator):
                if not issubclass(task.operator_class, KubernetesPodOperator):
                    continue
                plan = plan_scoring(dag_id.removeprefix("score_"),
                                    {"date": DS, "model_version": "7", "partitions": 3}, {}, "manual__1")
                jobs = plan["partitions" if task.task_id == "score_partition" else "commits"]
                assert jobs, task.task_id
                for index, arguments in enumerate(jobs):
                    op = KubernetesPodOperator(**{**task.partial_kwargs, "task_id": task.task_id},
                                               arguments=arguments)
                    pods[(dag_id, task.task_id, index)] = build_pod_with(dag, op, params, index)
            elif isinstance(task, KubernetesPodOperator):
                pods[(dag_id, task.task_id, -1)] = build_pod_with(dag, task, params, -1)
    return pods


def build_pod_with(dag, op, params, map_index):
    ti = FakeTaskInstance(dag_id=dag.dag_id, task_id=op.task_id, map_index=map_index, try_number=1)
    context = {**run_context(dag, op, params), "ti": ti, "task_instance": ti}
    op.render_template_fields(context)
    return op.build_pod_request_obj(context)


def test_every_step_of_every_dag_is_a_valid_pod_of_the_current_kubernetes_api(kube_mode, monkeypatch):
    import kubernetes_validate
    from kubernetes.client import ApiClient

    from riskops_airflow.settings import DEFAULT_POD_RESOURCES

    version = kubernetes_validate.latest_version()
    template_resources = yaml.safe_load(POD_TEMPLATE.read_text())["spec"]["containers"][0]["resources"]
    pods = step_pods(kube_dagbag(monkeypatch))
    steps = {task_id for _, task_id, _ in pods}
    assert {"preprocess", "train", "promote", "record_rejection", "score_partition", "commit", "stability",
            "backtest", "rollback", "record_decline", "halt", "resume"} <= steps
    for (dag_id, task_id, _), pod in pods.items():
        manifest = ApiClient().sanitize_for_serialization(pod)
        # strict: an unknown or misspelt field is an error, as `kubectl apply --validate=strict` makes it
        kubernetes_validate.validate(manifest, version, strict=True)

        base = pod.spec.containers[0]
        assert base.command == ["python", "-m", "ml"] and base.args, (dag_id, task_id)
        assert "{{" not in " ".join(base.args), f"{dag_id}.{task_id}: unrendered template in {base.args}"
        expected = DEFAULT_POD_RESOURCES.get(task_id, template_resources)
        assert {"requests": base.resources.requests, "limits": base.resources.limits} == expected, (dag_id, task_id)
        assert pod.spec.service_account_name == "riskops-task"
        assert pod.spec.automount_service_account_token is False
        secrets = {e.name: (e.value_from.secret_key_ref.name, e.value_from.secret_key_ref.key)
                   for e in base.env if e.value_from and e.value_from.secret_key_ref}
        assert secrets == {"MLFLOW_TRACKING_USERNAME": ("riskops-mlflow", "username"),
                           "MLFLOW_TRACKING_PASSWORD": ("riskops-mlflow", "password")}
        assert [e.secret_ref.name for e in base.env_from if e.secret_ref] == ["riskops-object-store"]
        plain = {e.name: e.value for e in base.env if e.value is not None}
        assert not {k for k in plain if k.startswith("AWS_") or "PASSWORD" in k}, "credentials come from Secrets"
        assert "scheduler-side-secret" not in json.dumps(manifest)

    promote = pods[("retrain_give_me_some_credit", "promote", -1)].spec.containers[0].args
    assert promote == ["promote", "--dataset", "give_me_some_credit", "--version", "7", "--approver=risk-approver",
                       "--note=--looks good; rm -rf /", "--triggered-by=admin"]
    halt = pods[("halt_give_me_some_credit", "halt", -1)].spec.containers[0].args
    assert halt[:4] == ["halt", "--dataset", "give_me_some_credit", "--approver=admin"]  # who triggered the run
    backtest = pods[("backtest_card_transactions", "backtest", -1)].spec.containers[0].args
    assert backtest == ["backtest", "--dataset", "card_transactions", "--as-of", DS, "--weeks=12", "--run-key",
                        f"scheduled__{DS}T00:00:00+00:00"]
    partitions = [pods[("score_card_transactions", "score_partition", i)].spec.containers[0].args for i in range(3)]
    assert [a[a.index("--partition") + 1] for a in partitions] == ["0", "1", "2"]


def test_the_schema_check_is_not_vacuous(kube_mode, monkeypatch):
    import kubernetes_validate
    from kubernetes.client import ApiClient

    pods = step_pods(kube_dagbag(monkeypatch))
    manifest = ApiClient().sanitize_for_serialization(pods[("preprocess_card_transactions", "preprocess", -1)])
    manifest["spec"]["containers"][0]["resource"] = manifest["spec"]["containers"][0].pop("resources")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)
    manifest = ApiClient().sanitize_for_serialization(pods[("preprocess_card_transactions", "preprocess", -1)])
    manifest["spec"]["restartPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_pod_sizes_come_from_configuration(kube_mode, monkeypatch):
    from airflow.sdk import DAG

    from riskops_airflow.tasks import ml_step

    monkeypatch.setenv("RISKOPS_POD_RESOURCES", json.dumps({
        "train": {"requests": {"cpu": "8", "memory": "32Gi"}, "limits": {"cpu": "8", "memory": "48Gi"}},
        "preprocess": {"limits": {"memory": "6Gi"}}}))
    import pendulum

    with DAG(dag_id="pod_sizes", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        train = ml_step("train", ["train", "--dataset", "give_me_some_credit"])
        pre = ml_step("preprocess", ["preprocess", "--dataset", "give_me_some_credit"])
        promote = ml_step("promote", ["promote", "--dataset", "give_me_some_credit"])
    template = yaml.safe_load(POD_TEMPLATE.read_text())["spec"]["containers"][0]["resources"]
    train_res = build_pod(dag, train).spec.containers[0].resources
    assert (train_res.requests, train_res.limits) == ({"cpu": "8", "memory": "32Gi"}, {"cpu": "8", "memory": "48Gi"})
    pre_res = build_pod(dag, pre).spec.containers[0].resources
    assert pre_res.requests == template["requests"], "what the setting does not name stays as in the template"
    assert pre_res.limits == {**template["limits"], "memory": "6Gi"}
    promote_res = build_pod(dag, promote).spec.containers[0].resources
    assert (promote_res.requests, promote_res.limits) == (template["requests"], template["limits"])


@pytest.mark.parametrize("value, message", [
    ("{not json", "not valid JSON"),
    ('["train"]', "JSON object"),
    ('{"train": {"requests": {"cpu": "2 cores"}}}', "train.requests.cpu: '2 cores' is not a Kubernetes quantity"),
    ('{"train": {"request": {"cpu": "2"}}}', "'requests' and/or 'limits'"),
    ('{"train": {"limits": {"gpu": "1"}}}', "must map cpu, memory, ephemeral-storage"),
    ('{"train": {"requests": {"memory": "8Gi"}, "limits": {"memory": "4Gi"}}}', "memory request 8Gi is above its limit 4Gi"),
    # the template's limit (4Gi) still applies to what the setting does not name
    ('{"preprocess": {"requests": {"memory": "6Gi"}}}', "memory request 6Gi is above its limit 4Gi"),
])
def test_bad_pod_sizes_are_refused_with_the_setting_named(monkeypatch, value, message):
    from riskops_airflow.settings import pod_resources

    monkeypatch.setenv("RISKOPS_POD_RESOURCES", value)
    with pytest.raises(ValueError, match="RISKOPS_POD_RESOURCES") as err:
        pod_resources(yaml.safe_load(POD_TEMPLATE.read_text())["spec"]["containers"][0]["resources"])
    assert message in str(err.value)


# ---------------------------------------------------------------------------------------------------------
# Docker mode runs the pod's contract: every step of every DAG, built in both modes from the same DAG files


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "key-id", "AWS_SECRET_ACCESS_KEY": "scheduler-side-secret",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://minio:9000",
               "RISKOPS_HISTORY_URL": "postgresql+psycopg2://riskops:history-secret@postgres:5432/riskops",
               "MLFLOW_TRACKING_USERNAME": "riskops-platform", "MLFLOW_TRACKING_PASSWORD": "mlflow-secret"}
POLICY = {"RISKOPS_APPROVER_USERS": "risk-approver", "RISKOPS_SEPARATE_DUTIES": "on"}


def docker_steps(bag) -> dict[tuple[str, str, int], object]:
    """(dag id, task id, map index) -> the DockerOperator of each container step, rendered for a run."""
    from airflow.providers.docker.operators.docker import DockerOperator
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from riskops_airflow.scoring_plan import plan_scoring

    ops = {}
    for dag_id, dag in sorted(bag.dags.items()):
        params = dag.params.dump()
        for task in dag.tasks:
            assert not isinstance(task, BashOperator), f"{dag_id}.{task.task_id} runs on the worker in docker mode"
            if isinstance(task, MappedOperator):
                if not issubclass(task.operator_class, DockerOperator):
                    continue
                plan = plan_scoring(dag_id.removeprefix("score_"), {"date": DS, "model_version": "7", "partitions": 3}, {},
                                    "manual__1")
                for index, command in enumerate(plan["partitions" if task.task_id == "score_partition" else "commits"]):
                    op = DockerOperator(**{**task.partial_kwargs, "task_id": task.task_id}, command=command)
                    ops[(dag_id, task.task_id, index)] = render(dag, op, params, index)
            elif isinstance(task, DockerOperator):
                ops[(dag_id, task.task_id, -1)] = render(dag, task, params, -1)
    return ops


def render(dag, op, params, map_index):
    ti = FakeTaskInstance(dag_id=dag.dag_id, task_id=op.task_id, map_index=map_index, try_number=1)
    op.render_template_fields({**run_context(dag, op, params), "ti": ti, "task_instance": ti})
    return op


def test_docker_mode_runs_every_step_with_its_pods_command_arguments_and_environment(kube_mode, monkeypatch):
    from riskops_airflow.settings import STEP_CREDENTIALS, STEP_SETTINGS

    for key, value in {**CREDENTIALS, **POLICY}.items():
        monkeypatch.setenv(key, value)
    pods = step_pods(kube_dagbag(monkeypatch))
    monkeypatch.setenv("RISKOPS_TASK_MODE", "docker")
    monkeypatch.setenv("RISKOPS_DOCKER_NETWORK", "riskops")
    containers = docker_steps(kube_dagbag(monkeypatch))
    assert set(containers) == set(pods), "the same steps in both modes"
    template_env = {e["name"] for e in yaml.safe_load(POD_TEMPLATE.read_text())["spec"]["containers"][0]["env"]}
    for key, op in containers.items():
        base = pods[key].spec.containers[0]
        assert op.command == [*base.command, *base.args], key
        assert op.image == base.image == IMAGE
        operator_env = {e.name: e.value for e in base.env if e.name not in template_env}
        assert op.environment == operator_env == {k: os.environ[k] for k in STEP_SETTINGS if k in os.environ}, key
        # credentials: the pod's from its Secrets, the container's from the worker, hidden (never templated)
        assert op._private_environment == CREDENTIALS  # the provider keeps it private
        assert "private_environment" not in op.template_fields
        assert not set(op.environment) & set(STEP_CREDENTIALS)
        assert op.network_mode == "riskops" and op.mount_tmp_dir is False and op.auto_remove == "force"
    # the policy the promote step enforces itself reaches both
    promote = containers[("retrain_give_me_some_credit", "promote", -1)]
    assert {k: promote.environment[k] for k in POLICY} == POLICY
    assert promote.command[3:] == ["promote", "--dataset", "give_me_some_credit", "--version", "7",
                                   "--approver=risk-approver", "--note=--looks good; rm -rf /", "--triggered-by=admin"]


def test_steps_get_every_setting_they_read(monkeypatch):
    """Every variable ml/ reads is given to the steps' containers (a setting or a credential) or is read only
    on Airflow's side (mail tasks) or in the embedded mode."""
    from riskops_airflow.settings import STEP_CREDENTIALS, STEP_SETTINGS

    read = set()
    for path in (ROOT / "ml").rglob("*.py"):
        read |= set(re.findall(r"""env(?:iron)?(?:\.get)?\(?\[?["'](RISKOPS_[A-Z_]+|MLFLOW_[A-Z_]+|AWS_[A-Z_]+)""",
                               path.read_text()))
    airflow_side = {"RISKOPS_APPROVERS", "RISKOPS_MAIL_FROM", "RISKOPS_RISK_TEAM"}  # the mail tasks' settings
    embedded = {"RISKOPS_HOME"}  # the embedded layout's root; containers get every path explicitly
    # the decision service's own settings: a Deployment, not a step; its manifest sets every one of them
    service = {e["name"] for d in yaml.safe_load_all((ROOT / "docker" / "k8s" / "decisions.yaml").read_text())
               if d and d["kind"] == "Deployment" for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
    decision_side = {v for v in read if v.startswith("RISKOPS_DECISION_")}
    assert decision_side and decision_side <= service
    assert read >= {"RISKOPS_DATA", "RISKOPS_HISTORY_URL", "RISKOPS_SEPARATE_DUTIES"}, read
    assert read - set(STEP_SETTINGS) - set(STEP_CREDENTIALS) - airflow_side - embedded - decision_side == set()


def test_the_kubernetes_secrets_carry_exactly_the_step_credentials():
    """The docs' `kubectl create secret` keys and the pod template's Secret references are STEP_CREDENTIALS."""
    from riskops_airflow.settings import STEP_CREDENTIALS

    readme = (ROOT / "docker" / "README.md").read_text()
    block = readme[readme.index("create secret generic riskops-object-store"):]
    block = block[:block.index("kubectl apply")]
    object_store = set(re.findall(r"--from-literal=([A-Z_]+)=", block))
    base = yaml.safe_load(POD_TEMPLATE.read_text())["spec"]["containers"][0]
    from_refs = {e["name"] for e in base["env"] if "valueFrom" in e}
    assert object_store | from_refs == set(STEP_CREDENTIALS)
