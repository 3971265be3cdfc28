"""Sending the mails: the candidate's PDF to the approvers, stability alerts, weekly stability and backtest
reports to the risk team (their words are `ml.mails`'), and every task's failure to the operations address."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any


def _send(hook: Any, to: list[str], subject: str, html_content: str, from_email: str, name: str | None = None,
          content: bytes | None = None) -> None:
    """Send one mail with one attachment, or none (written under its own name: the name is what the reader
    sees)."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        if name is not None and content is not None:
            path = Path(tmp) / name
            path.write_bytes(content)
            files.append(str(path))
        hook.send_email_smtp(to=to, subject=subject, html_content=html_content, from_email=from_email, files=files)


def send_candidate_mail(dataset: str, run_key: str, conn_id: str = "smtp_default") -> dict[str, Any]:
    """Send the candidate that the retraining run `run_key` registered to the approvers; returns its summary
    for XCom."""
    from airflow.configuration import conf
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import layout, mails
    from ml.config import Settings
    from riskops_airflow.stores import storage as data_storage

    settings, storage = Settings.from_env(), data_storage()
    candidate = storage.read_json(storage.read_json(layout.retrain_run(dataset, run_key))["candidate"])
    pdf = storage.read_bytes(candidate["report_key"])
    mail = mails.candidate(candidate, conf.get("api", "base_url", fallback=""))
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        _send(hook, list(settings.approvers), mail.subject, mail.html, settings.mail_from,
              f"{candidate['model_name']}-v{candidate['version']}.pdf", pdf)
    return {k: candidate[k] for k in ("dataset", "model_name", "version", "verdict", "report_sha256",
                                      "model_sha256", "run_id")}


def send_stability_mails(dataset: str, run_key: str, conn_id: str = "smtp_default") -> dict[str, Any]:
    """Mail what the stability run `run_key` left to the risk team: its alert and its fairness alert (each once
    per window and level) and the reports of the weeks it completed (once per week); each recorded in the
    history once sent, so a retry or a re-run does not send it again."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import layout, mails
    from ml.config import Settings
    from ml.monitor import alerts, fair_lending, weekly
    from riskops_airflow import stores

    settings, storage, history = Settings.from_env(), stores.storage(), stores.history()
    summary = storage.read_json(layout.stability_run(dataset, run_key))
    to = list(settings.risk_team)
    sent: dict[str, Any] = {"alert": None, "fairness_alert": None, "reports": []}
    alert = summary["alert"]
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        if alert and alerts.unsent(history, dataset, alert["windows"]):
            _send(hook, to, alert["subject"], alert["html"], settings.mail_from, mails.ALERT_CHART,
                  storage.read_bytes(alert["chart"]))
            alerts.record_sent(history, dataset, alert["windows"], to, alert["subject"])
            sent["alert"] = alert["subject"]
        unfair = summary.get("fairness_alert")
        if unfair and fair_lending.unsent(history, dataset, unfair["windows"]):
            _send(hook, to, unfair["subject"], unfair["html"], settings.mail_from)
            fair_lending.record_sent(history, dataset, unfair["windows"], to, unfair["subject"])
            sent["fairness_alert"] = unfair["subject"]
        for report in summary["reports"]:
            if dt.date.fromisoformat(report["start"]) in weekly.mailed(history, dataset):
                continue
            mail = mails.weekly_stability(dataset, report["week"], report["model_version"])
            _send(hook, to, mail.subject, mail.html, settings.mail_from, f"stability-{dataset}-{report['week']}.pdf",
                  storage.read_bytes(report["key"]))
            weekly.record_mailed(history, dataset, report, to)
            sent["reports"].append(report["week"])
    return sent


def send_backtest_mail(dataset: str, run_key: str, conn_id: str = "smtp_default") -> str | None:
    """Mail the report (and alerts) of the backtest run `run_key` to the risk team, once per as-of date:
    recorded in the history when sent, so a retry or a re-run sends nothing again. Returns the subject sent."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import layout
    from ml.config import Settings
    from ml.monitor import backtest_history
    from riskops_airflow import stores

    settings, storage, history = Settings.from_env(), stores.storage(), stores.history()
    run = storage.read_json(layout.backtest_run(dataset, run_key))
    as_of = dt.date.fromisoformat(run["as_of"])
    if backtest_history.mailed(history, dataset, as_of):
        return None
    to = list(settings.risk_team)
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        _send(hook, to, run["subject"], run["html"], settings.mail_from, f"backtest-{dataset}-{run['as_of']}.pdf",
              storage.read_bytes(run["report_key"]))
    backtest_history.record_mailed(history, dataset, as_of, run["report_key"], to, run["subject"])
    return str(run["subject"])


def failure_notifier() -> Any:
    """The failure callback of every riskops task: a mail to the operations address naming the DAG, the
    run's date, the failed task and the error (Airflow's SMTP notifier, `smtp_default` connection)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from ml.config import mail_from
    from riskops_airflow.settings import oncall

    return SmtpNotifier(
        to=list(oncall()), from_email=mail_from(),
        subject="[riskops] {{ dag.dag_id }} failed: task {{ ti.task_id }}, "
                "{{ (dag_run.logical_date or dag_run.run_after) | ds }}",
        html_content=(
            "<p>DAG <b>{{ dag.dag_id }}</b>, run {{ run_id }} (date "
            "{{ (dag_run.logical_date or dag_run.run_after) | ds }}): task <b>{{ ti.task_id }}</b>"
            "{% if ti.map_index is not none and ti.map_index >= 0 %} (map index {{ ti.map_index }}){% endif %} "
            "failed on try {{ ti.try_number }}.</p><p>Error: {{ exception | e }}</p>"
            "<p>Log: {{ ti.log_url }}</p>"))
