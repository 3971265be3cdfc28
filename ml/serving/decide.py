"""Applications decided through exactly the code nightly scoring runs: `validate_fields` (the quarantine's checks
and reason words), the curated row as preprocessing builds it, then `score_table` (features, PD, policy, hard
rules, reasons) with the trusted version, or `fallback_table` while the model is halted. So an application gets
the same `pd`, `score`, `band`, `decision`, `hard_rule` and reasons online as its row gets in `scores/`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from ml.data.validate import validate_fields
from ml.governance.trust import Trusted
from ml.reasons import Dictionary
from ml.scoring.fallback import POLICY as FALLBACK_POLICY
from ml.scoring.fallback import fallback_table
from ml.scoring.score import MODEL_POLICY, REASONS, PinnedModel, score_table
from ml.serving.body import Application
from ml.spec import BUSINESS_DATE, DatasetSpec, Fallback

Policy = Literal["model", "fallback", "none"]


@dataclass(frozen=True)
class Loaded:
    """What decides a dataset in this process now: a loaded, verified version (`pinned`), or while the model is
    halted the spec's fallback policy, or nothing (`policy` "none": requests get 503)."""

    trusted: Trusted
    pinned: PinnedModel | None
    fallback: Fallback | None
    dictionary: Dictionary | None  # the reason statements' texts of the version

    @property
    def policy(self) -> Policy:
        if self.pinned is not None:
            return "model"
        return "fallback" if self.fallback is not None else "none"

    @property
    def version(self) -> str:
        """The name a response and a record give the decider: the version, or "fallback"."""
        return self.pinned.version if self.pinned is not None else FALLBACK_POLICY


@dataclass(frozen=True)
class Rejected:
    id: str
    column: str
    reason: str  # as in the quarantine: "<column>: <problem>"


@dataclass(frozen=True)
class Decided:
    """The decided applications, each with its scored row (the scores schema: what `scores/` holds for it), in
    the applications' order, rejected ones left out; and the rejected applications with each reason."""

    rows: list[tuple[Application, dict[str, Any]]]
    rejected: list[Rejected]


def curated_rows(applications: list[Application], spec: DatasetSpec, day: dt.date
                 ) -> tuple[pa.Table, list[Application], list[Rejected]]:
    """The applications' raw fields validated as preprocessing validates a landing file (business date `day`):
    the clean ones as curated rows (an Arrow table) and which applications they are, the others with their
    reasons."""
    names = [c.name for c in spec.columns]
    frame = pd.DataFrame([[a.id if n == spec.id_column else a.fields.get(n) for n in names] for a in applications],
                         columns=names, dtype="string")
    validated = validate_fields(frame, spec, day)
    clean = validated.clean_mask
    rejected = [Rejected(a.id, reason.split(":", 1)[0], reason)
                for a, reasons in zip(applications, validated.reasons, strict=True) for reason in reasons]
    curated = validated.values[clean].reset_index(drop=True)
    curated.insert(0, BUSINESS_DATE, pd.Series([pd.Timestamp(day)] * len(curated), dtype="datetime64[s]"))
    kept = [a for a, ok in zip(applications, clean, strict=True) if ok]
    return pa.Table.from_pandas(curated, preserve_index=False), kept, rejected


def decide(applications: list[Application], spec: DatasetSpec, loaded: Loaded, day: dt.date) -> Decided:
    """Validate and decide the applications with what `loaded` holds (never "none": the caller refuses that).
    Ids must be distinct (validation rejects a repeated one, as within a landed day)."""
    table, kept, rejected = curated_rows(applications, spec, day)
    if table.num_rows == 0:
        return Decided([], rejected)
    if loaded.pinned is not None:
        scores = score_table(table, spec, loaded.pinned)
    elif loaded.fallback is not None:
        scores = fallback_table(table, spec, loaded.fallback)
    else:
        raise ValueError("nothing decides: the caller answers 503")
    return Decided(list(zip(kept, scores.to_pylist(), strict=True)), rejected)


def reasons(row: dict[str, Any], loaded: Loaded) -> list[dict[str, str]]:
    """A scored row's reason statements as {code, text}, strongest first."""
    codes = [row[f"reason_{i + 1}"] for i in range(REASONS) if row.get(f"reason_{i + 1}") is not None]
    texts = loaded.dictionary
    return [{"code": c, "text": texts.text(c) if texts is not None and c in texts.codes else c} for c in codes]


__all__ = ["FALLBACK_POLICY", "MODEL_POLICY", "Decided", "Loaded", "Rejected", "curated_rows", "decide", "reasons"]
