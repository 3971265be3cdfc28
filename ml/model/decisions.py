"""Decisions on registered versions: which version may score, promotion, rejection and supersession.

Only a version that riskops trained and registered with its report (tag `riskops.report_sha256`), that was
never rejected or superseded, and whose promotion is recorded ever scores. Approvers may also promote
directly in MLflow (stage Production or alias `champion`): such a change is checked the next time the
champion is resolved; a version that may not score is refused with a message naming it and why, and
either way the change is written into the version's audit trail with what is known about who made it.

Every decision appends an entry to the version's audit trail (`riskops.decision.N`, JSON); the summary tags
(`approved_by`, `rejected_by`, ...) keep the first decision and are never overwritten.

A promotion first records its intent (`riskops.promotion_pending`) and removes it only once stage, alias
and audit are written and read back; a promotion interrupted half-way (MLflow answering 503) is completed
by running it again, and until then nothing scores with either version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient

from ml.errors import RiskopsError
from ml.model import registry
from ml.model.registry import CHALLENGER, CHAMPION, now
from ml.versions import version_key

UNKNOWN_WHO = "unknown (set directly in MLflow, which does not record who sets a stage or an alias)"


@dataclass(frozen=True)
class Champion:
    version: str
    run_id: str
    source: str  # "alias+stage", "alias", "stage": which pointers named it


def refusal(tags: dict[str, str]) -> str | None:
    """Why a version with these riskops tags (prefix removed) may not score; None when it may."""
    if "report_sha256" not in tags:
        return "it was not trained and registered by riskops with a report, so nobody reviewed it"
    if tags.get("status") == "rejected" or "rejected_by" in tags:
        return (f"it was rejected by {tags.get('rejected_by', 'unknown')} at {tags.get('rejected_at', '?')}: "
                f"{tags.get('rejected_reason', 'no reason given')}")
    if tags.get("status") == "superseded":
        return f"it was superseded by version {tags.get('superseded_by')} before anyone approved it"
    return None


def _pointers(client: MlflowClient, name: str) -> tuple[Any, str] | None:
    """The version the champion pointers name, and which pointers: the newer human decision wins when
    alias and stage disagree (the pointer that differs from riskops' last recorded promotion)."""
    by_alias = registry.alias_version(client, name, CHAMPION)
    by_stage = registry.production_version(client, name)
    if by_alias is None and by_stage is None:
        return None
    if by_alias is not None and by_stage is not None and str(by_alias.version) == str(by_stage.version):
        return by_alias, "alias+stage"
    if by_alias is None or by_stage is None:
        return (by_alias, "alias") if by_alias is not None else (by_stage, "stage")
    alias_at = by_alias.tags.get(registry.TAG + "promoted_at")
    stage_at = by_stage.tags.get(registry.TAG + "promoted_at")
    stage_is_ours = stage_at is not None and (alias_at is None or stage_at > alias_at)
    return (by_alias, "alias") if stage_is_ours else (by_stage, "stage")


def _pending(name: str, version: str, tags: dict[str, str], consequence: str = "nothing was scored") -> None:
    if "promotion_pending" in tags:
        intent = json.loads(tags["promotion_pending"])
        raise RiskopsError(
            f"the promotion of {name} version {version} by {intent['approver']} ({intent['at']}) did not finish "
            f"(MLflow failed half-way); {consequence}. Run it again to complete it: python -m ml promote "
            f"--dataset {name.removeprefix('riskops-')} --version {version} --approver=\"{intent['approver']}\"")


def resolve_champion(client: MlflowClient, name: str, sync: bool = True,
                     consequence: str = "nothing was scored") -> Champion | None:
    """The version that scores; None when nothing was ever promoted. A champion set directly in MLflow is
    checked (refused with a clear error ending in `consequence` when it may not score) and, with `sync`,
    recorded in its audit trail and its other pointer brought in step."""
    found = _pointers(client, name)
    if found is None:
        return None
    mv, source = found
    version = str(mv.version)
    tags = registry.tags(client, name, version)
    _pending(name, version, tags, consequence)
    where = {"alias": "alias champion", "stage": "stage Production", "alias+stage": "alias champion and stage "
             "Production"}[source]
    problem = refusal(tags)
    if problem:
        if sync:
            registry.append_decision(client, name, version, {
                "action": "refused as champion", "what": f"{where} set directly in MLflow", "reason": problem,
                "by": UNKNOWN_WHO, "at": now(), "id": f"refused:{source}"})
        raise RiskopsError(f"{name} version {version} is the champion in MLflow ({where}), but {problem}; "
                           f"{consequence}. Promote an approved version (python -m ml promote) or restore the pointer.")
    if sync and (source != "alias+stage" or "approved_by" not in tags):
        _record_direct_promotion(client, name, version, where)
    return Champion(version, mv.run_id, source)


def _record_direct_promotion(client: MlflowClient, name: str, version: str, where: str) -> None:
    previous = [str(v.version) for v in registry.versions(client, name)
                if str(v.version) != version and (registry.stage_of(v) == "Production"
                                                  or v.tags.get(registry.TAG + "status") == "champion")]
    _make_champion(client, name, version)
    at = now()
    registry.set_tags(client, name, version, {"approved_by": UNKNOWN_WHO, "promoted_at": at,
                                              "previous_champion": ",".join(previous) or "none",
                                              "approval_note": f"{where} set directly in MLflow"}, once=True)
    registry.set_tags(client, name, version, {"status": "champion", "synced_from": f"{where} set directly in MLflow"})
    registry.append_decision(client, name, version, {"action": "promoted directly in MLflow", "what": where,
                                                     "by": UNKNOWN_WHO, "at": at, "previous": previous})
    for old in previous:
        _archive(client, name, old, version, at)


def _make_champion(client: MlflowClient, name: str, version: str) -> None:
    registry.set_stage(client, name, version, "Production", archive_others=True)
    registry.set_alias(client, name, CHAMPION, version)
    registry.drop_alias_if(client, name, CHALLENGER, version)


def _archive(client: MlflowClient, name: str, version: str, replaced_by: str, at: str) -> None:
    registry.set_tags(client, name, version, {"status": "archived"})
    registry.set_tags(client, name, version, {"archived_at": at, "replaced_by": replaced_by}, once=True)
    registry.append_decision(client, name, version, {"action": "archived", "replaced_by": replaced_by, "at": at,
                                                     "id": f"archived-by:{replaced_by}"})


def check_may_score(client: MlflowClient, name: str, version: str) -> None:
    """Refuse an explicitly chosen version (re-scoring) that may not score: only a version that was approved
    (champion now or before) and never rejected."""
    tags = registry.tags(client, name, version)
    _pending(name, version, tags)
    problem = refusal(tags) or (None if "approved_by" in tags else
                                f"it was never approved (status {tags.get('status', 'unknown')})")
    if problem:
        raise RiskopsError(f"{name} version {version} may not score: {problem}")


def _check_approver(approver: str, approvers: tuple[str, ...], triggered_by: str | None) -> None:
    if not approver.strip():
        raise RiskopsError("the approver's name must not be blank")
    if approvers and approver not in approvers:
        raise RiskopsError(f"'{approver}' is not one of the configured approvers (RISKOPS_APPROVER_USERS: "
                           f"{', '.join(approvers)})")
    if triggered_by and approver == triggered_by:
        raise RiskopsError(f"'{approver}' triggered this retraining and may not approve it (separation of duties)")


def promote(client: MlflowClient, name: str, version: str, approver: str, note: str = "",
            report: bytes | None = None, approvers: tuple[str, ...] = (),
            triggered_by: str | None = None) -> dict[str, Any]:
    """Make `version` the champion (Production + alias), archive the old one, and record the audit trail.

    `report` is the candidate PDF the approver reviewed (from storage); its SHA-256 must be the one recorded
    at registration. Safe to run again after a failure half-way: it completes the recorded promotion.
    """
    _check_approver(approver, approvers, triggered_by)
    tags = registry.tags(client, name, version)
    problem = refusal(tags)
    if problem:
        action = "review and approve that version instead" if tags.get("status") == "superseded" else \
            "train a new candidate instead"
        raise RiskopsError(f"{name} version {version} cannot be promoted: {problem}; {action}")
    if report is None:
        raise RiskopsError(f"the report of {name} version {version} is neither in storage nor in MLflow: a version "
                           "is approved only with the report that was reviewed")
    if hashlib.sha256(report).hexdigest() != tags["report_sha256"]:
        raise RiskopsError(f"the stored report of {name} version {version} does not match the SHA-256 recorded at "
                           f"registration ({tags['report_sha256'][:12]}...): it changed after review, so the "
                           "version is not promoted")
    if "promotion_pending" in tags:
        intent = json.loads(tags["promotion_pending"])  # a retry completes what an earlier run started
    else:
        current = _pointers(client, name)
        if current is not None and str(current[0].version) == str(version) and current[1] == "alias+stage":
            raise RiskopsError(f"{name} version {version} is already the champion")
        intent = {"approver": approver, "note": note, "at": now(),
                  "previous": str(current[0].version) if current else "none"}
        registry.set_tags(client, name, version, {"promotion_pending": json.dumps(intent, sort_keys=True)})
    _make_champion(client, name, version)
    audit = {"approved_by": intent["approver"], "promoted_at": intent["at"], "report_sha256": tags["report_sha256"],
             "model_sha256": tags.get("model_sha256", "not recorded"), "data_hash": tags.get("data_hash", "unknown"),
             "previous_champion": intent["previous"], "approval_note": intent["note"]}
    registry.set_tags(client, name, version, audit, once=True)
    registry.set_tags(client, name, version, {"status": "champion"})
    registry.append_decision(client, name, version, {"action": "promoted", "by": intent["approver"],
                                                     "note": intent["note"], "at": intent["at"],
                                                     "previous": intent["previous"], "id": f"promoted:{intent['at']}"})
    if intent["previous"] not in ("none", str(version)):
        _archive(client, name, intent["previous"], str(version), intent["at"])
    _verify_champion(client, name, version)
    registry.call(client, f"finishing the promotion of {name} version {version}", lambda: client.delete_model_version_tag(
        name, str(version), registry.TAG + "promotion_pending"))
    return {**audit, "status": "champion"}


def _verify_champion(client: MlflowClient, name: str, version: str) -> None:
    """Read back what a promotion wrote; a mismatch fails (the intent stays, so a re-run repairs it)."""
    alias = registry.alias_version(client, name, CHAMPION)
    production = [str(v.version) for v in registry.versions(client, name) if registry.stage_of(v) == "Production"]
    tags = registry.tags(client, name, version)
    if alias is None or str(alias.version) != str(version) or production != [str(version)] or \
            tags.get("status") != "champion" or "approved_by" not in tags:
        raise RiskopsError(f"the promotion of {name} version {version} did not read back as written (alias "
                           f"{alias and alias.version}, Production {production}); run it again to complete it")


def reject(client: MlflowClient, name: str, version: str, approver: str, reason: str,
           approvers: tuple[str, ...] = ()) -> dict[str, Any]:
    """Tag the candidate rejected with the reason, archive it and drop its challenger alias. Rejecting again
    adds to the audit trail; the first rejection's tags stay."""
    _check_approver(approver, approvers, None)
    tags = registry.tags(client, name, version)
    if tags.get("status") == "superseded":
        raise RiskopsError(f"{name} version {version} was superseded by version {tags.get('superseded_by')} at "
                           f"{tags.get('superseded_at')}; review that version instead")
    champion = _pointers(client, name)
    if champion is not None and str(champion[0].version) == str(version):
        raise RiskopsError(f"{name} version {version} is the champion; promote another version instead")
    at = now()
    audit = {"rejected_by": approver, "rejected_at": at, "rejected_reason": reason or "no reason given"}
    registry.set_tags(client, name, version, audit, once=True)
    registry.set_tags(client, name, version, {"status": "rejected"})
    registry.append_decision(client, name, version, {"action": "rejected", "by": approver, "reason": reason, "at": at})
    registry.set_stage(client, name, version, "Archived")
    registry.drop_alias_if(client, name, CHALLENGER, version)
    return audit


def supersede_waiting(client: MlflowClient, name: str, version: str) -> list[str]:
    """Close every older candidate still waiting for a decision as superseded by `version`; returns them."""
    closed = []
    for mv in registry.versions(client, name):
        if version_key(mv.version) < version_key(version) and mv.tags.get(registry.TAG + "status") == "candidate":
            at = now()
            registry.set_tags(client, name, mv.version, {"status": "superseded", "superseded_by": str(version),
                                                         "superseded_at": at})
            registry.append_decision(client, name, mv.version, {"action": "superseded", "by": "riskops",
                                                                "superseded_by": str(version), "at": at})
            registry.set_stage(client, name, mv.version, "Archived")
            closed.append(str(mv.version))
    return closed


def waiting_candidates(client: MlflowClient, name: str) -> list[str]:
    """Versions still waiting for a decision (tag status=candidate)."""
    return [str(v.version) for v in registry.versions(client, name)
            if v.tags.get(registry.TAG + "status") == "candidate"]
