"""The oversight DAGs' glue: what a rollback run restores (checked before anyone is asked), in-process over
`ml.model` like the approval gate's trigger."""

from __future__ import annotations

from typing import Any, Mapping


def plan_rollback(dataset: str, params: Mapping[str, Any], requested_by: str | None, run_key: str) -> dict[str, Any]:
    """The rollback the run `run_key` asks the approvers for: the version to restore (the param, or the champion
    before the current one), the current champion, the restored version's report hash and its champion-history
    line; kept in storage for the run's reminder. Refused here, before any mail, when it could never be
    approved (no earlier champion, a rejected version, a blank reason)."""
    from mlflow import MlflowClient

    from ml import contracts, layout
    from ml.config import Settings, configure_mlflow
    from ml.governance import approvals, champions, registry
    from ml.governance.requests import RollbackPlan
    from riskops_airflow.stores import storage

    reason = str(params.get("reason") or "")
    if not reason.strip():
        raise ValueError("a rollback needs a reason (param `reason`): it goes to the approvers and into the champion "
                         "history")
    configure_mlflow(Settings.from_env())
    client, name = MlflowClient(), registry.model_name(dataset)
    # the param is user input: refused here as not a version, rather than by MLflow
    named = layout.model_version(str(params["version"])) if params.get("version") else None
    target, champion = approvals.rollback_target(client, name, named)
    made = [e for e in champions.history(client, name) if e.version == target and e.action in champions.CHANGES]
    plan = RollbackPlan(dataset=dataset, model_name=name, version=target, champion=champion,
                        report_sha256=registry.tags(client, name, target)["report_sha256"],
                        line=made[-1].line() if made else None, requested_by=requested_by or "unknown", reason=reason)
    contracts.write(storage(), layout.rollback_run(dataset, run_key), plan)
    return plan.model_dump()
