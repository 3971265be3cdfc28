"""Decisions on registered versions: which version may score, promotion, rejection and supersession.

Only a version that riskops trained and registered with its report (tag `riskops.report_sha256`), that was
never rejected or superseded, and whose promotion is recorded ever scores. Approvers may also promote
directly in MLflow (stage Production or alias `champion`): such a change is checked the next time the
champion is resolved; a version that may not score is refused with a message naming it and why, and
either way the change is written into the version's audit trail with what is known about who made it.

Every decision appends an entry to the version's audit trail (`riskops.decision.N`, JSON); the summary tags
(`approved_by`, `rejected_by`, ...) keep the first decision and are never overwritten.

Four eyes: a version is promoted once `quorum` distinct approvers have approved it (each approval an entry of
its trail as it arrives: who, when, note, and the report's and model files' SHA-256 it was given for; only
approvals of the hashes the version carries count). A rejection by any approver ends it. With separation of
duties, whoever triggered or trained it (tag `trained_by`) may not approve it. A rollback re-promotes an
earlier champion that was never rejected after the same quorum (`rollback`), or is declined.

A promotion (or a rollback) first records its intent (`riskops.promotion_pending`) and removes it only once
stage, alias, audit and the champion history (`ml.governance.champions`) are written and read back; one
interrupted half-way (MLflow answering 503) is completed by running it again, and until then nothing scores
with either version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient

from ml.errors import RiskopsError
from ml.governance import champions, registry
from ml.governance.champions import Event
from ml.governance.registry import CHALLENGER, CHAMPION, now
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
    # the champion history is numbered, so it tells which pointer riskops set last even when two promotions
    # fell in the same second; the timestamps decide only for a model without a history (before it existed)
    last = champions.current(client, name)
    if last is not None and last.version in (str(by_alias.version), str(by_stage.version)):
        stage_is_ours = last.version == str(by_stage.version)
    else:
        alias_at, stage_at = _champion_since(by_alias), _champion_since(by_stage)
        stage_is_ours = stage_at is not None and (alias_at is None or stage_at > alias_at)
    return (by_alias, "alias") if stage_is_ours else (by_stage, "stage")


def _champion_since(mv: Any) -> str | None:
    """When riskops last made the version the champion (a rollback re-promotes: `promoted_at` is the first time)."""
    since: str | None = mv.tags.get(registry.TAG + "champion_since") or mv.tags.get(registry.TAG + "promoted_at")
    return since


def _pending(name: str, version: str, tags: dict[str, str], consequence: str = "nothing was scored") -> None:
    if "promotion_pending" in tags:
        intent = json.loads(tags["promotion_pending"])
        last = intent.get("approvals", [intent["approver"]])[-1]
        step = "rollback" if intent.get("kind") == champions.ROLLED_BACK else "promote"
        reason = " --reason=\"<why>\"" if step == "rollback" else ""
        raise RiskopsError(
            f"the {'rollback' if step == 'rollback' else 'promotion'} of {name} version {version} by "
            f"{intent['approver']} ({intent['at']}) did not finish (MLflow failed half-way); {consequence}. Run it "
            f"again to complete it: python -m ml {step} --dataset {name.removeprefix('riskops-')} --version "
            f"{version} --approver=\"{last}\"{reason}")


@dataclass(frozen=True)
class _Pointed:
    """What the champion pointers name, read and checked, before anything is written."""

    champion: Champion
    where: str  # the pointers in words
    tags: dict[str, str]
    problem: str | None  # why it may not score (`refusal`), or None


def _pointed(client: MlflowClient, name: str, consequence: str) -> _Pointed | None:
    found = _pointers(client, name)
    if found is None:
        return None
    mv, source = found
    version = str(mv.version)
    tags = registry.tags(client, name, version)
    _pending(name, version, tags, consequence)
    where = {"alias": "alias champion", "stage": "stage Production", "alias+stage": "alias champion and stage "
             "Production"}[source]
    return _Pointed(Champion(version, mv.run_id, source), where, tags, refusal(tags))


def _refused(name: str, pointed: _Pointed, consequence: str) -> RiskopsError:
    return RiskopsError(f"{name} version {pointed.champion.version} is the champion in MLflow ({pointed.where}), but "
                        f"{pointed.problem}; {consequence}. Promote an approved version (python -m ml promote) or "
                        "restore the pointer.")


def champion(client: MlflowClient, name: str, consequence: str = "nothing was scored") -> Champion | None:
    """The version that scores, read only; None when nothing was ever promoted. A champion that may not score
    (`refusal`) is refused with a clear error ending in `consequence`."""
    pointed = _pointed(client, name, consequence)
    if pointed is not None and pointed.problem:
        raise _refused(name, pointed, consequence)
    return None if pointed is None else pointed.champion


def sync_champion(client: MlflowClient, name: str, consequence: str = "nothing was scored") -> Champion | None:
    """`champion`, for a step that acts on it (scoring, retraining): a champion set directly in MLflow is also
    recorded in its audit trail (as refused, or as promoted directly, its other pointer brought in step)."""
    pointed = _pointed(client, name, consequence)
    if pointed is None:
        return None
    version, source = pointed.champion.version, pointed.champion.source
    if pointed.problem:
        registry.append_audit(client, name, version, {
            "action": "refused as champion", "what": f"{pointed.where} set directly in MLflow",
            "reason": pointed.problem, "by": UNKNOWN_WHO, "at": now(), "id": f"refused:{source}"})
        raise _refused(name, pointed, consequence)
    if source != "alias+stage" or "approved_by" not in pointed.tags:
        _record_direct_promotion(client, name, version, pointed.where)
    return pointed.champion


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
    registry.append_audit(client, name, version, {"action": "promoted directly in MLflow", "what": where,
                                                     "by": UNKNOWN_WHO, "at": at, "previous": previous})
    champions.record(client, name, Event(champions.DIRECT, version, UNKNOWN_WHO, at, f"{where} set directly in MLflow",
                                         registry.tags(client, name, version).get("report_sha256", ""),
                                         ",".join(previous) or champions.NONE, f"direct:{version}:{at}"))
    for old in previous:
        _archive(client, name, old, version, at)


def _make_champion(client: MlflowClient, name: str, version: str) -> None:
    registry.set_stage(client, name, version, "Production", archive_others=True)
    registry.set_alias(client, name, CHAMPION, version)
    registry.drop_alias_if(client, name, CHALLENGER, version)


def _archive(client: MlflowClient, name: str, version: str, replaced_by: str, at: str) -> None:
    registry.set_tags(client, name, version, {"status": "archived"})
    registry.set_tags(client, name, version, {"archived_at": at, "replaced_by": replaced_by}, once=True)
    registry.append_audit(client, name, version, {"action": "archived", "replaced_by": replaced_by, "at": at,
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


def check_approver(approver: str, approvers: tuple[str, ...]) -> None:
    """Refuse a blank name, and a name not in the configured approvers (when they are configured)."""
    if not approver.strip():
        raise RiskopsError("the approver's name must not be blank")
    if approvers and approver not in approvers:
        raise RiskopsError(f"'{approver}' is not one of the configured approvers (RISKOPS_APPROVER_USERS: "
                           f"{', '.join(approvers)})")


def _check_duties(approver: str, tags: dict[str, str], triggered_by: str | None, separate_duties: bool,
                  what: str = "retraining") -> None:
    """Separation of duties: whoever triggered the run (`triggered_by`, given when the rule is on) or trained
    the version (tag `trained_by`, checked when `separate_duties`) may not approve it."""
    if triggered_by and approver == triggered_by:
        raise RiskopsError(f"'{approver}' triggered this {what} and may not approve it (separation of duties)")
    if separate_duties and approver == tags.get("trained_by"):
        raise RiskopsError(f"'{approver}' trained this version and may not approve it (separation of duties)")


def _check_report(name: str, version: str, tags: dict[str, str], report: bytes | None) -> None:
    if report is None:
        raise RiskopsError(f"the report of {name} version {version} is neither in storage nor in MLflow: a version "
                           "is approved only with the report that was reviewed")
    if hashlib.sha256(report).hexdigest() != tags["report_sha256"]:
        raise RiskopsError(f"the stored report of {name} version {version} does not match the SHA-256 recorded at "
                           f"registration ({tags['report_sha256'][:12]}...): it changed after review, so the "
                           "version is not promoted")


def counted(trail: list[dict[str, Any]], tags: dict[str, str], action: str = "approved",
            request: str | None = None) -> list[dict[str, Any]]:
    """The approvals that count: entries `action` (of the rollback `request`, for a rollback) given for the
    report and model files the version carries, the first one of each approver, in order."""
    seen: dict[str, dict[str, Any]] = {}
    for entry in trail:
        if (entry.get("action") == action and entry.get("request") == request
                and entry.get("report_sha256") == tags.get("report_sha256")
                and entry.get("model_sha256") == tags.get("model_sha256", "not recorded")):
            seen.setdefault(str(entry["by"]), entry)
    return list(seen.values())


def approved_so_far(client: MlflowClient, name: str, version: str) -> list[str]:
    """Who has approved the decision waiting on `version`, in order: its open rollback request, or its
    promotion while it is a candidate; empty when nothing waits."""
    tags = registry.tags(client, name, version)
    trail = registry.audit_trail(client, name, version)
    if "rollback_request" in tags:
        given = counted(trail, tags, "rollback approved", json.loads(tags["rollback_request"])["id"])
    else:
        given = counted(trail, tags) if tags.get("status") == "candidate" else []
    return [str(e["by"]) for e in given]


def _approve(client: MlflowClient, name: str, version: str, tags: dict[str, str], approver: str, note: str,
             quorum: int, action: str, request: str | None = None) -> list[dict[str, Any]]:
    """Record one approval (again: nothing new) and return the approvals that count so far."""
    at = now()
    registry.append_audit(client, name, version, {
        "action": action, "by": approver, "note": note, "at": at, "quorum": quorum,
        "report_sha256": tags["report_sha256"], "model_sha256": tags.get("model_sha256", "not recorded"),
        **({"request": request} if request else {}), "id": f"{action}:{request or ''}:{approver}"})
    return counted(registry.audit_trail(client, name, version), tags, action, request)


def promote(client: MlflowClient, name: str, version: str, approver: str, note: str = "",
            report: bytes | None = None, approvers: tuple[str, ...] = (),
            triggered_by: str | None = None, quorum: int = 1, separate_duties: bool = False) -> dict[str, Any]:
    """Record `approver`'s approval of `version`; once `quorum` distinct approvers have approved it, make it the
    champion (Production + alias), archive the old one, and record the audit trail and the champion history.

    `report` is the candidate PDF the approver reviewed (from storage); its SHA-256 must be the one recorded
    at registration. Returns the audit with `status` "champion", or "waiting" with the approvals so far. An
    approver approving again adds nothing. Safe to run again after a failure half-way: it completes the
    recorded promotion.
    """
    check_approver(approver, approvers)
    tags = registry.tags(client, name, version)
    problem = refusal(tags)
    if problem:
        action = "review and approve that version instead" if tags.get("status") == "superseded" else \
            "train a new candidate instead"
        raise RiskopsError(f"{name} version {version} cannot be promoted: {problem}; {action}")
    _check_report(name, version, tags, report)
    if "promotion_pending" in tags:  # a retry completes what an earlier run started
        return _complete(client, name, version, json.loads(tags["promotion_pending"]))
    current = _pointers(client, name)
    if current is not None and str(current[0].version) == str(version) and current[1] == "alias+stage":
        raise RiskopsError(f"{name} version {version} is already the champion")
    if "approved_by" in tags:  # its approvals of then must not count again: a way back takes its own quorum
        raise RiskopsError(f"{name} version {version} was the champion before (approved by {tags['approved_by']}); "
                           f"to restore it, roll back: python -m ml rollback --dataset {name.removeprefix('riskops-')}"
                           f" --version {version} --approver NAME --reason WHY")
    _check_duties(approver, tags, triggered_by, separate_duties)
    before = counted(registry.audit_trail(client, name, version), tags)
    given = _approve(client, name, version, tags, approver, note, quorum, "approved")
    if len(given) < quorum:
        return {"status": "waiting", "approvals": [str(e["by"]) for e in given], "quorum": quorum,
                "already": any(e["by"] == approver for e in before)}
    return _complete(client, name, version, _intent(given, champions.PROMOTED, _notes(given),
                                                    str(current[0].version) if current else "none", quorum))


def _notes(given: list[dict[str, Any]]) -> str:
    """The approvers' notes as one text: the note alone for one approver, else 'who: note' for each."""
    notes = [(str(e["by"]), str(e.get("note") or "")) for e in given]
    if len(notes) == 1:
        return notes[0][1]
    return "; ".join(f"{who}: {note}" for who, note in notes if note)


def _intent(given: list[dict[str, Any]], kind: str, note: str, previous: str, quorum: int) -> dict[str, Any]:
    names = [str(e["by"]) for e in given]
    return {"approver": ", ".join(names), "approvals": names, "note": note, "at": now(), "previous": previous,
            "kind": kind, "quorum": quorum}


def _complete(client: MlflowClient, name: str, version: str, intent: dict[str, Any]) -> dict[str, Any]:
    """Carry out a recorded promotion or rollback: intent first (a retry completes it), then stage, alias, audit,
    trail, champion history, the old champion archived, all read back, intent removed."""
    registry.set_tags(client, name, version, {"promotion_pending": json.dumps(intent, sort_keys=True)})
    tags = registry.tags(client, name, version)
    kind = intent.get("kind", champions.PROMOTED)
    _make_champion(client, name, version)
    audit = {"approved_by": intent["approver"], "promoted_at": intent["at"], "report_sha256": tags["report_sha256"],
             "model_sha256": tags.get("model_sha256", "not recorded"), "data_hash": tags.get("data_hash", "unknown"),
             "previous_champion": intent["previous"], "approval_note": intent["note"]}
    registry.set_tags(client, name, version, audit, once=True)  # a rollback keeps its first promotion's audit
    registry.set_tags(client, name, version, {"status": "champion", "champion_since": intent["at"]})
    action = "promoted" if kind == champions.PROMOTED else "rolled back to"
    registry.append_audit(client, name, version, {
        "action": action, "by": intent["approver"], "note": intent["note"], "at": intent["at"],
        "previous": intent["previous"], "quorum": intent.get("quorum", 1), "id": f"{action}:{intent['at']}"})
    champions.record(client, name, Event(kind, str(version), intent["approver"], intent["at"], intent["note"],
                                         tags["report_sha256"], intent["previous"], f"{kind}:{version}:{intent['at']}"))
    if intent["previous"] not in ("none", str(version)):
        _archive(client, name, intent["previous"], str(version), intent["at"])
    _verify_champion(client, name, version)
    registry.call(client, f"finishing the promotion of {name} version {version}", lambda: client.delete_model_version_tag(
        name, str(version), registry.TAG + "promotion_pending"))
    if kind == champions.ROLLED_BACK and "rollback_request" in tags:
        registry.call(client, f"closing the rollback request of {name} version {version}",
                      lambda: client.delete_model_version_tag(name, str(version), registry.TAG + "rollback_request"))
    return {**{k: intent[k] for k in ("approvals", "quorum", "kind") if k in intent}, **audit,
            "approved_by": intent["approver"], "promoted_at": intent["at"], "approval_note": intent["note"],
            "previous_champion": intent["previous"], "status": "champion"}


def _verify_champion(client: MlflowClient, name: str, version: str) -> None:
    """Read back what a promotion wrote; a mismatch fails (the intent stays, so a re-run repairs it)."""
    alias = registry.alias_version(client, name, CHAMPION)
    production = [str(v.version) for v in registry.versions(client, name) if registry.stage_of(v) == "Production"]
    tags = registry.tags(client, name, version)
    if alias is None or str(alias.version) != str(version) or production != [str(version)] or \
            tags.get("status") != "champion" or "approved_by" not in tags:
        raise RiskopsError(f"the promotion of {name} version {version} did not read back as written (alias "
                           f"{alias and alias.version}, Production {production}); run it again to complete it")


# ------------------------------------------------------------------------------------------- rollback

def rollback_target(client: MlflowClient, name: str, version: str | None = None) -> tuple[str, str]:
    """(the version a rollback re-promotes, the current champion): `version`, or the champion before the
    current one. Refused: no champion, no earlier one, the champion itself, and a version that was rejected,
    superseded, not reviewed or never approved."""
    current = _pointers(client, name)
    if current is None:
        raise RiskopsError(f"{name} has no champion: there is nothing to roll back")
    champion = str(current[0].version)
    if version is None:
        event = champions.current(client, name)
        version = event.previous if event is not None and event.version == champion else \
            registry.tags(client, name, champion).get("previous_champion", "none")
        if version in ("none", "", champion) or "," in version:
            raise RiskopsError(f"{name} version {champion} has no earlier champion to roll back to; name an earlier "
                               "approved version with --version")
    registry.get_version(client, name, version)  # a clear error when it does not exist
    if str(version) == champion:
        raise RiskopsError(f"{name} version {version} is already the champion: there is nothing to roll back")
    tags = registry.tags(client, name, version)
    problem = refusal(tags) or (None if "approved_by" in tags else
                                f"it was never approved (status {tags.get('status', 'unknown')}): a version that "
                                "never was the champion is promoted after the review of its report "
                                "(python -m ml promote), not rolled back to")
    if problem:
        raise RiskopsError(f"cannot roll back {name} to version {version}: {problem}")
    return str(version), champion


def rollback(client: MlflowClient, name: str, version: str, approver: str, reason: str,
             report: bytes | None = None, approvers: tuple[str, ...] = (), quorum: int = 1,
             requested_by: str | None = None, note: str = "", separate_duties: bool = False) -> dict[str, Any]:
    """Record `approver`'s approval (with `note`, default the reason) of rolling back to `version` (an earlier
    champion, `rollback_target`); the first approval opens the rollback request with `reason`. Once `quorum`
    distinct approvers have approved it, `version` is the champion again, the current one archived, and the
    champion history records the rollback with the request's reason. Who opened the request (`requested_by` of
    the call that opened it, default that call's approver) may not approve it when `separate_duties`. Returns what `promote` returns."""
    check_approver(approver, approvers)
    if not reason.strip():
        raise RiskopsError("a rollback needs a reason (--reason): it goes into the champion history")
    tags = registry.tags(client, name, version)
    if "promotion_pending" in tags:
        _check_report(name, version, tags, report)
        return _complete(client, name, version, json.loads(tags["promotion_pending"]))
    target, champion = rollback_target(client, name, version)
    _check_report(name, target, tags, report)
    # the requester is who opened the open request, not who this call names: leaving --requested-by off later
    # must not let the requester approve their own request
    open_ = json.loads(tags["rollback_request"]) if "rollback_request" in tags else None
    requester = str(open_["by"]) if open_ and open_.get("from") == champion else (requested_by or approver)
    _check_duties(approver, tags, requester if separate_duties else None, False, what="rollback")
    request = _rollback_request(client, name, target, champion, tags, requester, reason)
    before = counted(registry.audit_trail(client, name, target), tags, "rollback approved", request["id"])
    given = _approve(client, name, target, tags, approver, note or reason, quorum, "rollback approved", request["id"])
    if len(given) < quorum:
        return {"status": "waiting", "approvals": [str(e["by"]) for e in given], "quorum": quorum,
                "already": any(e["by"] == approver for e in before), "request": request}
    return _complete(client, name, target, _intent(given, champions.ROLLED_BACK, request["reason"], champion,
                                                   quorum))


def _rollback_request(client: MlflowClient, name: str, version: str, champion: str, tags: dict[str, str], by: str,
                      reason: str) -> dict[str, str]:
    """The open request to roll back from `champion` to `version`, opened now if there is none (a request made
    while another version was the champion no longer holds: a new one replaces it)."""
    if "rollback_request" in tags:
        request = json.loads(tags["rollback_request"])
        if request.get("from") == champion:
            return {k: str(v) for k, v in request.items()}
    opened = sum(e.get("action") == "rollback requested" for e in registry.audit_trail(client, name, version))
    request = {"from": champion, "by": by, "reason": reason, "at": now(), "id": f"rollback-{opened + 1}"}
    registry.set_tags(client, name, version, {"rollback_request": json.dumps(request, sort_keys=True)})
    registry.append_audit(client, name, version, {"action": "rollback requested", **request})
    return request


def decline_rollback(client: MlflowClient, name: str, version: str, approver: str, reason: str,
                     approvers: tuple[str, ...] = ()) -> dict[str, Any]:
    """An approver declines the open rollback to `version`: recorded in its trail, the request closed; the
    version itself stays as it was (declining a rollback is no rejection of the model)."""
    check_approver(approver, approvers)
    tags = registry.tags(client, name, version)
    if "rollback_request" not in tags:
        raise RiskopsError(f"no rollback of {name} to version {version} is waiting for a decision")
    request = json.loads(tags["rollback_request"])
    entry = {"action": "rollback declined", "by": approver, "reason": reason or "no reason given", "at": now(),
             "request": request["id"], "id": f"rollback declined:{request['id']}"}
    registry.append_audit(client, name, version, entry)
    registry.call(client, f"closing the rollback request of {name} version {version}",
                  lambda: client.delete_model_version_tag(name, str(version), registry.TAG + "rollback_request"))
    return entry


def reject(client: MlflowClient, name: str, version: str, approver: str, reason: str,
           approvers: tuple[str, ...] = ()) -> dict[str, Any]:
    """Tag the candidate rejected with the reason, archive it and drop its challenger alias. Rejecting again
    adds to the audit trail; the first rejection's tags stay."""
    check_approver(approver, approvers)
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
    registry.append_audit(client, name, version, {"action": "rejected", "by": approver, "reason": reason, "at": at})
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
            registry.append_audit(client, name, mv.version, {"action": "superseded", "by": "riskops",
                                                                "superseded_by": str(version), "at": at})
            registry.set_stage(client, name, mv.version, "Archived")
            closed.append(str(mv.version))
    return closed


def waiting_candidates(client: MlflowClient, name: str) -> list[str]:
    """Versions still waiting for a decision (tag status=candidate)."""
    return [str(v.version) for v in registry.versions(client, name)
            if v.tags.get(registry.TAG + "status") == "candidate"]
