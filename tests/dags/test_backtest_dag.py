"""Real Airflow runs (dag.test) of the backtest DAG on the scored card days: the PDF mailed to the risk team
by a real SMTP server once, the history written and replaced (not duplicated) by a re-run, each judged
week's figures in MLflow on the champion's training run, and a window with nothing matured reported, not
failed."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from ml.monitor import backtest_history
from ml.monitor.history import History
from tests.helpers import load_dag, mails

DAG_ID = "backtest_card_transactions"
# the scored days are 2026-09-14..25 (tests/conftest.py); the cards' outcomes mature 45 days later
AS_OF = "2026-11-09"


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_weekly_run_mails_the_report_once_and_keeps_one_history(cards_env, smtp, airflow_db):
    from airflow.utils.state import DagRunState
    from mlflow import MlflowClient

    from riskops_airflow.notify import send_backtest_mail

    dag = load_dag("backtest.py", DAG_ID)
    run = dag.test(logical_date=None, run_conf={"as_of": AS_OF, "weeks": 2})
    assert run.state == DagRunState.SUCCESS

    (mail,) = mails(smtp)
    assert mail["To"] == "risk-team@bank.example"
    assert mail["Subject"].startswith(f"[riskops] card_transactions backtest as of {AS_OF}: ")
    body = mail.get_body(("html",)).get_content()
    assert "matured rows, AUC 0." in body
    (pdf,) = mail.iter_attachments()
    assert pdf.get_filename() == f"backtest-card_transactions-{AS_OF}.pdf"
    assert "2026-W38" in _text(pdf.get_content())

    history = History.open(cards_env["history"])
    weeks = history.read("card_transactions", window_kind=backtest_history.WEEK, statistics=["rows_matured", "auc"])
    assert {(r.window_start, r.statistic) for r in weeks} == {
        (dt.date(2026, 9, 14), "rows_matured"), (dt.date(2026, 9, 21), "rows_matured"),
        (dt.date(2026, 9, 14), "auc"), (dt.date(2026, 9, 21), "auc")}
    assert all(r.model_version == "1" for r in weeks)
    auc = {r.window_start: r for r in weeks if r.statistic == "auc"}
    assert 0.5 < auc[dt.date(2026, 9, 14)].value < 1
    assert auc[dt.date(2026, 9, 14)].detail["auc_low"] < auc[dt.date(2026, 9, 14)].value
    window = {r.statistic: r for r in history.read("card_transactions", window_kind=backtest_history.WINDOW,
                                                   window_starts=[dt.date.fromisoformat(AS_OF)], feature="")}
    assert window["rows"].value == sum(r.value for r in weeks if r.statistic == "rows_matured")
    assert window[backtest_history.MAILED].detail["to"] == ["risk-team@bank.example"]
    assert window["alert"].light in ("green", "red")

    # each judged week on the training run of version 1, stamped with its Monday
    client = MlflowClient()
    run_id = client.get_model_version("riskops-card_transactions", "1").run_id
    logged = client.get_metric_history(run_id, "backtest.auc")
    assert sorted((m.timestamp, round(m.value, 12)) for m in logged) == sorted(
        (int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp() * 1000), round(r.value, 12))
        for d, r in auc.items())

    # a re-run replaces the rows and logs nothing twice; the report is not mailed again
    rows = len(history.read("card_transactions"))
    again = dag.test(logical_date=None, run_conf={"as_of": AS_OF, "weeks": 2})
    assert again.state == DagRunState.SUCCESS
    assert len(history.read("card_transactions")) == rows
    assert len(client.get_metric_history(run_id, "backtest.auc")) == len(logged)
    assert len(mails(smtp)) == 1
    assert send_backtest_mail("card_transactions", again.run_id) is None


def test_before_anything_matured_the_run_reports_the_estimate(cards_env, smtp, airflow_db):
    from airflow.utils.state import DagRunState

    run = load_dag("backtest.py", DAG_ID).test(logical_date=None, run_conf={"as_of": "2026-10-05", "weeks": 4})
    assert run.state == DagRunState.SUCCESS
    (mail,) = mails(smtp)
    assert "No matured rows as of 2026-10-05" in mail.get_body(("html",)).get_content()
    history = History.open(cards_env["history"])
    estimated = history.read("card_transactions", window_kind=backtest_history.WEEK, statistics=["estimated_auc"])
    assert [r.window_start for r in estimated] == [dt.date(2026, 9, 14), dt.date(2026, 9, 21)]
    assert all(r.detail["low"] <= r.value <= r.detail["high"] for r in estimated)
    assert not history.read("card_transactions", window_kind=backtest_history.WEEK, statistics=["auc"])

    # once the weeks matured, the realised AUC joins the estimate made before: both are kept side by side
    matured = load_dag("backtest.py", DAG_ID).test(logical_date=None, run_conf={"as_of": AS_OF, "weeks": 2})
    assert matured.state == DagRunState.SUCCESS
    after = history.read("card_transactions", window_kind=backtest_history.WEEK,
                         statistics=["estimated_auc", "auc"])
    assert {(r.window_start, r.statistic) for r in after} == {
        (d, s) for d in (dt.date(2026, 9, 14), dt.date(2026, 9, 21)) for s in ("estimated_auc", "auc")}
    assert [r.detail["as_of"] for r in after if r.statistic == "estimated_auc"] == ["2026-10-05"] * 2


@pytest.mark.parametrize("conf", [{"as_of": "next monday"}, {"as_of": AS_OF, "weeks": 0},
                                  {"as_of": AS_OF, "weeks": "12; rm -rf /"}])
def test_run_conf_that_is_not_a_date_or_a_week_count_is_refused_before_the_run(conf, airflow_db):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        load_dag("backtest.py", DAG_ID).test(logical_date=None, run_conf=conf)
