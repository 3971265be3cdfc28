"""Analysts' files scored on demand: names under `ondemand/` in the storage root, confined there (links
included), scored by the model or the fallback policy through the same validation as a day, with the rows that
fail validation written beside the scores."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ml import layout
from ml.errors import RiskopsError
from ml.storage import Storage

# decide(data, name) -> (scores, quarantine): `score.score_file` or `fallback.fallback_file`, bound to a model
Decide = Callable[[bytes, str], tuple[pd.DataFrame, pd.DataFrame]]


@dataclass(frozen=True)
class Scored:
    """What scoring a file wrote: rows scored into `target`, rows refused into `rejected` (none: 0)."""

    source: str
    target: str
    rows: int
    rejected: str
    rejected_rows: int


def paths(storage: Storage, source_name: str, target_name: str | None) -> tuple[str, str]:
    """Storage keys of the input and output files, both confined to the on-demand area (links included)."""
    source, target = layout.ondemand_files(source_name, target_name)
    for key in (source, target, rejects(target)):  # a link under ondemand/ must not carry a file out of it
        storage.check_inside(key, layout.ONDEMAND)
    return source, target


def rejects(target: str) -> str:
    """Where the rows of an on-demand file that failed validation go: beside its scores."""
    return target.rsplit(".", 1)[0] + ".quarantine.csv"


def score(storage: Storage, source: str, target: str, decide: Decide) -> Scored:
    """Score the file `source` into `target` (.csv or .parquet) with `decide`."""
    if not storage.exists(source):
        raise RiskopsError(f"input file not found: {storage.url(source)}")
    scores, quarantine = decide(storage.read_bytes(source), source.rsplit("/", 1)[-1])
    rejected = rejects(target)
    try:
        buffer = io.BytesIO()
        (scores.to_csv(buffer, index=False) if target.endswith(".csv") else scores.to_parquet(buffer, index=False))
        storage.write_bytes(target, buffer.getvalue())
        if len(quarantine):
            storage.write_bytes(rejected, quarantine.to_csv(index=False).encode())
        else:
            storage.delete(rejected)  # a list scored earlier under the same name must not leave its rejects
    except OSError as exc:
        raise RiskopsError(f"cannot write {storage.url(target)}: {exc.strerror or exc}") from exc
    return Scored(source, target, len(scores), rejected, len(quarantine))
