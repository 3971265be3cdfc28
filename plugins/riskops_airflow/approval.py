"""The approval gate: a human decides in Airflow; a newer candidate closes an older one's wait as superseded.

Only the configured approvers may answer (RISKOPS_APPROVER_USERS, Airflow's `assigned_users`); with
RISKOPS_SEPARATE_DUTIES=on, whoever triggered the run is taken off that list for this run.

`ApprovalGate` is Airflow's HITLBranchOperator with the options Approve (-> promote) and Reject
(-> record_rejection). Instead of parking in `awaiting_input`, it defers to `CandidateApprovalTrigger`,
which waits for the human's answer like Airflow's own HITLTrigger and also watches the candidate in the
MLflow registry: once a newer candidate of the same model has superseded it (ml.model.decisions.supersede_waiting,
run when the newer one is registered), the wait ends with the decision "Superseded", both branches are
skipped and the run succeeds. The decision (who, what, why) is pushed as XCom `decision` in every case.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.providers.standard.triggers.hitl import HITLTrigger
from airflow.triggers.base import TriggerEvent

from riskops_airflow import settings

SUPERSEDED = "Superseded"


class CandidateApprovalTrigger(HITLTrigger):
    """HITLTrigger that also ends the wait when the candidate (model name, version) has been superseded."""

    def __init__(self, *, model_name: str, version: str, check_interval: float = 60.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_name, self.version, self.check_interval = model_name, str(version), float(check_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return (f"{__name__}.CandidateApprovalTrigger",
                {**kwargs, "model_name": self.model_name, "version": self.version,
                 "check_interval": self.check_interval})

    def _superseded(self) -> dict[str, str] | None:
        from mlflow import MlflowClient

        from ml.config import Settings, configure_mlflow
        from ml.model import registry

        configure_mlflow(Settings.from_env())
        tags = registry.tags(MlflowClient(), self.model_name, self.version)
        return tags if tags.get("status") == "superseded" else None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk.timezone import utcnow
        from asgiref.sync import sync_to_async

        next_check = 0.0
        while True:
            if self.timeout_datetime and self.timeout_datetime < utcnow():
                yield await self._handle_timeout()
                return
            event = await self._handle_response()  # a human's answer wins over a supersession seen later
            if event:
                yield event
                return
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.check_interval
                try:
                    tags = await sync_to_async(self._superseded)()
                except Exception as exc:  # MLflow unreachable: keep waiting for the human, ask again later
                    self.log.warning("cannot read %s v%s from MLflow: %s", self.model_name, self.version, exc)
                    tags = None
                if tags:
                    yield TriggerEvent({"superseded_by": tags.get("superseded_by", "?"),
                                        "superseded_at": tags.get("superseded_at", "")})
                    return
            await asyncio.sleep(self.poke_interval)


class ApprovalGate(HITLBranchOperator):
    """Approve -> `promote`, Reject -> `record_rejection`, superseded -> neither; pushes XCom `decision`."""

    def __init__(self, *, candidate_task_id: str, approve_task_id: str, reject_task_id: str, **kwargs: Any) -> None:
        super().__init__(options=["Approve", "Reject"], multiple=False,
                         options_mapping={"Approve": approve_task_id, "Reject": reject_task_id}, **kwargs)
        self.candidate_task_id = candidate_task_id

    def _respondents(self, triggered_by: str | None) -> list[dict[str, str]] | None:
        from ml.config import Settings

        if not Settings.from_env().separate_duties:
            return self.assigned_users
        if not self.assigned_users:
            raise ValueError("RISKOPS_SEPARATE_DUTIES=on needs RISKOPS_APPROVER_USERS: the approvers other than "
                             "whoever triggered the run")
        others = [u for u in self.assigned_users if triggered_by not in (u["id"], u["name"])]
        if not others:
            raise ValueError(f"no approver left for this run: {triggered_by} triggered it and is the only one in "
                             "RISKOPS_APPROVER_USERS (separation of duties)")
        return others

    def execute(self, context: Any) -> None:
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail
        from airflow.sdk.timezone import utcnow

        ti = context["task_instance"]
        candidate = ti.xcom_pull(task_ids=self.candidate_task_id)
        respondents = self._respondents(getattr(context["dag_run"], "triggering_user_name", None))
        upsert_hitl_detail(ti_id=ti.id, options=self.options, subject=self.subject, body=self.body,
                           defaults=self.defaults, multiple=self.multiple, params=self.serialized_params,
                           assigned_users=respondents)
        timeout_at = utcnow() + self.response_timeout if self.response_timeout else None
        self.log.info("Waiting for a decision on %s v%s", candidate["model_name"], candidate["version"])
        # deferred (not parked in awaiting_input) so the trigger can also notice a supersession
        self.defer(trigger=CandidateApprovalTrigger(
            ti_id=ti.id, options=self.options, defaults=self.defaults, params=self.serialized_params,
            multiple=self.multiple, timeout_datetime=timeout_at, model_name=candidate["model_name"],
            version=str(candidate["version"]), check_interval=settings.supersede_check_seconds()),
            method_name="execute_complete")

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        ti = context["ti"]
        if "superseded_by" in event:
            reason = f"superseded by version {event['superseded_by']} at {event['superseded_at']}"
            self.log.info("Closing this approval: the candidate was %s", reason)
            ti.xcom_push(key="decision", value={"option": SUPERSEDED, "by": "riskops", "reason": reason,
                                                "at": dt.datetime.now(dt.timezone.utc).isoformat()})
            return self.do_branch(context, [])  # neither promote nor record_rejection
        if "error" not in event:
            user = event.get("responded_by_user") or {}
            ti.xcom_push(key="decision", value={
                "option": event["chosen_options"][0],
                "by": user.get("name") or user.get("id") or "unknown",
                "reason": (event.get("params_input") or {}).get("reason") or "",
                "at": str(event.get("responded_at")),
            })
        return super().execute_complete(context, event)
