"""The approvers' mail goes through Airflow's SMTP hook to a real SMTP server, with the PDF attached."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from ml import layout
from ml.storage import Storage
from reports.candidate import render_candidate_report
from tests.helpers import free_port, mails
from tests.reports.test_candidate import make_data

REPO = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 10, 31)
RUN = "manual__2026-10-31T03:00:00+00:00"  # the retraining run whose candidate is mailed



@pytest.fixture
def candidate(data_root) -> dict:
    storage = Storage(str(data_root))
    pdf = render_candidate_report(make_data())
    # a whole candidate.json (tests/fixtures/contracts) with the figures these assertions name
    base = json.loads((REPO / "tests" / "fixtures" / "contracts" / "candidate_with_champion.json").read_text())
    summary = base | {
        "dataset": "card_transactions", "model_name": "riskops-card_transactions", "version": "3",
        "run_id": "abc123", "as_of": AS_OF.isoformat(), "verdict": "not recommended",
        "verdict_reason": "AUC does not beat the champion", "threshold": 0.0812,
        "metrics": base["metrics"] | {"auc": 0.8612, "auc_low": 0.8012, "auc_high": 0.9212, "ks": 0.55, "n": 230,
                                      "positives": 21},
        "champion_version": "2", "champion_metrics": base["champion_metrics"] | {
            "auc": 0.8701, "auc_low": 0.8101, "auc_high": 0.9301, "ks": 0.56},
        "trigger": None, "champion_line": None, "quorum": 1,
        "report_sha256": hashlib.sha256(pdf).hexdigest(),
        "gaps": ["14 of the window's 30 business days were not preprocessed and are missing from the development "
                 "sample: 2026-09-01, 2026-09-03 and 12 more"],
        "model_sha256": "be5eb00c", "data_hash": "f00d", "superseded": ["2"],
        "report_key": layout.candidate("card_transactions", "3", "candidate.pdf"),
        "technical_file_key": layout.candidate("card_transactions", "3", "technical_file.pdf"),
        "technical_file_sha256": "7ec4f11e",
    }
    storage.write_bytes(summary["report_key"], pdf)
    storage.write_json(layout.candidate("card_transactions", "3", "candidate.json"), summary)
    storage.write_json(layout.retrain_run("card_transactions", RUN),
                       {"version": "3", "candidate": layout.candidate("card_transactions", "3", "candidate.json")})
    return summary | {"pdf": pdf}


def test_mail_reaches_the_smtp_server_with_the_pdf(candidate, smtp, monkeypatch, data_root):
    from riskops_airflow.notify import send_candidate_mail

    monkeypatch.setenv("RISKOPS_APPROVERS", "cro@bank.example, model-risk@bank.example")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.bank.example/")
    result = send_candidate_mail("card_transactions", RUN, "retrain_card_transactions")
    assert result["version"] == "3"
    (msg,) = mails(smtp)
    assert msg["Subject"] == ("[riskops] riskops-card_transactions v3 candidate: NOT RECOMMENDED (AUC 0.8612, "
                              "95% CI 0.8012 to 0.9212)")
    assert set(a.strip() for a in msg["To"].split(",")) == {"cro@bank.example", "model-risk@bank.example"}
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "riskops-card_transactions-v3.pdf"
    assert attachment.get_content() == candidate["pdf"]
    body = msg.get_body(("html",)).get_content()
    assert "champion v2: AUC 0.8701, 95% CI 0.8101 to 0.9301" in body and candidate["report_sha256"] in body
    assert "out-of-time AUC 0.8612, 95% CI 0.8012 to 0.9212, KS 0.5500, threshold 0.0812, on 230 test rows with 21 " \
           "positive outcomes" in body
    assert ("<b>Data window incomplete:</b> 14 of the window&#x27;s 30 business days were not preprocessed and are "
            "missing") in body
    assert "model files SHA-256 be5eb00c" in body and "supersedes the waiting candidate(s) v2" in body
    # the technical file is linked with its hash, and its hash reaches the approval prompt through XCom
    technical_file = Storage(str(data_root)).url(candidate["technical_file_key"])
    assert f"technical file {technical_file}, SHA-256 7ec4f11e" in body
    assert result["technical_file_sha256"] == "7ec4f11e"
    # the link opens the approval itself at the configured address (not a port of the moment, not the home page)
    page = f"https://airflow.bank.example/dags/retrain_card_transactions/runs/{RUN}/tasks/approval/required_actions"
    assert f"<a href='{page}'>{page}</a>" in body


def test_the_approval_link_is_the_page_airflow_links_its_required_actions_to(monkeypatch):
    from types import SimpleNamespace

    from airflow.providers.standard.operators.hitl import HITLOperator

    from riskops_airflow.notify import approval_url

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
    gate = HITLOperator(task_id="approval_2", subject="Approve?", options=["Approve", "Reject"])
    ti = SimpleNamespace(dag_id="retrain_card_transactions", run_id=RUN, task_id="approval_2", map_index=-1)
    assert f"{approval_url(ti.dag_id, RUN, 'approval_2')}?map_index=-1" == gate.generate_link_to_ui(task_instance=ti)
    assert approval_url(ti.dag_id, RUN) == f"http://127.0.0.1:8080/dags/retrain_card_transactions/runs/{RUN}/required_actions"


def test_smtp_down_raises_so_the_task_retries_and_the_pdf_stays(candidate, data_root, monkeypatch):
    from riskops_airflow.notify import send_candidate_mail

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{free_port()}?disable_tls=true&disable_ssl=true&timeout=2&retry_limit=1")
    with pytest.raises(OSError):
        send_candidate_mail("card_transactions", RUN, "retrain_card_transactions")
    assert Storage(str(data_root)).read_bytes(candidate["report_key"]) == candidate["pdf"]


def test_a_halt_left_from_a_terminal_is_mailed_once_to_the_on_call_and_the_risk_team(
        mlflow_store, data_root, smtp, capsys):
    from ml.cli import main
    from riskops_airflow.notify import send_oversight_notices

    assert main(["halt", "--dataset", "card_transactions", "--approver", "Ada", "--reason", "bureau feed broken"]) == 0
    assert send_oversight_notices("card_transactions") == [
        "[riskops] riskops-card_transactions HALTED by Ada: bureau feed broken"]
    assert send_oversight_notices("card_transactions") == []  # once
    (msg,) = mails(smtp)
    assert set(a.strip() for a in msg["To"].split(",")) == {"ops@bank.example", "risk-team@bank.example"}
    body = msg.get_body(("html",)).get_content()
    assert "hard rules, every other row to review" in body and "no champion yet" in body
    assert "python -m ml resume --dataset card_transactions" in body


def test_the_reminder_names_the_waiting_candidate_and_its_approvals(candidate, mlflow_store, smtp, monkeypatch):
    from mlflow import MlflowClient

    from ml.governance import approvals
    from riskops_airflow.notify import remind
    from tests.helpers import tiny_candidate

    monkeypatch.setenv("RISKOPS_APPROVAL_QUORUM", "2")
    client, name = MlflowClient(), "riskops-card_transactions"
    for _ in range(3):  # version 3, as the candidate fixture's run registered it
        version = tiny_candidate(client, name, candidate["pdf"])
    assert version == "3"
    approvals.promote(client, name, version, "Ada", "fine", report=candidate["pdf"], quorum=2)
    subject = remind("card_transactions", "retrain", "retrain_card_transactions", RUN, "2026-10-31T03:00:00+00:00")
    assert subject == f"[riskops] reminder: the promotion of {name} v3 still waits for a decision (1 of 2 approvals)"
    (msg,) = mails(smtp)
    assert "approved so far by Ada" in msg.get_body(("html",)).get_content()
    approvals.promote(client, name, version, "Grace", report=candidate["pdf"], quorum=2)
    assert remind("card_transactions", "retrain", "retrain_card_transactions", RUN, "") is None  # nothing waits
    assert remind("card_transactions", "retrain", "retrain_card_transactions", "another run", "") is None


def test_a_promotion_is_confirmed_to_the_approvers_and_the_risk_team(candidate, mlflow_store, smtp, monkeypatch):
    from mlflow import MlflowClient

    from ml.governance import approvals
    from riskops_airflow.notify import send_promotion_mail
    from tests.helpers import tiny_candidate

    monkeypatch.setenv("RISKOPS_APPROVERS", "cro@bank.example")
    client, name = MlflowClient(), "riskops-card_transactions"
    version = tiny_candidate(client, name, candidate["pdf"])
    approvals.promote(client, name, version, "Ada", "fine", report=candidate["pdf"], quorum=2)
    assert send_promotion_mail("card_transactions", version) is None  # one of two approvals: not promoted yet
    approvals.promote(client, name, version, "Grace", "agreed", report=candidate["pdf"], quorum=2)
    subject = send_promotion_mail("card_transactions", version)
    assert subject == f"[riskops] {name} v1 promoted to Production (alias champion), approved by Ada, Grace"
    (msg,) = mails(smtp)
    assert msg["Subject"] == subject
    assert {a.strip() for a in msg["To"].split(",")} == {"cro@bank.example", "risk-team@bank.example"}
    body = msg.get_body(("html",)).get_content()
    assert "It is the first Production model of this dataset." in body and candidate["report_sha256"] in body
    assert "(Ada: fine; Grace: agreed)" in body
