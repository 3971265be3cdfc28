"""The approval gate: Airflow's ApprovalOperator, recording who decided what for the audit trail."""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator


class RecordedApprovalOperator(ApprovalOperator):
    """ApprovalOperator that pushes the decision as XCom `decision` on Approve *and* Reject.

    The stock operator skips its downstream tasks on Reject by raising, so it returns nothing then; the
    rejection task still needs the approver's name and reason.
    """

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            user = event.get("responded_by_user") or {}
            context["ti"].xcom_push(key="decision", value={
                "option": event["chosen_options"][0],
                "by": user.get("name") or user.get("id") or "unknown",
                "reason": (event.get("params_input") or {}).get("reason") or "",
                "at": str(event.get("responded_at")),
            })
        return super().execute_complete(context, event)
