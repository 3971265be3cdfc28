"""Scoring while the dataset's model is halted (`ml.governance.halt`): the spec's fallback policy
(`oversight.fallback`) decides every row before any model is loaded, or scoring refuses with one line when
the spec has none.

A halted day's decisions go to `scores/<ds>/date=D/model=fallback/part-0.parquet`, in the scores schema with
no PD, score, band or reason codes, and `policy` = "fallback" on every row (rows a model decided say "model");
its manifest (`manifests/fallback/<ds>/date=D.json`) names the policy, the halt (who, when, why) and the
decision counts. Monitoring and backtests read the model versions' scores only, so a halted day is never
judged as if a model had scored it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ml import contracts, layout
from ml import policy as credit_policy
from ml.errors import RiskopsError
from ml.scoring.manifests import FallbackManifest, HaltRecord
from ml.scoring.run import Outcome
from ml.spec import DatasetSpec, Fallback, Policy
from ml.storage import Storage

if TYPE_CHECKING:  # the halt is read from MLflow (ml.governance.halt), which this module need not import
    from ml.governance.halt import Halt

POLICY = "fallback"  # the `policy` of the rows the fallback decided


def halt_of(dataset: str) -> Halt | None:
    """The halt in force on the dataset's model (read from MLflow), or None when its champion may score
    (`ml.governance.trust`, which the decision service reads too)."""
    from mlflow import MlflowClient

    from ml.governance import trust

    return trust.halt_of(MlflowClient(), dataset)


def fallback_policy(spec: DatasetSpec, halt: Halt) -> Fallback:
    """The spec's fallback policy; without one, the refusal: a halted model scores nothing."""
    if spec.oversight.fallback is None:
        raise RiskopsError(f"{halt.text()}; the spec of '{spec.name}' has no fallback policy (oversight.fallback), "
                           f"so nothing was scored. An approver resumes it: python -m ml resume --dataset {spec.name}"
                           " --approver NAME --reason WHY")
    return spec.oversight.fallback


def decide(frame: pd.DataFrame, policy: Policy, fallback: Fallback) -> dict[str, "pd.Categorical[Any]"]:
    """The fallback's decision of each row: `otherwise` in place of the model's, made stricter by the first
    matching hard rule (when the fallback applies the rules), as rules make a model's decision stricter; and
    the matching rule's code. `frame` needs the rules' columns (`policy.rule_columns`)."""
    rules = policy.hard_rules if fallback.hard_rules else []
    matched = credit_policy.hard_rules(frame, rules) if rules else np.full(len(frame), -1)
    otherwise = credit_policy.DECISIONS.index(fallback.otherwise)
    actions = np.array([credit_policy.DECISIONS.index(r.action) for r in rules] + [otherwise])  # [-1]: no rule matched
    codes = list(dict.fromkeys(r.code for r in policy.hard_rules))
    rule_code = np.array([codes.index(r.code) for r in rules] + [-1])[matched]
    decision = np.maximum(actions[matched], otherwise)  # codes rise with severity
    return {"decision": pd.Categorical.from_codes(decision, dtype=pd.CategoricalDtype(list(credit_policy.DECISIONS))),
            "hard_rule": pd.Categorical.from_codes(rule_code, dtype=pd.CategoricalDtype(codes))}


def _labels(values: "pd.Categorical[Any]") -> pa.DictionaryArray:
    codes = np.asarray(values.codes, dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(list(values.categories), pa.string()))


def fallback_table(table: pa.Table, spec: DatasetSpec, fallback: Fallback) -> pa.Table:
    """The scores of curated rows (an Arrow table) as the fallback decides them, in the scores schema."""
    from ml.scoring.score import REASONS, SCHEMA

    n = table.num_rows
    result = decide(table.select(credit_policy.rule_columns(spec.policy.hard_rules)).to_pandas(), spec.policy, fallback)
    none = {name: pa.nulls(n, SCHEMA.field(name).type) for name in ("pd", "score", "band")}
    return pa.Table.from_arrays([
        pc.cast(table.column(spec.id_column), pa.string()), none["pd"], none["score"], none["band"],
        _labels(result["decision"]), _labels(result["hard_rule"]),
        *(pa.nulls(n, SCHEMA.field(f"reason_{i + 1}").type) for i in range(REASONS)),
        _labels(pd.Categorical.from_codes(np.zeros(n, dtype=np.int32), dtype=pd.CategoricalDtype([POLICY]))),
    ], schema=SCHEMA)


def fallback_frame(frame: pd.DataFrame, spec: DatasetSpec, halt: Halt) -> pd.DataFrame:
    """fallback_table for a pandas frame of curated rows (an analyst's file), or the refusal."""
    fallback = fallback_policy(spec, halt)
    scores: pd.DataFrame = fallback_table(pa.Table.from_pandas(frame, preserve_index=False), spec, fallback).to_pandas()
    return scores


def fallback_file(data: bytes, name: str, spec: DatasetSpec, halt: Halt) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An analyst's raw file decided by the fallback policy (validated as scoring validates it); returns (scores,
    quarantine), as `ml.scoring.score.score_file` does."""
    from ml.data.preprocess import process_files

    fallback_policy(spec, halt)  # refused before the file is read
    result = process_files([(name, data)], spec, dt.date.today())
    return fallback_frame(result["curated"], spec, halt), result["quarantine"]


def _counts(scores: pa.Table, spec: DatasetSpec) -> tuple[dict[str, int], dict[str, int]]:
    decisions = dict.fromkeys(credit_policy.DECISIONS, 0)
    rules = dict.fromkeys((r.code for r in spec.policy.hard_rules), 0)
    for name, counts in (("decision", decisions), ("hard_rule", rules)):
        for entry in pc.value_counts(scores.column(name)).to_pylist():
            if entry["values"] is not None:
                counts[str(entry["values"])] += int(entry["counts"])
    return decisions, rules


def score_day(storage: Storage, spec: DatasetSpec, day: dt.date, halt: Halt, run_key: str | None = None,
              now: dt.datetime | None = None) -> FallbackManifest:
    """Decide a curated day with the fallback policy (or refuse), publish its scores and manifest; returns it.
    Reads only the id and the rules' columns: the model is never loaded."""
    from ml.scoring.score import curated_input

    fallback = fallback_policy(spec, halt)
    key, manifest = curated_input(storage, spec, day)
    columns = list(dict.fromkeys([spec.id_column, *credit_policy.rule_columns(spec.policy.hard_rules)]))
    with storage.open_read(key) as fh:
        curated = pq.read_table(fh, columns=columns)
    scores = fallback_table(curated, spec, fallback)
    if scores.num_rows != manifest.rows_clean:
        raise RiskopsError(f"{spec.name} {day}: {manifest.rows_clean} curated rows but {scores.num_rows} decided")
    buffer = io.BytesIO()
    pq.write_table(scores, buffer, compression="zstd")
    target, manifest_key = layout.scores(spec.name, day, layout.FALLBACK), layout.fallback_manifest(spec.name, day)
    storage.delete(manifest_key)  # the manifest is the commit record, as for a model's scores
    storage.write_bytes(target, buffer.getvalue())
    decisions, matched = _counts(scores, spec)
    result = FallbackManifest(
        dataset=spec.name, date=day.isoformat(), policy=POLICY, fallback=fallback,
        fallback_policy=fallback.describe(),
        halt=HaltRecord(model=halt.model_name, version=halt.version, by=halt.by, at=halt.at, reason=halt.reason),
        input_manifest_sha256=manifest.input_sha256, curated=key, rows_in=manifest.rows_clean,
        rows_scored=scores.num_rows, decisions=decisions, hard_rules=matched, scores=target,
        scores_sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
        scored_at=(now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        run_key=run_key or None,
    )
    contracts.write(storage, manifest_key, result)
    return result


def score_days(storage: Storage, spec: DatasetSpec, days: list[dt.date], halt: Halt,
               run_key: str | None = None) -> Iterator[Outcome]:
    """`score_day` of each day in turn, each its own commit; yields each day's outcome (`ml.scoring.run`) and goes
    on after a failed day."""
    for day in days:
        try:
            yield day, score_day(storage, spec, day, halt, run_key=run_key), None
        except RiskopsError as exc:
            yield day, None, exc
