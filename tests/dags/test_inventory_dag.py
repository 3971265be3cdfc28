"""A real Airflow run (dag.test) of the weekly inventory DAG on the scored cards' registry: overdue reviews mailed to
the risk team by a real SMTP server once per as-of date, nothing mailed when nothing is overdue."""

from __future__ import annotations

import datetime as dt

from ml import layout
from ml.storage import Storage
from tests.helpers import load_dag, mails


def test_overdue_reviews_are_mailed_once_and_only_when_overdue(cards_env, smtp, airflow_db):
    from airflow.utils.state import DagRunState
    from mlflow import MlflowClient

    from ml.governance import registry

    dag = load_dag("inventory.py", "inventory")
    since = dt.datetime.fromisoformat(registry.tags(MlflowClient(), "riskops-card_transactions", "1")["promoted_at"])
    due = since.date() + dt.timedelta(days=180)  # the cards spec's documentation.review_period_days

    on_time = dag.test(logical_date=None, run_conf={"as_of": due.isoformat()})
    assert on_time.state == DagRunState.SUCCESS and mails(smtp) == []
    listed = Storage(cards_env["data"].as_posix()).read_json(layout.inventory_run(on_time.run_id))
    cards = next(m for m in listed["models"] if m["dataset"] == "card_transactions")
    assert cards["champion"] == "1" and cards["next_review"] == due.isoformat() and not cards["overdue"]

    late = (due + dt.timedelta(days=1)).isoformat()
    run = dag.test(logical_date=None, run_conf={"as_of": late})
    assert run.state == DagRunState.SUCCESS
    (mail,) = mails(smtp)
    assert mail["To"] == "risk-team@bank.example"
    assert mail["Subject"] == f"[riskops] 1 model review(s) overdue as of {late}"
    body = mail.get_body(("html",)).get_content()
    assert "riskops-card_transactions v1" in body and due.isoformat() in body

    again = dag.test(logical_date=None, run_conf={"as_of": late})  # a re-run of the same as-of date
    assert again.state == DagRunState.SUCCESS and len(mails(smtp)) == 1
