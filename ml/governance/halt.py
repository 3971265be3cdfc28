"""The stop switch of a dataset's model: an approver halts it with a reason, and resumes it later.

While halted (tag `riskops.halted` on the registered model, JSON: who, when, why), no version of the model
scores the dataset: scoring applies the spec's fallback policy or refuses (`ml.scoring.fallback`). Both
actions are lines of the champion history (`ml.governance.champions`); the mail to the on-call and the risk team
is composed in `ml.mails` and sent by the Airflow side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient

from ml.errors import RiskopsError
from ml.governance import champions, registry
from ml.governance.approvals import champion, check_approver
from ml.governance.champions import NONE, Event

HALTED = "halted"  # the registered model's tag while the stop switch is on


@dataclass(frozen=True)
class Halt:
    """The halt in force on a dataset's model: who, when, why, and the champion it stopped."""

    model_name: str
    by: str
    at: str
    reason: str
    version: str

    def text(self) -> str:
        return f"{self.model_name} is halted by {self.by} since {self.at}: {self.reason}"


def halted(client: MlflowClient, name: str) -> dict[str, str] | None:
    """The halt in force (by, at, reason, version, id), or None when the model may score."""
    text = registry.model_tags(client, name).get(HALTED)
    if text is None:
        return None
    try:
        state = json.loads(text)
        return {k: str(state[k]) for k in ("by", "at", "reason", "version", "id")}
    except (ValueError, TypeError, KeyError):
        # an unreadable switch is still a switch that is on: scoring stays stopped
        return {"by": "unknown", "at": "?", "reason": f"unreadable halt tag {text[:60]!r}", "version": NONE,
                "id": "unreadable"}


def halt_in_force(client: MlflowClient, name: str) -> Halt | None:
    """`halted` as a Halt (None when the model may score): what batch scoring and the decision service read."""
    state = halted(client, name)
    return None if state is None else Halt(name, state["by"], state["at"], state["reason"], state["version"])


def _report(client: MlflowClient, name: str, version: str) -> str:
    return "" if version == NONE else registry.tags(client, name, version).get("report_sha256", "")


def halt(client: MlflowClient, name: str, approver: str, reason: str, approvers: tuple[str, ...] = (),
         at: str | None = None) -> tuple[dict[str, str], bool]:
    """Halt the model; returns the halt in force and whether this call set it. Halting a halted model changes
    nothing (a retried step completes its history line); the first halt's reason stays."""
    check_approver(approver, approvers)
    if not reason.strip():
        raise RiskopsError("a halt needs a reason (--reason): it is mailed to the on-call and the risk team")
    state = halted(client, name)
    new = state is None
    if state is None:
        current = champion(client, name, consequence="it was halted all the same")
        at = at or registry.now()
        state = {"by": approver, "at": at, "reason": reason, "version": current.version if current else NONE,
                 "id": f"halted:{at}"}
        registry.set_model_tag(client, name, HALTED, json.dumps(state, sort_keys=True))
    champions.record(client, name, Event(champions.HALTED, state["version"], state["by"], state["at"],
                                         state["reason"], _report(client, name, state["version"]),
                                         state["version"], state["id"]))
    return state, new


def resume(client: MlflowClient, name: str, approver: str, reason: str, approvers: tuple[str, ...] = (),
           at: str | None = None) -> dict[str, Any]:
    """Lift the halt: the champion scores again from the next scoring run. Returns the resume's event."""
    check_approver(approver, approvers)
    if not reason.strip():
        raise RiskopsError("a resume needs a reason (--reason): it is mailed to the on-call and the risk team")
    state = halted(client, name)
    if state is None:
        raise RiskopsError(f"{name} is not halted: nothing to resume")
    current = champion(client, name, consequence="it stays halted")
    version = current.version if current else NONE
    event = Event(champions.RESUMED, version, approver, at or registry.now(), reason,
                  _report(client, name, version), state["version"], f"resumed:{state['id']}")
    champions.record(client, name, event)  # first: a switch is never off without its line in the history
    registry.delete_model_tag(client, name, HALTED)
    return {**event.__dict__, "halt": state}


def champion_line(client: MlflowClient, name: str) -> str | None:
    """The current champion's line of the history, with the stop switch's state when it is halted; None when
    nothing was ever promoted."""
    event, state = champions.current(client, name), halted(client, name)
    if event is None and state is None:
        return None
    line = event.line() if event is not None else "no champion"
    return line if state is None else f"{line}; HALTED by {state['by']} at {state['at']}: {state['reason']}"
