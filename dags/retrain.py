"""Retraining, one DAG per dataset, monthly or when the stability DAG finds drift: candidate -> report mailed
to approvers -> human approval in Airflow.

Scheduled by its monthly cron or by the Asset `drift/<dataset>`, whichever comes first (by the Asset alone
when cron schedules are off). A drift-triggered run trains as of the date in the drift event and puts the
event's reason on the candidate's first page.

train (container): XGBoost on the latest matured window, compared with the champion on the same
out-of-time test, registered in MLflow (Staging, alias `challenger`), PDF report rendered.
email_approvers: the PDF attached, through the `smtp_default` connection; retried if SMTP fails (the PDF
stays in storage either way).
approval: a human decides in Airflow (riskops_airflow.approval.ApprovalGate, recording who decided what);
Approve -> promote (Production, alias `champion`, audit tags; a mail confirms it to the approvers and the risk
team); Reject -> record_rejection (the version is
tagged rejected with the approver's reason).
Four eyes (an approval quorum above 1: RISKOPS_APPROVAL_QUORUM, or the spec's `oversight.approval_quorum`):
approval -> record_approval (the first approval in the audit trail at once) -> approval_2, asking only the
approvers who have not approved, by mail too -> ... -> promote at the last one; a Reject at any gate goes to
its record_rejection_<k> and ends it. A run still waiting RISKOPS_APPROVAL_REMINDER_HOURS (72) after it was
queued reminds the approvers once (Airflow's deadline alert).

A newer candidate supersedes a waiting one: runs do not queue behind a run that waits (up to 14 days) for
its approver. When a later run registers its candidate, the older candidate is tagged superseded in MLflow,
the older run's approval ends with the decision "Superseded" (neither promote nor record_rejection runs),
and only the newest candidate can be approved. Training itself runs one at a time per dataset.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from riskops_airflow import links
from riskops_airflow.approval import approval_chain
from riskops_airflow.assets import drift
from riskops_airflow.defaults import approval_quorum, cron_or_asset, dataset_names, invalid_specs, riskops_dag
from riskops_airflow.notify import ApprovalRequestNotifier, PromotionNotifier, reminder_deadline
from riskops_airflow.settings import approver_users
from riskops_airflow.tasks import ml_step
from riskops_airflow.templates import drift_event, mlflow_page, option, pull, train_arguments, train_params, xcom

# a drift-triggered run has no logical date: its as-of date comes with the event
AS_OF = "{{ params.as_of or drift_event(triggering_asset_events, 'as_of') or ds }}"
TRIGGER = "{{ drift_event(triggering_asset_events, 'reason') }}"
RUN_KEY = "{{ run_id }}"  # how train tells the next tasks which version it registered
VERSION = xcom("email_approvers", field="version")
MODEL = xcom("email_approvers", field="model_name")
# what the prompt says about why this candidate exists: the drift that requested it, or the monthly schedule
WHY = ("{% set why = drift_event(triggering_asset_events, 'reason') %}{% if why %}**Requested by stability "
       "monitoring (drift):** {{ why }}. {% else %}Not triggered by drift (monthly or manual retraining). {% endif %}")
MLFLOW = ("{% set url = mlflow_page(" + pull("email_approvers", field="model_name") + ", "
          + pull("email_approvers", field="version") + ") %}{% if url %}[" + MODEL + " v"
          + VERSION + " in MLflow]({{ url }}){% else %}MLflow: model `" + MODEL + "` version " + VERSION
          + ", run `" + xcom("email_approvers", field="run_id") + "`{% endif %}")

for dataset in dataset_names():
    with riskops_dag(
        f"retrain_{dataset}",
        f"Train, report and approve a new {dataset} model",
        cron_or_asset("0 3 1 * *", drift(dataset)),
        ["retrain", dataset],
        __doc__,
        user_defined_macros={"drift_event": drift_event, "mlflow_page": mlflow_page},
        deadline=reminder_deadline(dataset, "retrain"),
        # a run waiting for its approver must not hold back a newer candidate (which supersedes it)
        max_active_runs=3,
        params={
            "as_of": Param(None, type=["null", "string"], format="date",
                           description="business date; only labels matured by then are used (default: logical date)"),
            **train_params(),
        },
    ):
        train = ml_step(
            "train", ["train", "--dataset", dataset, "--as-of", AS_OF, *train_arguments(), "--run-key", RUN_KEY,
                      option("trigger", TRIGGER), option("trained-by", "{{ dag_run.triggering_user_name or '' }}")],
            # training is deterministic on its data: a retry repeats the failure
            retries=0,
            # one at a time, so candidates register in the order their runs started
            max_active_tis_per_dag=1)

        @task(task_id="email_approvers", retries=5, retry_delay=dt.timedelta(minutes=2))
        def email_approvers(dataset_name: str, run_key: str, dag_id: str) -> dict:
            from riskops_airflow.notify import send_candidate_mail

            return send_candidate_mail(dataset_name, run_key, dag_id)

        quorum = approval_quorum(dataset)

        # bound now (dataset=dataset): a closure would see the loop's last dataset if it ran later
        def record(task_id: str, answer: str, gate: str, dataset: str = dataset):
            """The step recording a gate's answer: one approval (the last one promotes), or the rejection."""
            approver = option("approver", xcom(gate, key="decision", field="by"))
            if answer == "approve":
                return ml_step(task_id, [
                    "promote", "--dataset", dataset, "--version", VERSION, approver,
                    option("note", xcom(gate, key="decision", field="reason")),
                    option("triggered-by", "{{ dag_run.triggering_user_name or '' }}")],
                    # the last approval promotes: a mail confirms it to the approvers and the risk team
                    on_success_callback=[PromotionNotifier(dataset)] if task_id == "promote" else None)
            return ml_step(task_id, [
                "reject", "--dataset", dataset, "--version", VERSION, approver,
                option("reason", xcom(gate, key="decision", field="reason", default="rejected in Airflow"))])

        approval, _ = approval_chain(
            quorum, "email_approvers", record,
            lambda k, dataset=dataset, quorum=quorum: ApprovalRequestNotifier("the promotion of {model_name} v{version}", dataset, quorum),
            approve_last="promote", reject="record_rejection",
            subject=f"Approve {xcom('email_approvers', field='model_name')} v{VERSION}?",
            body=(f"Verdict: **{xcom('email_approvers', field='verdict')}**. {WHY}"
                  f"Review it here: [the candidate report and technical file]({links.review(dataset, VERSION)}) as "
                  f"stored for this version, each SHA-256 checked beside it (report SHA-256 "
                  f"{xcom('email_approvers', field='report_sha256')}; technical file SHA-256 "
                  f"{xcom('email_approvers', field='technical_file_sha256')}; model files SHA-256 "
                  f"{xcom('email_approvers', field='model_sha256')}; also mailed to the approvers). {MLFLOW}. "
                  f"[{dataset} monitoring]({links.dataset(dataset)}).\n\n"
                  f"- **Approve**: version {VERSION} becomes the Production model (alias champion)"
                  + (f" once {quorum} distinct approvers approved it; whoever approved already is not asked again"
                     if quorum > 1 else "") + ". A reason is optional: a note for the audit trail.\n"
                  f"- **Reject**: version {VERSION} is tagged rejected and never promoted; the champion stays. "
                  "Say why in *reason*: the audit trail records it."),
            # optional (a null is allowed): asked for when rejecting, a note when approving
            params={"reason": Param(None, type=["null", "string"],
                                    description="why you reject (recorded in the audit trail; left empty: 'rejected in "
                                                "Airflow'); optional when approving: a note")},
            assigned_users=approver_users(),
            response_timeout=dt.timedelta(days=14),
            # a failure here is infrastructure (a reply is never a failure): ask once more
            retries=1,
            retry_delay=dt.timedelta(seconds=30),
        )

        # a failure anywhere leaves the leaves upstream_failed, so the run fails; a superseded approval skips
        # the rest, and the run succeeds
        train >> email_approvers(dataset, RUN_KEY, f"retrain_{dataset}") >> approval

invalid_specs("retrain")
