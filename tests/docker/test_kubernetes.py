"""Kubernetes mode's cluster side, checked by schema (there is no cluster here): the pod template and the RBAC
manifests against the Kubernetes API schema of a current version (kubernetes-validate, strict), and the Helm
values documented in docker/README.md against the template, the manifests, the settings and the lock.
Every step's rendered pod is validated in tests/dags/test_pod_spec.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "docker" / "k8s"
VERSION = kubernetes_validate.latest_version()


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def template_base() -> dict:
    (pod,) = documents(K8S / "pod_template.yaml")
    return next(c for c in pod["spec"]["containers"] if c["name"] == "base")


def helm_values() -> dict:
    return yaml.safe_load((K8S / "helm-values.yaml").read_text())


def helm_env() -> dict[str, str]:
    return {e["name"]: e["value"] for e in helm_values()["env"]}


@pytest.mark.parametrize("name", ["pod_template.yaml", "rbac.yaml", "decisions.yaml"])
def test_manifests_pass_the_kubernetes_schema_strictly(name):
    docs = documents(K8S / name)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, VERSION, strict=True)


def test_strict_validation_catches_a_misspelt_field():
    (pod,) = documents(K8S / "pod_template.yaml")
    pod["spec"]["containers"][0]["imagePullPolice"] = pod["spec"]["containers"][0].pop("imagePullPolicy")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, VERSION, strict=True)


def test_rbac_lets_airflow_run_step_pods_as_the_configured_service_account(monkeypatch):
    from riskops_airflow import settings

    for key in ("RISKOPS_K8S_NAMESPACE", "RISKOPS_K8S_SERVICE_ACCOUNT"):
        monkeypatch.delenv(key, raising=False)
    by_kind = {d["kind"]: d for d in documents(K8S / "rbac.yaml")}
    namespace = settings.k8s_namespace()
    assert by_kind["Namespace"]["metadata"]["name"] == namespace == helm_env()["RISKOPS_K8S_NAMESPACE"]
    account = by_kind["ServiceAccount"]
    assert account["metadata"] == {"name": settings.service_account(), "namespace": namespace}
    assert helm_env()["RISKOPS_K8S_SERVICE_ACCOUNT"] == settings.service_account()
    assert account["automountServiceAccountToken"] is False

    role, binding = by_kind["Role"], by_kind["RoleBinding"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == namespace
    granted = {(res, verb) for rule in role["rules"] for res in rule["resources"] for verb in rule["verbs"]}
    for verb in ("create", "get", "watch", "delete"):
        assert ("pods", verb) in granted
    assert ("pods/log", "get") in granted
    assert not any(verb in ("*", "escalate", "bind", "impersonate") for _, verb in granted)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    # the chart's service accounts for a release `airflow` in the namespace `airflow`, with the executor chosen
    subjects = {(s["name"], s["namespace"]) for s in binding["subjects"]}
    executor = helm_values()["executor"]
    runs_tasks = "airflow-scheduler" if executor == "LocalExecutor" else "airflow-worker"
    assert (runs_tasks, "airflow") in subjects


def test_helm_values_match_the_template_the_settings_and_the_lock():
    from riskops_airflow import settings

    values = helm_values()
    lock = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    assert values["airflowVersion"] == lock["apache-airflow"]
    env = helm_env()
    assert env["RISKOPS_TASK_MODE"] == "kubernetes"
    assert env["RISKOPS_DATA"].startswith("s3://")
    assert json.loads(env["AIRFLOW_CONN_KUBERNETES_DEFAULT"])["extra"]["in_cluster"] is True
    assert set(json.loads(env["RISKOPS_POD_RESOURCES"])) <= {"preprocess", "train", "score_partition", "commit",
                                                             "promote", "record_rejection"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKOPS_POD_RESOURCES", env["RISKOPS_POD_RESOURCES"])
        mp.setenv("RISKOPS_SCORE_PARTITIONS", env["RISKOPS_SCORE_PARTITIONS"])
        settings.pod_resources(template_base()["resources"])  # the example is a valid setting
        settings.score_partitions()

    # Airflow's side reads the same Secrets (their copies in its namespace) as the pods
    secrets = {s["envName"]: (s["secretName"], s["secretKey"]) for s in values["secret"]}
    pod_refs = {e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
                for e in template_base()["env"] if "valueFrom" in e}
    assert pod_refs == {k: secrets[k] for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    (store,) = [s["secretRef"]["name"] for s in template_base()["envFrom"]]
    assert secrets["AWS_ACCESS_KEY_ID"][0] == secrets["AWS_SECRET_ACCESS_KEY"][0] == store
    assert not {k for k in env if k.startswith("AWS_SECRET") or "PASSWORD" in k}, "credentials only in Secrets"
    assert values["postgresql"]["enabled"] is False and values["data"]["metadataSecretName"]


def test_the_decision_service_runs_two_ready_replicas_behind_a_service_a_budget_and_an_autoscaler():
    from ml.cli import build_parser

    by_kind = {d["kind"]: d for d in documents(K8S / "decisions.yaml")}
    deployment, service = by_kind["Deployment"], by_kind["Service"]
    budget, scaler = by_kind["PodDisruptionBudget"], by_kind["HorizontalPodAutoscaler"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["replicas"] >= 2 and scaler["spec"]["minReplicas"] >= 2
    for selector in (deployment["spec"]["selector"]["matchLabels"], service["spec"]["selector"],
                     budget["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    assert budget["spec"]["minAvailable"] == 1
    assert scaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                "name": deployment["metadata"]["name"]}
    (metric,) = scaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # the command is a real `python -m ml serve`, on the port the Service targets
    args = build_parser().parse_args(container["command"][3:])
    assert args.run.__name__ == "cmd_serve" and args.host == "0.0.0.0"
    (port,) = container["ports"]
    assert port["containerPort"] == args.port and service["spec"]["ports"][0]["targetPort"] == port["name"]
    # tokens from a Secret file, the log on the shared claim, the same non-root user as the step pods
    env = {e["name"]: e for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert env["RISKOPS_DECISION_TOKENS"]["value"].startswith(mounts["tokens"] + "/")
    assert "secret" in volumes["tokens"] and env["RISKOPS_DECISION_LOG"]["value"] == mounts["decision-log"]
    assert volumes["decision-log"]["persistentVolumeClaim"]["claimName"] == by_kind["PersistentVolumeClaim"][
        "metadata"]["name"]
    (template,) = documents(K8S / "pod_template.yaml")
    assert pod["spec"]["securityContext"] == template["spec"]["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True and "tmp" in mounts
