"""Real Airflow runs (dag.test) of the stability DAG on scored card days around the synthetic drift: the
history, the alert and the weekly report received by a real SMTP server (once, not again on a retry), the
drift asset event that schedules retraining; and a failed task's mail to the operations address."""

from __future__ import annotations

from ml.monitor.history import History
from tests.helpers import load_dag
from tests.helpers import mails as _mails

DAG_ID = "stability_card_transactions"
# Saturday before the drift, then its first two days: a complete week (2026-W38) and red days
WINDOW = {"start": "2026-09-19", "end": "2026-09-21"}


def _dag():
    return load_dag("stability.py", DAG_ID)


def _drift_events() -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [e.extra for e in session.scalars(
            select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == "riskops://drift/card_transactions").order_by(AssetEvent.id))]


def test_a_window_run_alerts_reports_and_requests_a_retraining_once(cards_env, smtp, airflow_db):
    from airflow.utils.state import DagRunState

    before = len(_drift_events())
    dag = _dag()
    run = dag.test(logical_date=None, run_conf=WINDOW)
    assert run.state == DagRunState.SUCCESS
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["notify"] == states["request_retraining"] == "success"
    assert History.open(cards_env["history"]).read("card_transactions", window_kind="day", statistics=["overall"],
                                                   feature="")[-1].light == "red"

    mails = _mails(smtp)
    (alert,) = [m for m in mails if "stability RED" in m["Subject"]]
    (report,) = [m for m in mails if "weekly stability report 2026-W38" in m["Subject"]]
    assert alert["To"] == report["To"] == "risk-team@bank.example"
    assert "device_os" in alert.get_body(("html",)).get_content()
    (chart,) = alert.iter_attachments()
    assert chart.get_filename() == "drift.png" and chart.get_content().startswith(b"\x89PNG")
    (pdf,) = report.iter_attachments()
    assert pdf.get_filename() == "stability-card_transactions-2026-W38.pdf"
    assert pdf.get_content().startswith(b"%PDF")
    events = _drift_events()
    assert len(events) == before + 1
    assert events[-1]["reason"].startswith("drift in card_transactions (day 2026-09-")
    assert events[-1]["as_of"] >= "2026-11-09" and events[-1]["model_versions"] == ["1"]

    # the mails are recorded as sent: a retry of notify (or a re-run of these days) sends nothing again
    from riskops_airflow.notify import send_stability_mails

    assert send_stability_mails("card_transactions", run.run_id) == {"alert": None, "fairness_alert": None,
                                                                     "reports": []}
    assert len(_mails(smtp)) == len(mails)


def test_a_failed_task_mails_the_operations_address(cards_env, smtp, airflow_db):
    from airflow.utils.state import DagRunState

    run = _dag().test(logical_date=None, run_conf={"date": "2026-08-01"})  # nothing was scored that day
    assert run.state == DagRunState.FAILED
    (mail,) = _mails(smtp)
    assert mail["To"] == "ops@bank.example"
    assert mail["Subject"].startswith(f"[riskops] {DAG_ID} failed: task stability, ")
    body = mail.get_body(("html",)).get_content()
    assert f"DAG <b>{DAG_ID}</b>" in body and "task <b>stability</b> (map index 0)" in body
