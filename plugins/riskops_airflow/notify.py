"""Sending the mails: the candidate's PDF, the requests for a quorum's next approval, reminders and rollback
requests to the approvers; the confirmation of a promotion to the approvers and the risk team; stability
alerts, weekly stability and backtest reports and overdue model reviews to the risk team; a halt or
resume to the on-call and the risk team (their words are `ml.mails`'); and every task's failure to the
operations address.

Reminders follow Airflow's conventions: the second and later gates of a quorum mail the approvers through the
HITL operator's `notifiers` when they ask, and a decision still waiting when the run's deadline passes (a DAG
`DeadlineAlert`, RISKOPS_APPROVAL_REMINDER_HOURS after the run was queued) gets one reminder, sent by the
triggerer (`approval_reminder`).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier


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


def _send_text(to: list[str], subject: str, html_content: str, conn_id: str = "smtp_default") -> None:
    """Send one mail without attachment."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml.config import mail_from

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=to, subject=subject, html_content=html_content, from_email=mail_from())


def _airflow_url() -> str:
    from airflow.configuration import conf

    return str(conf.get("api", "base_url", fallback=""))


def approval_url(dag_id: str, run_id: str, task_id: str | None = None) -> str:
    """The Required Actions page of a run, or of one of its tasks, at Airflow's configured address ([api]
    base_url)."""
    from ml.mails import required_actions_url

    return required_actions_url(_airflow_url(), dag_id, run_id, task_id)


def send_candidate_mail(dataset: str, run_key: str, dag_id: str, gate: str = "approval",
                        conn_id: str = "smtp_default") -> dict[str, Any]:
    """Send the candidate that the retraining run `run_key` (of `dag_id`) registered to the approvers, with the
    link to its approval `gate`; returns its summary for XCom."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import mails
    from ml.config import Settings
    from ml.governance.candidate import candidate_of_run
    from ml.governance.requests import CandidateRef
    from riskops_airflow.stores import storage as data_storage

    settings, storage = Settings.from_env(), data_storage()
    candidate = candidate_of_run(storage, dataset, run_key)
    pdf = storage.read_bytes(candidate.report_key)
    technical_file = candidate.technical_file_key
    mail = mails.candidate(candidate, approval_url(dag_id, run_key, gate),
                           storage.url(technical_file) if technical_file else None)
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        _send(hook, list(settings.approvers), mail.subject, mail.html, settings.mail_from,
              f"{candidate.model_name}-v{candidate.version}.pdf", pdf)
    return CandidateRef.of(candidate).model_dump()


def send_stability_mails(dataset: str, run_key: str, conn_id: str = "smtp_default") -> dict[str, Any]:
    """Mail what the stability run `run_key` left to the risk team: its alert and its fairness alert (each once
    per window and level) and the reports of the weeks it completed (once per week); each recorded in the
    history once sent, so a retry or a re-run does not send it again."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import layout, mails
    from ml.config import Settings
    from ml.monitor import alerts, fair_lending, weekly
    from ml.monitor.stability_run import StabilityRun
    from riskops_airflow import stores

    settings, storage, history = Settings.from_env(), stores.storage(), stores.history()
    summary = StabilityRun.read(storage, layout.stability_run(dataset, run_key))
    to = list(settings.risk_team)
    sent: dict[str, Any] = {"alert": None, "fairness_alert": None, "reports": []}
    alert, unfair = summary.alert, summary.fairness_alert
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        if alert and alerts.unsent(history, dataset, alert.windows):
            _send(hook, to, alert.subject, alert.html, settings.mail_from, mails.ALERT_CHART,
                  storage.read_bytes(alert.chart))
            alerts.record_sent(history, dataset, alert.windows, to, alert.subject)
            sent["alert"] = alert.subject
        if unfair and fair_lending.unsent(history, dataset, unfair.windows):
            _send(hook, to, unfair.subject, unfair.html, settings.mail_from)
            fair_lending.record_sent(history, dataset, unfair.windows, to, unfair.subject)
            sent["fairness_alert"] = unfair.subject
        for report in summary.reports:
            if dt.date.fromisoformat(report.start) in weekly.mailed(history, dataset):
                continue
            mail = mails.weekly_stability(dataset, report.week, report.model_version)
            _send(hook, to, mail.subject, mail.html, settings.mail_from, f"stability-{dataset}-{report.week}.pdf",
                  storage.read_bytes(report.key))
            weekly.record_mailed(history, dataset, report.model_dump(), to)
            sent["reports"].append(report.week)
    return sent


def send_backtest_mail(dataset: str, run_key: str, conn_id: str = "smtp_default") -> str | None:
    """Mail the report (and alerts) of the backtest run `run_key` to the risk team, once per as-of date:
    recorded in the history when sent, so a retry or a re-run sends nothing again. Returns the subject sent."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import layout
    from ml.config import Settings
    from ml.monitor import backtest_history
    from ml.monitor.weekly_backtest import BacktestRun
    from riskops_airflow import stores

    settings, storage, history = Settings.from_env(), stores.storage(), stores.history()
    run = BacktestRun.read(storage, layout.backtest_run(dataset, run_key))
    as_of = dt.date.fromisoformat(run.as_of)
    if backtest_history.mailed(history, dataset, as_of):
        return None
    to = list(settings.risk_team)
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        _send(hook, to, run.subject, run.html, settings.mail_from, f"backtest-{dataset}-{run.as_of}.pdf",
              storage.read_bytes(run.report_key))
    backtest_history.record_mailed(history, dataset, as_of, run.report_key, to, run.subject)
    return run.subject


def send_overdue_reviews(run_key: str, conn_id: str = "smtp_default") -> str | None:
    """Mail the overdue reviews the inventory run `run_key` found to the risk team, once per as-of date (recorded
    in storage when sent, so a retry or a re-run sends nothing again). Returns the subject sent."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from ml import contracts, layout
    from ml.config import Settings
    from ml.monitor.inventory import InventoryRun
    from riskops_airflow import stores

    settings, storage = Settings.from_env(), stores.storage()
    run = contracts.read(storage, layout.inventory_run(run_key), InventoryRun)
    mailed = layout.inventory_mailed(dt.date.fromisoformat(run.as_of))
    if run.mail is None or storage.exists(mailed):
        return None
    to = list(settings.risk_team)
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        _send(hook, to, run.mail.subject, run.mail.html, settings.mail_from)
    storage.write_json(mailed, {"to": to, "subject": run.mail.subject, "run_key": run_key})
    return run.mail.subject


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


class ApprovalRequestNotifier(BaseNotifier):
    """The HITL notifier of a quorum's second and later gates (`riskops_airflow.approval.approval_chain`): one mail
    to the approvers (RISKOPS_APPROVERS) saying who approved already and that the next approval is needed.
    `what` is formatted with the candidate's XCom (the gate's `candidate_task_id`), e.g. "the promotion of
    {model_name} v{version}"."""

    template_fields = ()

    def __init__(self, what: str, dataset: str, quorum: int, conn_id: str = "smtp_default") -> None:
        super().__init__()
        self.what, self.dataset, self.quorum, self.conn_id = what, dataset, quorum, conn_id

    def notify(self, context: Any) -> None:
        from ml import mails
        from ml.config import Settings
        from ml.governance.requests import subject

        ti, gate = context["ti"], context["task"]
        candidate = subject(ti.xcom_pull(task_ids=gate.candidate_task_id))
        mail = mails.approval_request(self.what.format(**candidate.model_dump()), self.dataset, ti.dag_id,
                                      candidate.report_sha256, gate.approved(ti), self.quorum,
                                      approval_url(ti.dag_id, ti.run_id, ti.task_id))
        _send_text(list(Settings.from_env().approvers), mail.subject, mail.html, self.conn_id)


class PromotionNotifier(BaseNotifier):
    """The `promote` task's success callback: mails the approvers and the risk team that the candidate (XCom of
    `candidate_task_id`) is the champion now, with its audit trail as MLflow holds it. Nothing is sent when the
    version is not the champion (still waiting for its quorum)."""

    template_fields = ()

    def __init__(self, dataset: str, candidate_task_id: str = "email_approvers", conn_id: str = "smtp_default") -> None:
        super().__init__()
        self.dataset, self.candidate_task_id, self.conn_id = dataset, candidate_task_id, conn_id

    def notify(self, context: Any) -> None:
        from ml.governance.requests import CandidateRef

        ref = CandidateRef.model_validate(context["ti"].xcom_pull(task_ids=self.candidate_task_id))
        send_promotion_mail(self.dataset, ref.version,
                            self.conn_id)


def send_promotion_mail(dataset: str, version: str, conn_id: str = "smtp_default") -> str | None:
    """Mail the approvers and the risk team that `version` was promoted; returns the subject sent (None when it
    is not the champion)."""
    from mlflow import MlflowClient

    from ml import mails
    from ml.config import Settings, configure_mlflow
    from ml.governance import registry

    settings = Settings.from_env()
    configure_mlflow(settings)
    name = registry.model_name(dataset)
    audit = registry.tags(MlflowClient(), name, version)
    if audit.get("status") != "champion":
        return None
    mail = mails.promoted(dataset, name, version, audit)
    _send_text(list(dict.fromkeys([*settings.approvers, *settings.risk_team])), mail.subject, mail.html, conn_id)
    return mail.subject


def reminder_deadline(dataset: str, kind: str) -> Any:
    """The retrain (`kind` "retrain") or rollback DAG's deadline: RISKOPS_APPROVAL_REMINDER_HOURS after a run
    was queued, `approval_reminder` reminds the approvers of a decision still waiting; None when switched off."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    from riskops_airflow.settings import approval_reminder_hours

    hours = approval_reminder_hours()
    if not hours:
        return None
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=dt.timedelta(hours=hours),
                         callback=AsyncCallback(approval_reminder, kwargs={"dataset": dataset, "kind": kind}))


async def approval_reminder(dataset: str, kind: str, context: dict[str, Any] | None = None) -> str | None:
    """The deadline alert's callback, run by the triggerer: remind the approvers of the decision the run still
    waits for (none: nothing is sent). Returns the subject sent."""
    from asgiref.sync import sync_to_async

    run = (context or {}).get("dag_run") or {}
    return await sync_to_async(remind)(dataset, kind, str(run.get("dag_id")), str(run.get("dag_run_id")),
                                       str(run.get("queued_at") or run.get("run_after") or "the run started"))


def remind(dataset: str, kind: str, dag_id: str, run_id: str, since: str) -> str | None:
    """Mail the approvers a reminder of the decision the run `run_id` waits for: its candidate (retrain) or the
    open rollback request (rollback) and the approvals so far; nothing when it waits for none any more."""
    from mlflow import MlflowClient

    from ml import mails
    from ml.config import Settings, configure_mlflow
    from ml.governance import waiting
    from riskops_airflow.defaults import approval_quorum
    from riskops_airflow.stores import storage as data_storage

    settings = Settings.from_env()
    configure_mlflow(settings)
    pending = (waiting.retrain if kind == "retrain" else waiting.rollback)(data_storage(), MlflowClient(), dataset,
                                                                          run_id)
    if pending is None:
        return None
    mail = mails.approval_reminder(pending.what, dataset, since, pending.approved_by, approval_quorum(dataset),
                                   dag_id, run_id, approval_url(dag_id, run_id))
    _send_text(list(settings.approvers), mail.subject, mail.html)
    return mail.subject


def send_rollback_request(dataset: str, plan: dict[str, Any], requested_by: str, reason: str, quorum: int) -> str:
    """Mail the approvers that a rollback waits for their decision (`plan`: the rollback DAG's plan, its XCom)."""
    from ml import mails
    from ml.config import Settings
    from ml.governance.requests import RollbackPlan

    target = RollbackPlan.model_validate(plan)
    mail = mails.rollback_request(dataset, target.model_name, target, target.champion, requested_by, reason, quorum,
                                  _airflow_url())
    _send_text(list(Settings.from_env().approvers), mail.subject, mail.html)
    return mail.subject


def send_oversight_notices(dataset: str, conn_id: str = "smtp_default") -> list[str]:
    """Send every halt and resume mail of the dataset not sent yet (`python -m ml halt` / `resume` leave them in
    storage) to the on-call and the risk team, each once; returns the subjects sent."""
    from ml import contracts, layout
    from ml.config import Settings
    from ml.governance.notices import OversightNotice
    from riskops_airflow.settings import oncall
    from riskops_airflow.stores import storage as data_storage

    storage, sent = data_storage(), []
    to = list(dict.fromkeys([*oncall(), *Settings.from_env().risk_team]))
    for key in storage.list_files(layout.oversight_notices(dataset)):
        notice = contracts.read(storage, key, OversightNotice)
        if notice.sent_at:
            continue
        _send_text(to, notice.subject, notice.html, conn_id)
        contracts.write(storage, key, notice.model_copy(update={
            "sent_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "to": to}))
        sent.append(notice.subject)
    return sent
