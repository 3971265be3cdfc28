"""What an approval run still waits for: the retrain run's candidate, or the rollback run's open request, with the
approvals given so far; nothing once it was decided (the deadline's reminder asks this)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlflow import MlflowClient

from ml import contracts, layout
from ml.governance import approvals, registry
from ml.governance.candidate import read_pointer
from ml.governance.requests import RollbackPlan
from ml.storage import Storage


@dataclass(frozen=True)
class Waiting:
    """A decision waiting for approvers: what it is, and who has approved it so far."""

    what: str
    approved_by: list[str]


def retrain(storage: Storage, client: MlflowClient, dataset: str, run_id: str) -> Waiting | None:
    """The candidate the retrain run `run_id` registered, while it waits; None before (still training) and after."""
    pointer = layout.retrain_run(dataset, run_id)
    if not storage.exists(pointer):
        return None  # still training: nothing waits for an approver yet
    name, version = registry.model_name(dataset), read_pointer(storage, dataset, run_id).version
    tags = registry.tags(client, name, version)
    if tags.get("status") != "candidate":
        return None
    given = approvals.counted(registry.audit_trail(client, name, version), tags)
    return Waiting(f"the promotion of {name} v{version}", [str(e["by"]) for e in given])


def rollback(storage: Storage, client: MlflowClient, dataset: str, run_id: str) -> Waiting | None:
    """The rollback the run `run_id` asks for, while it waits; None when refused at its plan, done, declined or
    replaced by another request."""
    pointer = layout.rollback_run(dataset, run_id)
    if not storage.exists(pointer):
        return None  # refused at its plan: nothing waits
    plan = contracts.read(storage, pointer, RollbackPlan)
    name, version = registry.model_name(dataset), plan.version
    tags = registry.tags(client, name, version)
    current = approvals.champion(client, name)
    if current is not None and current.version == version:
        return None  # rolled back already
    # approvals count once the first one opened the request; before that, none
    request = json.loads(tags["rollback_request"]) if "rollback_request" in tags else None
    if request is not None and request.get("from") != plan.champion:
        return None  # declined, or another request since
    given = [] if request is None else approvals.counted(registry.audit_trail(client, name, version), tags,
                                                         "rollback approved", request["id"])
    return Waiting(f"the rollback of {name} to v{version}", [str(e["by"]) for e in given])
