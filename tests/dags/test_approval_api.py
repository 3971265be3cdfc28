"""The approval gate (riskops_airflow.approval) builds on the standard provider's Human-in-the-loop operator and
trigger through their public methods. This pins what it relies on: the provider version in requirements.in,
the signature of every method it calls or overrides, and that HITLOperator.execute writes the request and then
parks the task (which the gate turns into a deferral). When an upgrade changes any of it, this fails first:
read the new provider's operators/hitl.py and triggers/hitl.py, adapt the gate, then update these lines."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import inspect
import re
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SIGNATURES = {
    "HITLOperator.__init__": "(self, *, subject: 'str', options: 'list[str]', body: 'str | None' = None, "
                             "defaults: 'str | list[str] | None' = None, multiple: 'bool' = False, "
                             "params: 'ParamsDict | dict[str, Any] | None' = None, "
                             "notifiers: 'Sequence[BaseNotifier] | BaseNotifier | None' = None, "
                             "assigned_users: 'HITLUser | list[HITLUser] | None' = None, "
                             "response_timeout: 'timedelta | None' = None, **kwargs) -> 'None'",
    "HITLOperator.execute": "(self, context: 'Context')",
    "HITLBranchOperator.__init__": "(self, *, options_mapping: 'dict[str, str] | None' = None, **kwargs) -> 'None'",
    "HITLBranchOperator.execute_complete": "(self, context: 'Context', event: 'dict[str, Any]') -> 'Any'",
    "HITLBranchOperator.do_branch": "(self, context: 'Context', branches_to_execute: 'str | Iterable[str] | None')"
                                    " -> 'str | Iterable[str] | None'",
    "HITLTrigger.__init__": "(self, *, ti_id: 'UUID', options: 'list[str]', params: 'dict[str, dict[str, Any]]', "
                            "defaults: 'list[str] | None' = None, multiple: 'bool' = False, "
                            "timeout_datetime: 'datetime | None', poke_interval: 'float' = 5.0, **kwargs)",
    "HITLTrigger.serialize": "(self) -> 'tuple[str, dict[str, Any]]'",
    "HITLTrigger.run": "(self) -> 'AsyncIterator[TriggerEvent]'",
    "BaseOperator.defer": "(self, *, trigger: 'BaseTrigger', method_name: 'str', kwargs: 'dict[str, Any] | None' = "
                          "None, timeout: 'timedelta | int | float | None' = None) -> 'NoReturn'",
}


def _upstream() -> dict[str, object]:
    from airflow.providers.standard.operators.hitl import HITLBranchOperator, HITLOperator
    from airflow.providers.standard.triggers.hitl import HITLTrigger
    from airflow.sdk import BaseOperator

    return {"HITLOperator": HITLOperator, "HITLBranchOperator": HITLBranchOperator, "HITLTrigger": HITLTrigger,
            "BaseOperator": BaseOperator}


def test_the_provider_version_is_the_one_pinned():
    (pin,) = re.findall(r"^apache-airflow-providers-standard==([0-9.]+)\.\*", (REPO / "requirements" / "airflow.in").read_text(),
                        re.MULTILINE)
    assert importlib.metadata.version("apache-airflow-providers-standard").startswith(pin + ".")


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_what_the_gate_calls_or_overrides_keeps_its_signature(name: str):
    owner, method = name.split(".")
    assert str(inspect.signature(getattr(_upstream()[owner], method))) == SIGNATURES[name]


def test_hitl_execute_writes_the_request_then_parks_and_the_trigger_waits_as_an_async_generator():
    from airflow.providers.standard.operators.hitl import HITLOperator
    from airflow.providers.standard.triggers.hitl import HITLTrigger
    from airflow.sdk.exceptions import TaskAwaitingInput

    source = inspect.getsource(HITLOperator.execute)
    assert source.index("upsert_hitl_detail(") < source.index(f"raise {TaskAwaitingInput.__name__}(")
    assert inspect.isasyncgenfunction(HITLTrigger.run)
    assert isinstance(inspect.getattr_static(HITLOperator, "serialized_params"), property)


def test_the_trigger_serializes_to_what_rebuilds_it():
    from riskops_airflow.approval import CandidateApprovalTrigger

    trigger = CandidateApprovalTrigger(
        ti_id=uuid.uuid4(), options=["Approve", "Reject"], defaults=None, multiple=False,
        params={"reason": {"value": "", "schema": {"type": "string"}, "description": "why"}},
        timeout_datetime=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc), model_name="riskops-x", version="7",
        check_interval=5)
    path, kwargs = trigger.serialize()
    assert path == "riskops_airflow.approval.CandidateApprovalTrigger"
    assert {"model_name": "riskops-x", "version": "7", "check_interval": 5.0}.items() <= kwargs.items()
    # the triggerer rebuilds it from these (HITLTrigger pops the params' values as it reads them)
    assert CandidateApprovalTrigger(**{**kwargs, "params": {k: dict(v) for k, v in kwargs["params"].items()}}
                                    ).serialize() == (path, kwargs)


def test_an_answer_by_someone_the_gate_may_not_ask_is_refused(monkeypatch):
    """Airflow keeps a HITL task's first respondents when its run is cleared (upsert_hitl_detail resets only the
    response), so the gate checks the answer itself: who triggered the run, under separation of duties."""
    from types import SimpleNamespace

    from riskops_airflow.approval import ApprovalGate

    monkeypatch.setenv("RISKOPS_SEPARATE_DUTIES", "on")
    gate = ApprovalGate(task_id="approval", candidate_task_id="email_approvers", approve_task_id="promote",
                        reject_task_id="record_rejection", subject="Approve?")
    pushed = []
    context = {"ti": SimpleNamespace(xcom_push=lambda **kw: pushed.append(kw)),
               "dag_run": SimpleNamespace(triggering_user_name="Ada")}
    event = {"chosen_options": ["Approve"], "params_input": {"reason": ""}, "responded_at": dt.datetime.now(),
             "responded_by_user": {"id": "Ada", "name": "Ada"}}
    with pytest.raises(ValueError, match="Ada may not answer this approval .* decide in a new run"):
        gate.execute_complete(context, event)
    assert pushed == []  # no decision recorded


def test_the_prompt_states_the_options_asks_a_reason_only_to_reject_and_names_who_may_answer(monkeypatch):
    """Airflow's form requires every param whose schema does not allow null: the reason must allow it."""
    from airflow.sdk.definitions.param import Param

    from riskops_airflow.approval import with_respondents
    from tests.helpers import load_dag

    monkeypatch.setenv("RISKOPS_APPROVER_USERS", "risk-approver,credit-officer")
    gate = load_dag("retrain.py", "retrain_card_transactions").get_task("approval")
    reason = gate.params.get_param("reason")
    assert isinstance(reason, Param) and "null" in reason.schema["type"] and reason.value is None
    reason.resolve(None)  # an Approve without a reason validates
    assert "- **Approve**: version " in gate.body and "A reason is optional" in gate.body
    assert "- **Reject**: version " in gate.body and "Say why in *reason*" in gate.body
    assert "give a reason when rejecting" not in gate.body
    assert [u["id"] for u in gate.assigned_users] == ["risk-approver", "credit-officer"]
    body = with_respondents("Verdict: **recommended**.", gate.assigned_users)
    assert body == ("Verdict: **recommended**.\n\n**Who may answer**: risk-approver, credit-officer (the assigned "
                    "approvers); Airflow refuses the answer of anyone else when they submit it.")
    assert with_respondents(None, None) == "**Who may answer**: anyone who may open this DAG's runs."

