"""What an approval gate is asked about, as the DAG tasks hand it on through XCom: a candidate to promote
(`CandidateRef`, from the retrain DAG's mail task) or a rollback to an earlier champion (`RollbackPlan`, from the
rollback DAG's plan task, also kept in storage for the run's reminder). The gates, their notifiers and the mails
read them through these models."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from ml.contracts import Contract, Part
from ml.governance.candidate import CandidateSummary


class CandidateRef(Part):
    """What the retrain DAG's mail task hands its approval gates and notifiers through XCom: who the candidate
    is and the hashes an approval is bound to."""

    dataset: str
    model_name: str
    version: str
    verdict: str
    report_sha256: str
    model_sha256: str
    technical_file_sha256: str | None
    run_id: str

    @classmethod
    def of(cls, summary: CandidateSummary) -> "CandidateRef":
        return cls(**summary.model_dump(include=set(cls.model_fields)))


class RollbackPlan(Contract):
    """`runs/rollback/<ds>/<run key>.json`: the version a rollback run restores, the champion it replaces, the
    restored version's report hash (approvals are bound to it) and the champion-history line that made it the
    champion once."""

    dataset: str
    model_name: str
    version: str
    champion: str
    report_sha256: str
    line: str | None
    requested_by: str
    reason: str


Subject = CandidateRef | RollbackPlan
_SUBJECT: TypeAdapter[Subject] = TypeAdapter(Subject)


def subject(xcom: Any) -> Subject:
    """What a gate's candidate task handed on (its XCom), as the model it is."""
    return _SUBJECT.validate_python(xcom)
