"""Batch scoring: curated day -> PD, score, band, policy decision and up to four reason statements per row.

The model version is resolved once and pinned for the whole run (every partition gets the same version).
The day's parquet is streamed in Arrow record batches (only the columns scoring reads, categorical text as
dictionaries), so memory stays flat as the input grows and text is never turned into Python objects; the
categorical outputs (band, decision, hard rule, reasons) are dictionary-encoded columns. Partitions
write staging files; commit merges them in order into `scores/<ds>/date=D/model=V/part-0.parquet`
atomically, with fixed row-group boundaries, so a partitioned run gives the same bytes as a single one.

Batches are scored on WORKERS threads at once (each batch's XGBoost predictions on one thread, so no core
waits at the end of a parallel region while another thread holds it), read and written in order on the
calling thread while the workers score.

Reasons are the spec's reason statements (`ml.reasons`) ranked on the model's contributions: XGBoost's
approximate contributions (`approx_contribs=True`, Saabas' method: the change in the tree's expected value
at every split on the path, credited to the split feature), predicted by a booster whose leaves carry them
(`ml.scoring.contributions`: the numbers of `RiskModel.contributions` in about half its time); a row a hard
rule decided gets the rule's statement first. By default for the rows the model declines or sends to
review, the adverse actions that have to be explained. A spec without statements gives feature names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import shutil
import tempfile
import weakref
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ml import contracts, layout, policy
from ml import reasons as reason_statements
from ml.boosting import xgb
from ml.data.preprocess import PreprocessManifest, quality_passed, read_manifest
from ml.errors import MissingDataError, RiskopsError
from ml.model.riskmodel import RiskModel
from ml.rating import band_scale
from ml.scoring.contributions import saabas_booster
from ml.scoring.manifests import ReasonMix, ScoreManifest, read_score_manifest
from ml.scoring.run import Outcome
from ml.spec import DatasetSpec, HardRule
from ml.storage import Storage, unreadable

if TYPE_CHECKING:
    from ml.governance.trust import Trusted

BATCH_ROWS = 125_000
ROW_GROUP_ROWS = 250_000
REASONS = reason_statements.MAX_REASONS
# batches scored at once: one per core XGBoost would use (it counts the cores this process may run on)
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
T = TypeVar("T")
U = TypeVar("U")
_LABEL = pa.dictionary(pa.int32(), pa.string())  # categorical outputs: small fixed vocabularies
SCHEMA = pa.schema([
    ("id", pa.string()), ("pd", pa.float64()), ("score", pa.int32()), ("band", _LABEL), ("decision", _LABEL),
    ("hard_rule", _LABEL), *[(f"reason_{i + 1}", _LABEL) for i in range(REASONS)],
    ("policy", _LABEL),  # which policy decided the row: "model" here, "fallback" while halted (ml.scoring.fallback)
])
MODEL_POLICY = "model"


@dataclass(frozen=True)
class PinnedModel:
    """A registered version fixed for the whole run. Its model is loaded on first use, once: a commit task
    needs only the version's identity and never pays for loading it."""

    name: str
    version: str
    run_id: str
    model_sha256: str = "not recorded"  # checked against the files when the model loads

    @cached_property
    def model(self) -> RiskModel:
        from mlflow import MlflowClient

        from ml.governance import registry

        return registry.load_model(MlflowClient(), self.name, self.version)

    @cached_property
    def scoring(self) -> "Scoring":
        """The model made ready to score batches in parallel (once per run, as part of loading it)."""
        return Scoring.of(self.model)


@dataclass(frozen=True)
class Scoring:
    """A loaded model as the scoring workers use it: its booster predicting on one thread (the batches run in
    parallel instead), and the booster predicting its reason codes' contributions (None: XGBoost's own)."""

    model: RiskModel
    contributions: xgb.Booster | None

    @classmethod
    def of(cls, model: RiskModel) -> "Scoring":
        booster = model.booster.copy()
        booster.set_param({"nthread": 1})
        return cls(dataclasses.replace(model, booster=booster), saabas_booster(booster))


def champion_version(dataset: str) -> str:
    """The Production version of the dataset's model; fails clearly when nothing is approved yet."""
    pinned = resolve_model(dataset)
    return pinned.version


def pinned_model(trusted: "Trusted") -> PinnedModel:
    """The version `ml.governance.trust` let decide, pinned (its model loads on first use)."""
    if trusted.halt is not None:  # a halted model is never loaded
        raise RiskopsError(f"{trusted.halt.text()}: no version of it scores")
    if trusted.version is None:
        raise RiskopsError(f"{trusted.model_name} has no version that may decide")
    return PinnedModel(name=trusted.model_name, version=trusted.version, run_id=trusted.run_id,
                       model_sha256=trusted.model_sha256)


def resolve_model(dataset: str, version: str | None = None) -> PinnedModel:
    """The champion (or an explicit version that was approved once and never rejected), pinned for the run: the
    rule of `ml.governance.trust`, which the decision service follows too."""
    from mlflow import MlflowClient

    from ml.governance import trust

    return pinned_model(trust.resolve(MlflowClient(), dataset, None if version is None else str(version)))


_SAABAS: "weakref.WeakKeyDictionary[xgb.Booster, tuple[xgb.Booster | None]]" = weakref.WeakKeyDictionary()


def contributions(model: RiskModel, features: pd.DataFrame, saabas: xgb.Booster | None = None) -> np.ndarray:
    """`RiskModel.contributions` (rows x `model.pipeline.order`), bit for bit, in about half its time: from the
    model's `contributions.saabas_booster` (`saabas`; made here, once per booster, when not given)."""
    if saabas is None:
        if model.booster not in _SAABAS:
            _SAABAS[model.booster] = (saabas_booster(model.booster),)
        (saabas,) = _SAABAS[model.booster]
    if saabas is None or len(features) == 0:  # a model the Saabas booster does not cover
        return model.contributions(features)
    return np.asarray(saabas.inplace_predict(features, predict_type="margin")).reshape(len(features), -1)


def reason_codes(model: RiskModel, features: pd.DataFrame, dictionary: reason_statements.Dictionary | None = None,
                 k: int = REASONS, saabas: xgb.Booster | None = None) -> np.ndarray:
    """Per row, the statements (indices into `dictionary.codes`; without a dictionary, positions in
    `model.pipeline.order`) pushing the PD up the most, strongest first; -1 where fewer than k push it up (a
    feature lowering risk is no reason)."""
    dictionary = dictionary or reason_statements.Dictionary.of_features(model.pipeline.order)
    return reason_statements.rank(contributions(model, features, saabas), dictionary, k)


def decide_rows(table: pa.Table, spec: DatasetSpec, model: RiskModel
                ) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Model input, PD and policy decisions (`policy.decide`) of curated rows (an Arrow table)."""
    features = model.pipeline.transform(table)
    pd_ = model.pd(features)
    return features, pd_, policy.decide(table.select(policy.rule_columns(spec.policy.hard_rules)).to_pandas(), pd_,
                                     model.threshold, spec.policy, band_scale(model.bands, spec.policy))


def score_table(table: pa.Table, spec: DatasetSpec, pinned: PinnedModel) -> pa.Table:
    """Score curated rows (an Arrow table; XGBoost on one thread: `score_partition` and `score_frame` score
    several at once): the same code path for nightly batches and for analysts' files."""
    scoring = pinned.scoring
    model = scoring.model
    features, pd_, result = decide_rows(table, spec, model)
    # rows the model itself declines or reviews (or every row); a row a hard rule decided gets the rule's
    # statement first (without statements, the rule's code is in hard_rule)
    explained = result["model_decision"].codes != 0 if spec.policy.reason_codes == "adverse" \
        else np.ones(len(pd_), bool)
    dictionary = reason_statements.Dictionary.of(spec, model.pipeline.order)
    rows = np.flatnonzero(explained)
    reasons = reason_statements.row_statements(dictionary, contributions(model, features.iloc[rows] if len(rows) < len(pd_)
                                                          else features, scoring.contributions),
                                explained, result["hard_rule"], REASONS)
    names = list(dictionary.codes)
    return pa.Table.from_arrays([
        pc.cast(table.column(spec.id_column), pa.string()), pa.array(pd_), pa.array(result["score"]),
        *(_labels(result[c].codes, list(result[c].categories)) for c in ("band", "decision", "hard_rule")),
        *(_labels(reasons[:, i], names) for i in range(REASONS)),
        _labels(np.zeros(len(pd_), dtype=np.int32), [MODEL_POLICY]),
    ], schema=SCHEMA)


def score_frame(frame: pd.DataFrame, spec: DatasetSpec, pinned: PinnedModel) -> pd.DataFrame:
    """score_table for a pandas frame of curated rows (an analyst's file), in batches scored in parallel."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    batches = (table.slice(start, BATCH_ROWS) for start in range(0, max(table.num_rows, 1), BATCH_ROWS))
    tables = _in_order(batches, lambda batch: score_table(batch, spec, pinned), WORKERS)
    scores: pd.DataFrame = pa.concat_tables(tables).to_pandas()
    return scores


def _labels(codes: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    """Codes into a fixed vocabulary as an Arrow dictionary array; -1 is missing."""
    codes = np.asarray(codes, dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(names, pa.string()))


def _batches(storage: Storage, key: str, columns: list[str], categorical: list[str], part: int,
             parts: int) -> Iterator[pa.Table]:
    """Slice `part` of `parts` contiguous slices of a parquet file's rows, the given columns, read BATCH_ROWS
    at a time; categorical text columns come as dictionaries, so they are decoded per distinct value, not
    per row. Row groups wholly outside the slice are not read at all."""
    with storage.open_read(key) as fh:
        try:
            source = pq.ParquetFile(fh, read_dictionary=categorical)
        except pa.ArrowException as exc:
            raise unreadable(storage.url(key), exc) from exc
        total = source.metadata.num_rows
        lo, hi = total * part // parts, total * (part + 1) // parts
        starts = np.cumsum([0] + [source.metadata.row_group(i).num_rows for i in range(source.num_row_groups)])
        groups = [i for i in range(source.num_row_groups) if starts[i] < hi and starts[i + 1] > lo]
        offset = int(starts[groups[0]]) if groups else 0
        for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=columns, row_groups=groups):
            start, end = offset, offset + batch.num_rows
            offset = end
            if end <= lo or start >= hi:
                continue
            yield pa.Table.from_batches([batch.slice(max(lo - start, 0), min(hi, end) - max(lo, start))])


def curated_input(storage: Storage, spec: DatasetSpec, day: dt.date) -> tuple[str, PreprocessManifest]:
    """The key of a day's curated file and its preprocessing manifest; refused when the day was not preprocessed
    or failed its data-quality gate."""
    manifest = read_manifest(storage, spec.name, day)
    if manifest is None:
        raise MissingDataError(f"no curated data for '{spec.name}' on {day}: run preprocess for that date first")
    if not quality_passed(manifest):  # a broken day is never scored
        raise RiskopsError(f"{spec.name} {day} failed its data-quality gate at preprocessing "
                           f"({'; '.join(manifest.quality.failures if manifest.quality else [])}): it is not "
                           "scored; re-deliver the batch "
                           "(or change the spec's quality gates) and preprocess the day again")
    return manifest.outputs.curated, manifest


def _metadata(pinned: PinnedModel) -> dict[bytes, bytes]:
    return {b"riskops.model": pinned.name.encode(), b"riskops.model_version": pinned.version.encode(),
            b"riskops.run_id": pinned.run_id.encode()}


def score_partition(storage: Storage, spec: DatasetSpec, day: dt.date, pinned: PinnedModel,
                    part: int = 0, parts: int = 1) -> int:
    """Score one contiguous slice of the day into a staging file; returns the rows scored."""
    if not 0 <= part < parts:
        raise RiskopsError(f"partition {part} is not within 0..{parts - 1}")
    key, _ = curated_input(storage, spec, day)
    pipeline = pinned.model.pipeline
    columns = list(dict.fromkeys([spec.id_column, *pipeline.inputs, *policy.rule_columns(spec.policy.hard_rules)]))
    tables = _batches(storage, key, columns, list(pipeline.categorical), part, parts)
    # read and written here, in order, while the workers score the batches after the one being written
    scored = _in_order(tables, lambda table: score_table(table, spec, pinned), WORKERS)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "part.parquet")
        rows = _write(path, pinned, _rebatch(scored))
        storage.put_file(path, layout.scores_staging_part(spec.name, day, pinned.version, part))
    return rows


def _in_order(items: Iterable[T], fn: Callable[[T], U], workers: int) -> Iterator[U]:
    """fn of each item, computed on `workers` threads, yielded in the items' order. One item more than the
    workers is submitted, so a worker finds the next one waiting while the caller uses a result; an
    exception raised by fn is raised here, and the items not started yet are dropped."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[U]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _write(path: str, pinned: PinnedModel, tables: Iterator[pa.Table]) -> int:
    """Write tables of ROW_GROUP_ROWS rows, one row group each; returns the row count."""
    rows = 0
    # ids and PDs are (nearly) all distinct: trying a dictionary on them only costs time. An uncalibrated PD
    # is a float32 widened to float64: split into byte streams, its zero low bytes compress to nothing.
    # Min/max statistics only for the numbers: those of a million ids or of the label columns (which need the
    # labels each batch refers to) cost a third of the writing and prune nothing anyone queries
    with pq.ParquetWriter(path, SCHEMA.with_metadata(_metadata(pinned)), compression="zstd",
                          use_dictionary=[f.name for f in SCHEMA if f.name not in ("id", "pd")],
                          column_encoding={"pd": "BYTE_STREAM_SPLIT"}, write_statistics=["pd", "score"]) as writer:
        for table in tables:
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += table.num_rows
    return rows


def commit(storage: Storage, spec: DatasetSpec, day: dt.date, pinned: PinnedModel, parts: int,
           now: dt.datetime | None = None, run_key: str | None = None) -> ScoreManifest:
    """Merge the staging parts in order into the day's scores file and write the scoring manifest.

    The manifest is the commit record: the old one is removed before the scores file is replaced and the new
    one written after it, so a manifest always describes the file beside it; a scores file without a manifest
    is an unfinished commit (readers go through the manifest) that re-running the commit completes."""
    key, manifest = curated_input(storage, spec, day)
    staged = [layout.scores_staging_part(spec.name, day, pinned.version, i) for i in range(parts)]
    missing = [s for s in staged if not storage.exists(s)]
    if missing:
        raise MissingDataError(f"cannot commit {spec.name} {day}: partitions not scored yet: {missing}")
    target = layout.scores(spec.name, day, pinned.version)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scores.parquet")
        if parts == 1:  # already written in final row groups by score_partition: publish as is
            with storage.open_read(staged[0]) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            _write(path, pinned, _rebatch(_staged_batches(storage, staged)))
        rows, decisions, matched, mix = _counts(path, spec.policy.hard_rules)
        if rows != manifest.rows_clean:  # quarantine happened upstream: every curated row must be scored
            raise RiskopsError(f"{spec.name} {day}: {manifest.rows_clean} curated rows but {rows} scored")
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()  # streamed: memory stays flat
        manifest_key = layout.score_manifest(spec.name, day, pinned.version)
        storage.delete(manifest_key)
        for published in (target, manifest_key):
            storage.remove_stale_temporaries(published)
        storage.put_file(path, target)  # published only once the row count is checked
    result = ScoreManifest(
        dataset=spec.name, date=day.isoformat(), model=pinned.name, model_version=pinned.version,
        run_id=pinned.run_id, model_sha256=pinned.model_sha256,
        input_manifest_sha256=manifest.input_sha256, curated=key,
        rows_in=manifest.rows_clean, rows_scored=rows, decisions=decisions,
        hard_rules=matched, reasons=mix, partitions=parts, policy=MODEL_POLICY,
        scores=target, scores_sha256=digest,
        scored_at=(now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        run_key=run_key or None,
    )
    contracts.write(storage, manifest_key, result)
    # every staged part of this day and version (also those of an earlier run split into more partitions, and
    # temporaries of a killed one), then the staging folders this left empty
    staging = layout.scores_staging(spec.name, day, pinned.version)
    storage.delete(staging)
    storage.remove_empty_folders(staging, up_to=layout.scores_staging_root())
    return result


def _staged_batches(storage: Storage, keys: list[str]) -> Iterator[pa.Table]:
    for key in keys:
        with storage.open_read(key) as fh:
            for batch in pq.ParquetFile(fh).iter_batches(batch_size=BATCH_ROWS):
                yield pa.Table.from_batches([batch])


def _rebatch(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Tables of exactly ROW_GROUP_ROWS rows (the last may be shorter), in order: fixed row-group
    boundaries make the published file independent of how the day was partitioned."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for table in tables:
        pending.extend(table.replace_schema_metadata(None).to_batches())
        size += table.num_rows
        while size >= ROW_GROUP_ROWS:
            merged = pa.Table.from_batches(pending).combine_chunks()
            yield merged.slice(0, ROW_GROUP_ROWS)
            rest = merged.slice(ROW_GROUP_ROWS)
            pending, size = rest.to_batches(), rest.num_rows
    if size:
        yield pa.Table.from_batches(pending).combine_chunks()


def _counts(path: str, rules: list[HardRule]) -> tuple[int, dict[str, int], dict[str, int], ReasonMix]:
    """Rows, decision counts, rows per matching hard rule and the reason mix of a scores file, batch by batch:
    per statement, the explained rows (those with a reason) where it is the first reason and where it is one
    of the reasons."""
    rows, decisions, matched = 0, dict.fromkeys(policy.DECISIONS, 0), dict.fromkeys((r.code for r in rules), 0)
    first: dict[str, int] = {}
    anywhere: dict[str, int] = {}
    explained = 0
    columns = ["decision", "hard_rule", *(f"reason_{i + 1}" for i in range(REASONS))]
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns):
        rows += batch.num_rows
        for name, counts in (("decision", decisions), ("hard_rule", matched), ("reason_1", first),
                             *((f"reason_{i + 1}", anywhere) for i in range(REASONS))):
            for entry in pc.value_counts(batch.column(name)).to_pylist():
                if entry["values"] is not None:
                    counts[str(entry["values"])] = counts.get(str(entry["values"]), 0) + int(entry["counts"])
        explained += batch.num_rows - batch.column("reason_1").null_count
    mix = ReasonMix(explained=explained, first=dict(sorted(first.items())), any=dict(sorted(anywhere.items())))
    return rows, decisions, matched, mix


def score_day(storage: Storage, spec: DatasetSpec, day: dt.date, pinned: PinnedModel,
              run_key: str | None = None) -> ScoreManifest:
    """Single-partition scoring of a day (CLI default): score, then commit."""
    score_partition(storage, spec, day, pinned)
    return commit(storage, spec, day, pinned, 1, run_key=run_key)


def committed_by(storage: Storage, spec: DatasetSpec, day: dt.date, version: str, run_key: str) -> bool:
    """Whether the run `run_key` already committed the day with this version (its manifest names the run)."""
    key = layout.score_manifest(spec.name, day, version)
    return storage.exists(key) and read_score_manifest(storage, key).run_key == run_key


def score_days(storage: Storage, spec: DatasetSpec, days: list[dt.date], pinned: PinnedModel,
               parts: int | None = None, run_key: str | None = None) -> Iterator[Outcome]:
    """Score (or, with `parts`, commit the staged partitions of) each day in turn with one model load, each
    day its own atomic commit; yields each day's outcome (`ml.scoring.run`) and goes on after a failed day."""
    for day in days:
        if run_key and committed_by(storage, spec, day, pinned.version, run_key):
            yield day, None, None
            continue
        try:
            m = (score_day(storage, spec, day, pinned, run_key) if parts is None
                 else commit(storage, spec, day, pinned, parts, run_key=run_key))
        except RiskopsError as exc:
            yield day, None, exc
        else:
            yield day, m, None


def score_file(data: bytes, name: str, spec: DatasetSpec, pinned: PinnedModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score an analyst's raw file through the same validation and scoring code; returns (scores, quarantine)."""
    from ml.data.preprocess import process_files

    result = process_files([(name, data)], spec, dt.date.today())
    return score_frame(result["curated"], spec, pinned), result["quarantine"]

