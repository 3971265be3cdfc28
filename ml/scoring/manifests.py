"""The commit records of a scored day: `manifests/score/<ds>/date=D/model=V.json` when a model scored it
(`ml.scoring.score.commit`), `model=fallback.json` when the fallback policy decided it while the model was halted
(`ml.scoring.fallback.score_day`). Each is written after the scores file it describes, so a manifest always
describes the file beside it; readers go through these models (`ml.contracts`)."""

from __future__ import annotations

from typing import ClassVar

from ml import contracts
from ml.contracts import Contract, Part
from ml.spec import Fallback
from ml.storage import Storage


class ReasonMix(Part):
    """Per reason statement, the explained rows (those with a reason) where it is the first reason and where it is
    one of the reasons."""

    explained: int
    first: dict[str, int]
    any: dict[str, int]


class DayScored(Contract):
    """What both commit records hold: the day, its curated input, the rows and decisions, the scores file."""

    # a day scored outside a DAG run has no run key: the key is left out rather than written as null
    omit_when_none: ClassVar[frozenset[str]] = frozenset({"run_key"})

    dataset: str
    date: str
    policy: str  # "model" or "fallback": what decided the rows
    input_manifest_sha256: str  # the preprocess manifest's input_sha256: which delivery was scored
    curated: str
    rows_in: int
    rows_scored: int
    decisions: dict[str, int]  # approve / review / decline -> rows
    hard_rules: dict[str, int]  # hard rule code -> rows it decided
    scores: str
    scores_sha256: str
    scored_at: str
    run_key: str | None = None  # the scoring run that committed it (a retry skips the days it committed)

    def mix(self) -> str:
        """The decisions for a console line ("approve 90, review 6, decline 4")."""
        return ", ".join(f"{k} {v}" for k, v in self.decisions.items())


class ScoreManifest(DayScored):
    """A day scored by a model version."""

    model: str
    model_version: str
    run_id: str  # the version's training run
    model_sha256: str
    partitions: int
    reasons: ReasonMix | None = None  # days scored before reason codes were counted have none


class HaltRecord(Part):
    """The halt in force when the fallback policy decided the day."""

    model: str
    version: str
    by: str
    at: str
    reason: str


class FallbackManifest(DayScored):
    """A day decided by the spec's fallback policy while the model was halted."""

    fallback: Fallback
    fallback_policy: str  # the policy in words
    halt: HaltRecord


def read_score_manifest(storage: Storage, key: str) -> ScoreManifest:
    """A model's commit record of a day."""
    return contracts.read(storage, key, ScoreManifest)
