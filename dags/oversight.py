"""Human oversight, three manual DAGs per dataset: roll back to an earlier champion, halt the model, resume it.

rollback_<dataset>: params `reason` (required) and `version` (default: the champion before the current one).
plan checks that the version may be restored (an earlier champion, never rejected) before anyone is asked;
email_approvers mails the request; then the same approval gates as a promotion (the approval quorum,
separation of duties: whoever triggered the run may not approve it) -> rollback at the last approval (the
version is the champion again from the next scoring run; the champion history records who, when and why),
or a Reject at any gate -> record_decline (the request is closed, both versions stay as they were).

halt_<dataset> (param `reason`): halt records the stop switch, by whoever triggered the run, who must be one
of the approvers (RISKOPS_APPROVER_USERS; anyone else's run fails and nothing is halted): while halted,
scoring applies the spec's fallback policy or refuses. notify mails the on-call and the risk team once.
resume_<dataset> (param `reason`): the same, lifting the halt.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from riskops_airflow.approval import approval_chain
from riskops_airflow.defaults import approval_quorum, dataset_names, invalid_specs, riskops_dag
from riskops_airflow.notify import ApprovalRequestNotifier, reminder_deadline
from riskops_airflow.settings import approver_users
from riskops_airflow.tasks import ml_step
from riskops_airflow.templates import option, xcom

WHO = "{{ dag_run.triggering_user_name or '' }}"
REASON = "{{ params.reason }}"
TARGET = xcom("plan", field="version")


def _reason_param(what: str) -> Param:
    return Param("", type="string", minLength=1, maxLength=2000,
                 description=f"why {what} (mailed, and recorded in the champion history)")


for dataset in dataset_names():
    with riskops_dag(
        f"rollback_{dataset}",
        f"Re-promote an earlier {dataset} champion, after the approval quorum",
        None,
        ["oversight", dataset],
        __doc__,
        deadline=reminder_deadline(dataset, "rollback"),
        params={"reason": _reason_param("roll back"),
                "version": Param(None, type=["null", "string"],
                                 description="the earlier champion to restore (default: the one before the current)")},
    ):
        quorum = approval_quorum(dataset)

        @task(task_id="plan")
        def plan(dataset_name: str, **context) -> dict:
            from riskops_airflow.oversight import plan_rollback

            return plan_rollback(dataset_name, context["params"], context["dag_run"].triggering_user_name,
                                 context["run_id"])

        @task(task_id="email_approvers", retries=5, retry_delay=dt.timedelta(minutes=2))
        def email_approvers(dataset_name: str, planned: dict, quorum: int) -> str:
            from riskops_airflow.notify import send_rollback_request

            return send_rollback_request(dataset_name, planned, planned["requested_by"], planned["reason"], quorum)

        # bound now (dataset=dataset): a closure would see the loop's last dataset if it ran later
        def record(task_id: str, answer: str, gate: str, dataset: str = dataset):
            """The step recording a gate's answer: one approval of the rollback (the last one carries it out), or
            the decline."""
            common = ["rollback", "--dataset", dataset, "--version", TARGET,
                      option("approver", xcom(gate, key="decision", field="by"))]
            if answer == "approve":
                return ml_step(task_id, [*common, option("reason", REASON),
                                         option("note", xcom(gate, key="decision", field="reason")),
                                         option("requested-by", WHO)])
            # a decline records the decliner's own reason (as a rejected candidate does), not the request's
            return ml_step(task_id, [*common, "--decline", option("reason", xcom(
                gate, key="decision", field="reason", default="declined in Airflow"))])

        planned = plan(dataset)
        first, _ = approval_chain(
            quorum, "plan", record,
            lambda k, dataset=dataset, quorum=quorum: ApprovalRequestNotifier("the rollback of {model_name} to v{version}", dataset, quorum),
            approve_last="rollback", reject="record_decline",
            subject=f"Roll {xcom('plan', field='model_name')} back to v{TARGET}?",
            body=(f"{xcom('plan', field='requested_by')} asks to restore version {TARGET} (champion now: "
                  f"v{xcom('plan', field='champion')}): {xcom('plan', field='reason')}. Its report SHA-256 is "
                  f"{xcom('plan', field='report_sha256')}. Approve to make it the champion again"
                  + (f" ({quorum} distinct approvers must approve)" if quorum > 1 else "")
                  + "; Reject declines the rollback and changes nothing."),
            params={"reason": Param(None, type=["null", "string"],
                                    description="your note, optional (recorded in the audit trail)")},
            assigned_users=approver_users(),
            response_timeout=dt.timedelta(days=14),
            retries=1,
            retry_delay=dt.timedelta(seconds=30),
        )
        planned >> email_approvers(dataset, planned, quorum) >> first

    for action, verb in (("halt", "Halt"), ("resume", "Resume")):
        with riskops_dag(
            f"{action}_{dataset}",
            f"{verb} the {dataset} model (the stop switch), by an approver",
            None,
            ["oversight", dataset],
            __doc__,
            params={"reason": _reason_param(f"{action} the model")},
        ):
            switched = ml_step(action, [action, "--dataset", dataset, option("approver", WHO),
                                        option("reason", REASON)])

            @task(task_id="notify", retries=5, retry_delay=dt.timedelta(minutes=2))
            def notify(dataset_name: str) -> list:
                from riskops_airflow.notify import send_oversight_notices

                return send_oversight_notices(dataset_name)

            switched >> notify(dataset)

invalid_specs("oversight")
