"""The approval gate: a human decides in Airflow; a newer candidate closes an older one's wait as superseded.

Only the configured approvers may answer (RISKOPS_APPROVER_USERS, Airflow's `assigned_users`); with
RISKOPS_SEPARATE_DUTIES=on, whoever triggered the run is taken off that list for this run.

`ApprovalGate` is Airflow's HITLBranchOperator with the options Approve (-> promote) and Reject
(-> record_rejection). Its request is written by HITLOperator.execute; instead of parking in `awaiting_input`
(where only an answer or the timeout could end the wait), it defers to `CandidateApprovalTrigger`, which runs
Airflow's own HITLTrigger wait for the human's answer and meanwhile watches the candidate in the MLflow
registry: once a newer candidate of the same model has superseded it (ml.model.decisions.supersede_waiting,
run when the newer one is registered), the wait ends with the decision "Superseded", both branches are
skipped and the run succeeds. The decision (who, what, why) is pushed as XCom `decision` in every case.

Only public API of the standard provider is used (HITLOperator.execute and execute_complete, HITLTrigger's
constructor, serialize and run, BaseOperator.defer); tests/dags/test_approval_api.py fails when any of their
signatures, or the provider version pinned in requirements.in, changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
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

    async def _superseded_now(self) -> dict[str, str] | None:
        from asgiref.sync import sync_to_async

        try:
            return await sync_to_async(self._superseded)()
        except Exception as exc:  # MLflow unreachable: keep waiting for the human, ask again later
            self.log.warning("cannot read %s v%s from MLflow: %s", self.model_name, self.version, exc)
            return None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Airflow's own wait (the human's answer, or the timeout's default) runs beside the supersession check
        human = super().run()
        answer: asyncio.Future[TriggerEvent] = asyncio.ensure_future(anext(human))
        try:
            while True:
                tags = await self._superseded_now()
                if tags and not answer.done():
                    # a human's answer wins over a supersession seen later: let HITLTrigger look once more
                    await asyncio.wait({answer}, timeout=self.poke_interval + 1)
                if answer.done():
                    yield answer.result()
                    return
                if tags:
                    yield TriggerEvent({"superseded_by": tags.get("superseded_by", "?"),
                                        "superseded_at": tags.get("superseded_at", "")})
                    return
                await asyncio.wait({answer}, timeout=self.check_interval)
        finally:
            if not answer.done():
                answer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await answer
            await human.aclose()


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
        from airflow.sdk.exceptions import TaskAwaitingInput
        from airflow.sdk.timezone import utcnow

        ti = context["task_instance"]
        candidate = ti.xcom_pull(task_ids=self.candidate_task_id)
        # this run's respondents (separation of duties); HITLOperator.execute writes them into the request
        self.assigned_users = self._respondents(getattr(context["dag_run"], "triggering_user_name", None))
        timeout_at = utcnow() + self.response_timeout if self.response_timeout else None
        try:
            super().execute(context)
        except TaskAwaitingInput:
            pass  # the request is written; the wait is deferred instead, so that a supersession can end it
        self.log.info("Waiting for a decision on %s v%s", candidate["model_name"], candidate["version"])
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
