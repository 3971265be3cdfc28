"""The retrain DAG through a real Airflow (standalone: scheduler, triggerer, API server, on PostgreSQL):
the candidate's PDF arrives by mail, a human answers the approval over the REST API, and MLflow reflects
the decision; a newer candidate closes the wait of an older one as superseded.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import warnings
from pathlib import Path

import pytest
from mlflow import MlflowClient

from demo.airflow_runtime import WAITING_FOR_HUMAN, Standalone, airflow_env
from demo.smtp_sink import start as start_smtp
from ml.data.spec import get_spec
from ml.errors import RiskopsError
from ml.model import decisions, registry
from ml.storage import Storage
from tests.helpers import approve, free_port, land_and_preprocess

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "retrain_card_transactions"
START, DAYS = dt.date(2026, 9, 1), 16
AS_OF = START + dt.timedelta(days=DAYS - 1 + 45)
CONF = {"window_days": DAYS, "valid_days": 3, "test_days": 4}
NAME = registry.model_name("card_transactions")



def _stage(client: MlflowClient, version: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return client.get_model_version(NAME, version).current_stage


@pytest.fixture(scope="module")
def airflow_postgres():
    """A fresh PostgreSQL database for Airflow's metadata (the production setup), dropped afterwards."""
    import uuid

    import psycopg2

    name = f"riskops_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory, airflow_postgres):
    home = tmp_path_factory.mktemp("platform")
    data = home / "data"
    land_and_preprocess(Storage(str(data)), get_spec(REPO / "datasets", "card_transactions"), START, DAYS)
    tracking = f"sqlite:///{home / 'mlflow.db'}"
    smtp_port = free_port()
    sink = start_smtp(home / "outbox", port=smtp_port)
    port = free_port()
    env = airflow_env(home / "airflow", port, {
        "RISKOPS_HOME": str(home), "RISKOPS_DATA": str(data), "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_REGISTRY_URI": tracking,
        "RISKOPS_MLFLOW_ARTIFACTS": (home / "artifacts").as_uri(), "RISKOPS_APPROVERS": "cro@bank.example",
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{smtp_port}?disable_tls=true&disable_ssl=true",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_postgres,
        "RISKOPS_SUPERSEDE_CHECK_SECONDS": "5",
    })
    env = {k: v for k, v in env.items() if k != "AIRFLOW__CORE__UNIT_TEST_MODE"}
    af = Standalone(home / "airflow", port, env)
    try:
        af.start()
        from demo.airflow_runtime import wait_for

        wait_for(lambda: any(d["dag_id"] == DAG_ID for d in af.api("GET", "/dags", params={"limit": 100})["dags"]),
                 180, "retrain DAG not registered", 2)
        yield af, home, MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    finally:
        af.stop()
        sink.stop()


def _run_until_approval(af: Standalone, logical_date: dt.date) -> str:
    run_id = af.trigger(DAG_ID, logical_date.isoformat(), {"as_of": AS_OF.isoformat(), **CONF})
    af.wait_for_task(DAG_ID, run_id, "approval", WAITING_FOR_HUMAN, timeout=600)
    return run_id


@pytest.mark.slow
def test_approve_then_reject_through_airflow(platform):
    af, home, client = platform
    approver = af.as_user("risk-approver")

    # first model: no champion until a human approves it
    run1 = _run_until_approval(af, AS_OF)
    assert decisions.resolve_champion(client, NAME, sync=False) is None
    (mail_file,) = (home / "outbox").glob("*.eml")
    msg = email.message_from_bytes(mail_file.read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith(f"[riskops] {NAME} v1 candidate: RECOMMENDED")
    (pdf,) = [a.get_content() for a in msg.iter_attachments()]
    assert pdf.startswith(b"%PDF")

    # the admin may run DAGs, but only the configured approvers may answer the approval
    with pytest.raises(RuntimeError, match="-> 403: .*admin.* is not a respondent"):
        af.respond(DAG_ID, run1, "approval", "Approve", "I can do this")
    approver.answer(DAG_ID, run1, "approval", "Approve", "good separation on the last four weeks", timeout=300)
    assert af.wait_for_run(DAG_ID, run1, timeout=300) == "success"
    assert af.task_state(DAG_ID, run1, "promote") == "success"
    assert af.task_state(DAG_ID, run1, "record_rejection") == "skipped"
    v1 = client.get_model_version(NAME, "1")
    assert _stage(client, "1") == "Production"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert v1.tags["riskops.approved_by"] == "risk-approver"
    assert v1.tags["riskops.approval_note"] == "good separation on the last four weeks"
    assert v1.tags["riskops.report_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert v1.tags["riskops.previous_champion"] == "none" and v1.tags["riskops.data_hash"]

    # second candidate (same data, so not better than the champion): the same date triggered again (as a
    # second `make demo` does), which clears and re-runs the date's run; rejected with a reason
    run2 = _run_until_approval(af, AS_OF)
    assert run2 == run1  # one run per logical date
    # a reason that starts with '-' reaches the audit as one value, not as an option of the reject step
    approver.answer(DAG_ID, run2, "approval", "Reject", "--no gain over the champion", timeout=300)
    assert af.wait_for_run(DAG_ID, run2, timeout=300) == "success"
    assert af.task_state(DAG_ID, run2, "promote") == "skipped"
    assert af.task_state(DAG_ID, run2, "record_rejection") == "success"
    v2 = client.get_model_version(NAME, "2")
    assert v2.tags["riskops.status"] == "rejected"
    assert v2.tags["riskops.rejected_reason"] == "--no gain over the champion"
    assert v2.tags["riskops.rejected_by"] == "risk-approver"
    assert _stage(client, "2") == "Archived" and _stage(client, "1") == "Production"
    assert len(list((home / "outbox").glob("*.eml"))) == 2


def _xcom(af: Standalone, run_id: str, task_id: str, key: str):
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
    return af.api("GET", path, params={"deserialize": True})["value"]


@pytest.mark.slow
def test_a_newer_candidate_supersedes_a_waiting_one(platform):
    af, home, client = platform
    approver = af.as_user("risk-approver")
    waiting = _run_until_approval(af, AS_OF + dt.timedelta(days=10))
    old_version = str(_xcom(af, waiting, "email_approvers", "return_value")["version"])

    # a second run (manual, or later drift-triggered) does not queue behind the waiting one
    newer = _run_until_approval(af, AS_OF + dt.timedelta(days=11))
    assert af.wait_for_run(DAG_ID, waiting, timeout=300) == "success"
    assert af.task_state(DAG_ID, waiting, "promote") == "skipped"
    assert af.task_state(DAG_ID, waiting, "record_rejection") == "skipped"
    decision = _xcom(af, waiting, "approval", "decision")
    new_version = str(int(old_version) + 1)
    assert decision["option"] == "Superseded" and decision["by"] == "riskops"
    assert decision["reason"].startswith(f"superseded by version {new_version} at ")
    tags = client.get_model_version(NAME, old_version).tags
    assert tags["riskops.status"] == "superseded" and tags["riskops.superseded_by"] == new_version
    assert _stage(client, old_version) == "Archived"
    with pytest.raises(RiskopsError, match=f"superseded by version {new_version}"):
        approve(client, NAME, old_version, "Ada")

    # the newest candidate is the one waiting, and approving it works as usual
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == new_version
    approver.answer(DAG_ID, newer, "approval", "Approve", "latest data", timeout=300)
    assert af.wait_for_run(DAG_ID, newer, timeout=300) == "success"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == new_version
