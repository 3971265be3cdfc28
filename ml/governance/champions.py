"""The champion history of a dataset's model: one append-only record of every promotion, rollback, halt and
resume, with the version, who, when, why, the report's SHA-256 and the champion before.

It lives on the registered model in MLflow (tags `riskops.champion.1`, `.2`, ..., one JSON entry each), next to
the pointers it explains, for three reasons: a promotion writes its pointers, its version's audit trail and
this entry in one store, so the promotion's recorded intent (`ml.governance.approvals`) completes all of them on a
retry; scoring reads the champion and the stop switch (`riskops.halted`, `ml.governance.halt`) in the same place;
and anyone who opens the model in MLflow sees which version was in production when. The monitoring history's
SQL table is keyed so that re-runs replace rows, the opposite of an append-only record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from mlflow import MlflowClient

from ml.errors import RiskopsError
from ml.governance import registry

PREFIX = "champion."  # riskops.champion.N on the registered model
PROMOTED, ROLLED_BACK, DIRECT, HALTED, RESUMED = ("promoted", "rolled back", "promoted directly in MLflow",
                                                  "halted", "resumed")
CHANGES = (PROMOTED, ROLLED_BACK, DIRECT)  # the events that change which version is the champion
NONE = "none"


@dataclass(frozen=True)
class Event:
    """One line of the champion history."""

    action: str  # one of PROMOTED, ROLLED_BACK, DIRECT, HALTED, RESUMED
    version: str  # the champion the event made (or halted, or resumed); NONE when there was none
    by: str  # who decided: one name, or the approvers of a quorum joined by ", "
    at: str  # ISO timestamp, UTC
    why: str  # the approvers' notes, the rollback's or the halt's reason
    report_sha256: str  # of the version's report ("" when there is no version)
    previous: str  # the champion before a change; for a halt or a resume, the champion it concerns
    id: str  # what makes a retried step record an event once

    def line(self) -> str:
        """The event as one line of text (the CLI's `champions`, the reports' champion line)."""
        report = f"report {self.report_sha256[:12]}" if self.report_sha256 else "no report"
        before = f", previous champion {_v(self.previous)}" if self.action in CHANGES else ""
        why = f": {self.why}" if self.why else ""
        return f"{self.at} {self.action} {_v(self.version)} by {self.by} ({report}{before}){why}"


def _v(version: str) -> str:
    return NONE if version == NONE else f"v{version}"


def history(client: MlflowClient, name: str) -> list[Event]:
    """Every event of the model, oldest first (empty for a model not registered)."""
    found = {}
    for key, value in registry.model_tags(client, name).items():
        number = key.removeprefix(PREFIX)
        if key.startswith(PREFIX) and number.isdigit():
            found[int(number)] = _event(value, f"{registry.TAG}{key}")
    return [found[i] for i in sorted(found)]


def _event(text: str, where: str) -> Event:
    try:
        entry: Any = json.loads(text)
        return Event(**{k: str(entry[k]) for k in Event.__dataclass_fields__})
    except (ValueError, TypeError, KeyError) as exc:
        # MLflow's stores are untrusted: a tag edited by hand is named, not half-read
        raise RiskopsError(f"the champion history entry {where} is not a riskops event (edited in MLflow?): "
                           f"{text[:80]!r}") from exc


def record(client: MlflowClient, name: str, event: Event) -> None:
    """Append an event; one already recorded (same id: a retried step) is not added twice. The entry is read
    back, and written under the next number when another writer took this one meanwhile."""
    for _ in range(5):
        events = history(client, name)
        if any(e.id == event.id for e in events):
            return
        key = f"{PREFIX}{len(events) + 1}"
        registry.set_model_tag(client, name, key, json.dumps(asdict(event), sort_keys=True))
        if json.loads(registry.model_tags(client, name)[key])["id"] == event.id:
            return
    raise RiskopsError(f"could not append to the champion history of {name}: other writers kept taking its "
                       "next entry; run the step again")


def current(client: MlflowClient, name: str) -> Event | None:
    """The event that made the current champion (the latest promotion or rollback); None before the first."""
    changes = [e for e in history(client, name) if e.action in CHANGES]
    return changes[-1] if changes else None
