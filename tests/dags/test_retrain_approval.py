"""The retrain and oversight DAGs through a real Airflow (standalone: scheduler, triggerer, API server, on
PostgreSQL), with four eyes (an approval quorum of two, separation of duties) and two approvers answering over
the REST API as themselves: the candidate's PDF arrives by mail, each approval is recorded as it arrives, MLflow
reflects the decision; a newer candidate closes the wait of an older one as superseded; a rollback restores the
previous champion and the next scoring run uses it; a halt makes scoring apply the fallback policy until an
approver resumes the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from pathlib import Path

import pytest
from mlflow import MlflowClient

from demo.airflow_runtime import WAITING_FOR_HUMAN, Standalone, airflow_env, wait_for
from demo.smtp_sink import start as start_smtp
from ml import layout
from ml.errors import RiskopsError
from ml.governance import approvals, champions, registry
from ml.governance.halt import halted as halt_state
from ml.spec import get_spec
from ml.storage import Storage
from tests.helpers import approve, free_port, fresh_postgres, land_and_preprocess, mails

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "retrain_card_transactions"
START, DAYS = dt.date(2026, 9, 1), 16
AS_OF = START + dt.timedelta(days=DAYS - 1 + 45)
CONF = {"window_days": DAYS, "valid_days": 3, "test_days": 4}
NAME = registry.model_name("card_transactions")
APPROVERS = ("risk-approver", "credit-officer")  # the quorum's two approvers; admin triggers, and may not answer


def _stage(client: MlflowClient, version: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return client.get_model_version(NAME, version).current_stage


@pytest.fixture(scope="module")
def airflow_postgres():
    """A fresh PostgreSQL database for Airflow's metadata (the production setup), dropped afterwards."""
    with fresh_postgres("riskops_test") as url:
        yield url


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
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin," + ",".join(f"{u}:admin" for u in APPROVERS),
        "RISKOPS_APPROVER_USERS": ",".join(APPROVERS), "RISKOPS_APPROVAL_QUORUM": "2",
        "RISKOPS_SEPARATE_DUTIES": "on", "RISKOPS_ONCALL": "ops@bank.example",
        "RISKOPS_RISK_TEAM": "risk-team@bank.example",
        # the rollback run's deadline passes while it waits for its approvers: one reminder
        "RISKOPS_APPROVAL_REMINDER_HOURS": "0.02",
    })
    env = {k: v for k, v in env.items() if k != "AIRFLOW__CORE__UNIT_TEST_MODE"}
    af = Standalone(home / "airflow", port, env)
    try:
        af.start()
        wanted = {DAG_ID, *(f"{kind}_card_transactions" for kind in ("rollback", "halt", "resume", "score"))}
        wait_for(lambda: wanted <= {d["dag_id"] for d in af.api("GET", "/dags", params={"limit": 100})["dags"]},
                 180, f"DAGs {sorted(wanted)} not registered", 2)
        yield af, home, MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    finally:
        af.stop()
        sink.stop()


def _run_until_approval(af: Standalone, logical_date: dt.date) -> str:
    run_id = af.trigger(DAG_ID, logical_date.isoformat(), {"as_of": AS_OF.isoformat(), **CONF})
    af.wait_for_task(DAG_ID, run_id, "approval", WAITING_FOR_HUMAN, timeout=600)
    return run_id


def _subjects(home: Path) -> list[str]:
    return [m["Subject"] for m in mails(home / "outbox")]


@pytest.mark.slow
def test_four_eyes_approve_then_reject_through_airflow(platform):
    af, home, client = platform
    first, second = (af.as_user(u) for u in APPROVERS)

    # first model: no champion until two distinct approvers approve it
    run1 = _run_until_approval(af, AS_OF)
    assert approvals.champion(client, NAME) is None
    (msg,) = mails(home / "outbox")
    assert msg["Subject"].startswith(f"[riskops] {NAME} v1 candidate: RECOMMENDED")
    assert "four eyes: 2 distinct approvers must approve it" in msg.get_body(("html",)).get_content()
    # its link opens the approval itself, at Airflow's configured address
    assert f"{af.base}/dags/{DAG_ID}/runs/{run1}/tasks/approval/required_actions" in msg.get_body(("html",)).get_content()
    # the prompt names who may answer (admin triggered the run: separation of duties leaves it out)
    detail = af.api("GET", f"/dags/{DAG_ID}/dagRuns/{run1}/taskInstances/approval/-1/hitlDetails")
    assert "**Who may answer**: risk-approver, credit-officer (the assigned approvers)" in detail["body"]
    assert "- **Reject**: version 1 is tagged rejected" in detail["body"]
    (pdf,) = [a.get_content() for a in msg.iter_attachments()]
    assert pdf.startswith(b"%PDF")
    assert client.get_model_version(NAME, "1").tags["riskops.trained_by"] == "admin"

    # the admin may run DAGs, but only the configured approvers may answer the approval
    with pytest.raises(RuntimeError, match="-> 403: .*admin.* is not a respondent"):
        af.respond(DAG_ID, run1, "approval", "Approve", "I can do this")
    first.answer(DAG_ID, run1, "approval", "Approve", "good separation on the last four weeks", timeout=300)
    af.wait_for_task(DAG_ID, run1, "approval_2", WAITING_FOR_HUMAN, timeout=300)
    detail = af.api("GET", f"/dags/{DAG_ID}/dagRuns/{run1}/taskInstances/approval_2/-1/hitlDetails")
    assert "**Who may answer**: credit-officer (the assigned approvers)" in detail["body"]
    # the first approval is in the audit trail as it arrived; nothing is promoted yet
    (approved,) = registry.audit_trail(client, NAME, "1")
    assert (approved["action"], approved["by"]) == ("approved", "risk-approver")
    assert approved["report_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert approvals.champion(client, NAME) is None
    assert f"[riskops] approval 2 of 2 needed: the promotion of {NAME} v1" in _subjects(home)
    # whoever approved is not asked again: only the other approver may answer the second gate
    with pytest.raises(RuntimeError, match="-> 403: .*risk-approver.* is not a respondent"):
        first.respond(DAG_ID, run1, "approval_2", "Approve", "me again")
    second.answer(DAG_ID, run1, "approval_2", "Approve", "agreed", timeout=300)
    assert af.wait_for_run(DAG_ID, run1, timeout=300) == "success"
    assert af.task_state(DAG_ID, run1, "promote") == "success"
    # the promote task's log says what was promoted (INFO), and a mail confirms it to approvers and risk team
    log = (af.task_logs(DAG_ID, run1) / "task_id=promote" / "attempt=1.log").read_text()
    assert f"{NAME} version 1 is now Production (alias champion); approved by risk-approver, credit-officer" in log
    promoted = f"[riskops] {NAME} v1 promoted to Production (alias champion), approved by risk-approver, credit-officer"
    wait_for(lambda: promoted in _subjects(home), 120, "the promotion mail", 2)
    assert af.task_state(DAG_ID, run1, "record_rejection") == "skipped"
    assert af.task_state(DAG_ID, run1, "record_rejection_2") == "skipped"
    v1 = client.get_model_version(NAME, "1")
    assert _stage(client, "1") == "Production"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert v1.tags["riskops.approved_by"] == "risk-approver, credit-officer"
    assert v1.tags["riskops.approval_note"] == "risk-approver: good separation on the last four weeks; " \
                                               "credit-officer: agreed"
    assert v1.tags["riskops.report_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert v1.tags["riskops.previous_champion"] == "none" and v1.tags["riskops.data_hash"]
    (event,) = champions.history(client, NAME)
    assert (event.action, event.version, event.by) == ("promoted", "1", "risk-approver, credit-officer")

    # second candidate (same data, so not better than the champion), in a new run (a cleared run's approval
    # tasks would keep their first respondents: Airflow resets only the answer); one approval, then a
    # rejection ends it
    run2 = _run_until_approval(af, AS_OF + dt.timedelta(days=1))
    second.answer(DAG_ID, run2, "approval", "Approve", "fine by me", timeout=300)
    # a reason that starts with '-' reaches the audit as one value, not as an option of the reject step
    first.answer(DAG_ID, run2, "approval_2", "Reject", "--no gain over the champion", timeout=300)
    assert af.wait_for_run(DAG_ID, run2, timeout=300) == "success"
    assert af.task_state(DAG_ID, run2, "promote") == "skipped"
    assert af.task_state(DAG_ID, run2, "record_rejection_2") == "success"
    v2 = client.get_model_version(NAME, "2")
    assert v2.tags["riskops.status"] == "rejected"
    assert v2.tags["riskops.rejected_reason"] == "--no gain over the champion"
    assert v2.tags["riskops.rejected_by"] == "risk-approver"
    assert [d["action"] for d in registry.audit_trail(client, NAME, "2")] == ["approved", "rejected"]
    assert _stage(client, "2") == "Archived" and _stage(client, "1") == "Production"
    assert len([s for s in _subjects(home) if " candidate: " in s]) == 2


def _xcom(af: Standalone, run_id: str, task_id: str, key: str):
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
    return af.api("GET", path, params={"deserialize": True})["value"]


@pytest.mark.slow
def test_a_newer_candidate_supersedes_a_waiting_one(platform):
    af, home, client = platform
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

    # the newest candidate is the one waiting, and approving it works as usual: two approvers
    for gate, user in zip(("approval", "approval_2"), APPROVERS, strict=True):
        af.as_user(user).answer(DAG_ID, newer, gate, "Approve", "latest data", timeout=300)
    assert af.wait_for_run(DAG_ID, newer, timeout=300) == "success"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == new_version


def _score(af: Standalone, day: dt.date) -> str:
    """Score one landed day through the score DAG; returns the run's state."""
    run_id = af.trigger("score_card_transactions", day.isoformat(), {"date": day.isoformat()})
    return af.wait_for_run("score_card_transactions", run_id, timeout=600)


@pytest.mark.slow
def test_a_rollback_restores_the_previous_champion_after_two_approvals(platform):
    af, home, client = platform
    champion = str(client.get_model_version_by_alias(NAME, "champion").version)
    previous = champions.current(client, NAME).previous  # the champion before it
    storage = Storage(str(home / "data"))

    # a rollback to the rejected version 2 is refused at once: nothing is asked, nothing changes
    refused = af.trigger("rollback_card_transactions", "2026-12-01", {"reason": "try v2", "version": "2"})
    assert af.wait_for_run("rollback_card_transactions", refused, timeout=600) == "failed"
    assert af.task_state("rollback_card_transactions", refused, "plan") == "failed"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == champion

    run = af.trigger("rollback_card_transactions", "2026-12-02", {"reason": "the new model declines good customers"})
    af.wait_for_task("rollback_card_transactions", run, "approval", WAITING_FOR_HUMAN, timeout=300)
    assert f"[riskops] rollback of {NAME} from v{champion} to v{previous} requested by admin" in _subjects(home)
    af.as_user(APPROVERS[0]).answer("rollback_card_transactions", run, "approval", "Approve", "seen it too",
                                    timeout=300)
    # the run's deadline passed while it waited: the approvers are reminded once, by Airflow's deadline alert
    reminder = f"[riskops] reminder: the rollback of {NAME} to v{previous} still waits for a decision"
    wait_for(lambda: any(s.startswith(reminder) for s in _subjects(home)), 300, "the reminder mail", 5)
    af.as_user(APPROVERS[1]).answer("rollback_card_transactions", run, "approval_2", "Approve", "", timeout=300)
    assert af.wait_for_run("rollback_card_transactions", run, timeout=300) == "success"
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == previous
    event = champions.current(client, NAME)
    assert (event.action, event.version, event.previous, event.by) == (
        "rolled back", previous, champion, "risk-approver, credit-officer")
    assert event.why == "the new model declines good customers"

    # the next scoring run uses the restored champion
    assert _score(af, START + dt.timedelta(days=DAYS - 1)) == "success"
    manifest = storage.read_json(layout.score_manifest("card_transactions", START + dt.timedelta(days=DAYS - 1),
                                                       previous))
    assert manifest["model_version"] == previous and manifest["policy"] == "model"


@pytest.mark.slow
def test_a_halt_applies_the_fallback_policy_until_an_approver_resumes(platform):
    af, home, client = platform
    storage = Storage(str(home / "data"))
    champion = str(client.get_model_version_by_alias(NAME, "champion").version)
    halted_day, resumed_day = START + dt.timedelta(days=DAYS - 2), START + dt.timedelta(days=DAYS - 3)

    # only an approver may halt: the admin's run fails and the model keeps scoring
    refused = af.trigger("halt_card_transactions", "2026-12-01", {"reason": "just checking"})
    assert af.wait_for_run("halt_card_transactions", refused, timeout=600) == "failed"
    assert halt_state(client, NAME) is None

    approver = af.as_user(APPROVERS[0])
    run = approver.trigger("halt_card_transactions", "2026-12-02", {"reason": "bureau feed is broken"})
    assert approver.wait_for_run("halt_card_transactions", run, timeout=600) == "success"
    assert halt_state(client, NAME)["by"] == "risk-approver"
    (halt_mail,) = [m for m in mails(home / "outbox") if " HALTED by " in m["Subject"]]
    assert halt_mail["Subject"] == f"[riskops] {NAME} HALTED by risk-approver: bureau feed is broken"
    assert {a.strip() for a in halt_mail["To"].split(",")} == {"ops@bank.example", "risk-team@bank.example"}
    assert "hard rules, every other row to review" in halt_mail.get_body(("html",)).get_content()

    # while halted, the fallback policy decides every row: visible in the scores and the manifest
    assert _score(af, halted_day) == "success"
    scores = storage.read_parquet(layout.scores("card_transactions", halted_day, layout.FALLBACK))
    assert set(scores["policy"]) == {"fallback"} and set(scores["decision"]) == {"review"}
    assert scores["pd"].isna().all()
    manifest = storage.read_json(layout.fallback_manifest("card_transactions", halted_day))
    assert manifest["halt"]["by"] == "risk-approver" and manifest["fallback_policy"].startswith("hard rules")
    assert not storage.exists(layout.score_manifest("card_transactions", halted_day, champion))

    run = af.as_user(APPROVERS[1]).trigger("resume_card_transactions", "2026-12-03", {"reason": "feed fixed"})
    assert af.wait_for_run("resume_card_transactions", run, timeout=600) == "success"
    assert halt_state(client, NAME) is None
    assert f"[riskops] {NAME} resumed by credit-officer" in _subjects(home)
    assert _score(af, resumed_day) == "success"
    assert set(storage.read_parquet(layout.scores("card_transactions", resumed_day, champion))["policy"]) == {"model"}
    assert [e.action for e in champions.history(client, NAME)][-2:] == ["halted", "resumed"]
