"""The approval gate: a human decides in Airflow; a newer candidate closes an older one's wait as superseded.

Only the configured approvers may answer (RISKOPS_APPROVER_USERS, Airflow's `assigned_users`); with
RISKOPS_SEPARATE_DUTIES=on, whoever triggered the run is taken off that list for this run.

Four eyes: Airflow's HITL operators take one answer per task, so a quorum of N distinct approvers is a chain of
N gates (`approval_chain`): `approval` -> `record_approval` (records the first approval in the audit trail at
once) -> `approval_2`, which asks only the approvers who have not approved yet (as the version's audit trail
in MLflow records them), with a mail to them (the gate's HITL `notifiers`) -> ... -> `promote`, which records the
last approval and promotes. A rejection at any gate goes to its own `record_rejection[_k]` and ends it.

`ApprovalGate` is Airflow's HITLBranchOperator with the options Approve (-> promote) and Reject
(-> record_rejection). Its request is written by HITLOperator.execute; instead of parking in `awaiting_input`
(where only an answer or the timeout could end the wait), it defers to `CandidateApprovalTrigger`, which runs
Airflow's own HITLTrigger wait for the human's answer and meanwhile watches the candidate in the MLflow
registry: once a newer candidate of the same model has superseded it (ml.governance.approvals.supersede_waiting,
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
from collections.abc import AsyncIterator, Callable, Sequence
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
        from ml.governance import registry

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
    """Approve -> `approve_task_id`, Reject -> `reject_task_id`, superseded -> neither; pushes XCom `decision`.
    `earlier_gates` are the gates of the same quorum answered before this one: whoever approved there is not
    asked here."""

    def __init__(self, *, candidate_task_id: str, approve_task_id: str, reject_task_id: str,
                 earlier_gates: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(options=["Approve", "Reject"], multiple=False,
                         options_mapping={"Approve": approve_task_id, "Reject": reject_task_id}, **kwargs)
        self.candidate_task_id = candidate_task_id
        self.earlier_gates = list(earlier_gates)

    def _respondents(self, triggered_by: str | None, approved: Sequence[str]) -> list[dict[str, str]] | None:
        from ml.config import Settings

        separate = Settings.from_env().separate_duties
        if not (separate or approved):
            return self.assigned_users
        if not self.assigned_users:
            raise ValueError("RISKOPS_SEPARATE_DUTIES=on and an approval quorum above 1 need RISKOPS_APPROVER_USERS: "
                             "who may answer, less whoever triggered the run or approved already")
        taken = self._taken(triggered_by, approved)
        others = [u for u in self.assigned_users if not taken & {u["id"], u["name"]}]
        if not others:
            raise ValueError(f"no approver left for this run: RISKOPS_APPROVER_USERS has no one who did not approve "
                             f"already ({', '.join(approved) or 'nobody'}) or trigger it ({triggered_by}) "
                             "(separation of duties, four eyes)")
        return others

    @staticmethod
    def _taken(triggered_by: str | None, approved: Sequence[str]) -> set[str]:
        """Who may not answer this gate: whoever approved already, and (separation of duties) who triggered."""
        from ml.config import Settings

        return {*approved, *([triggered_by] if Settings.from_env().separate_duties and triggered_by else [])}

    def approved(self, ti: Any) -> list[str]:
        """Who approved so far, at the earlier gates of this quorum: as the version's audit trail in MLflow
        records them (each gate's approval is recorded before the next gate asks), which is also what the
        steps count."""
        if not self.earlier_gates:
            return []
        from mlflow import MlflowClient

        from ml.config import Settings, configure_mlflow
        from ml.governance.approvals import approved_so_far
        from ml.governance.requests import subject

        candidate = subject(ti.xcom_pull(task_ids=self.candidate_task_id))
        configure_mlflow(Settings.from_env())
        return approved_so_far(MlflowClient(), candidate.model_name, candidate.version)

    def execute(self, context: Any) -> None:
        from airflow.sdk.exceptions import TaskAwaitingInput
        from airflow.sdk.timezone import utcnow

        from ml.governance.requests import subject

        ti = context["task_instance"]
        candidate = subject(ti.xcom_pull(task_ids=self.candidate_task_id))
        # this run's respondents (separation of duties, four eyes); HITLOperator.execute writes them into the
        # request and calls the notifiers
        self.assigned_users = self._respondents(getattr(context["dag_run"], "triggering_user_name", None),
                                                self.approved(ti))
        self.body = with_respondents(self.body, self.assigned_users)
        timeout_at = utcnow() + self.response_timeout if self.response_timeout else None
        try:
            super().execute(context)
        except TaskAwaitingInput:
            pass  # the request is written; the wait is deferred instead, so that a supersession can end it
        self.log.info("Waiting for a decision on %s v%s", candidate.model_name, candidate.version)
        self.defer(trigger=CandidateApprovalTrigger(
            ti_id=ti.id, options=self.options, defaults=self.defaults, params=self.serialized_params,
            multiple=self.multiple, timeout_datetime=timeout_at, model_name=candidate.model_name,
            version=candidate.version, check_interval=settings.supersede_check_seconds()),
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
            # Airflow keeps the respondents of a task's first request when its run is cleared (one HITL
            # detail per task instance, its response reset, its assignees not), so check the answer again
            who = {str(user.get("id")), str(user.get("name"))} & self._taken(
                getattr(context["dag_run"], "triggering_user_name", None), self.approved(ti))
            if who:
                raise ValueError(f"{', '.join(sorted(who))} may not answer this approval (approved already, or "
                                 "triggered the run under separation of duties); Airflow kept the respondents of "
                                 "this task's first request because its run was cleared: decide in a new run "
                                 "(another logical date) instead of clearing this one")
            ti.xcom_push(key="decision", value={
                "option": event["chosen_options"][0],
                "by": user.get("name") or user.get("id") or "unknown",
                "reason": (event.get("params_input") or {}).get("reason") or "",
                "at": str(event.get("responded_at")),
            })
        return super().execute_complete(context, event)


def with_respondents(body: str | None, users: Sequence[dict[str, str]] | None) -> str:
    """The prompt's body and who may answer it: Airflow refuses anyone else only when they submit."""
    if not users:
        return f"{body or ''}\n\n**Who may answer**: anyone who may open this DAG's runs.".lstrip()
    names = ", ".join(u.get("name") or u["id"] for u in users)
    return (f"{body or ''}\n\n**Who may answer**: {names} (the assigned approvers); Airflow refuses the answer of "
            "anyone else when they submit it.").lstrip()


def gate_ids(quorum: int, approve_last: str, reject: str) -> list[tuple[str, str, str]]:
    """(gate, approve, reject) task ids of a quorum's chain: `approval`, `approval_2`, ...; every approval but
    the last goes to `record_approval[_k]`, the last to `approve_last`; the rejections to `reject[_k]`."""
    def nth(name: str, k: int) -> str:
        return name if k == 1 else f"{name}_{k}"

    return [(nth("approval", k), approve_last if k == quorum else nth("record_approval", k), nth(reject, k))
            for k in range(1, quorum + 1)]


def approval_chain(quorum: int, candidate_task_id: str, step: Callable[[str, str, str], Any],
                   notifier: Callable[[int], Any], approve_last: str, reject: str, **gate: Any) -> tuple[Any, list[Any]]:
    """The gates of a quorum of `quorum` distinct approvers and the steps after them; returns (the first gate,
    the leaves). `step(task_id, "approve" | "reject", gate_id)` makes the step recording a gate's answer;
    `notifier(k)` the notifiers of gate k (the first gate's request went out with the candidate's mail)."""
    ids = gate_ids(quorum, approve_last, reject)
    first, previous, leaves = None, None, []
    for k, (gate_id, approve_id, reject_id) in enumerate(ids, start=1):
        g = ApprovalGate(task_id=gate_id, candidate_task_id=candidate_task_id, approve_task_id=approve_id,
                         reject_task_id=reject_id, earlier_gates=[i[0] for i in ids[:k - 1]],
                         notifiers=notifier(k) if k > 1 else None, **gate)
        approve, rejected = step(approve_id, "approve", gate_id), step(reject_id, "reject", gate_id)
        g >> [approve, rejected]
        if previous is not None:
            previous >> g
        first = first or g
        previous = approve
        leaves.append(rejected)
    return first, [*leaves, previous]
