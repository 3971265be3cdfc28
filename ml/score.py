"""Batch scoring: curated day -> PD, score, band, policy decision and top-3 reason codes per row.

The model version is resolved once and pinned for the whole run (every partition gets the same version).
The day's parquet is streamed in record batches, so memory stays flat as the input grows. Partitions
write staging files; commit merges them in order into `scores/<ds>/date=D/model=V/part-0.parquet`
atomically, with fixed row-group boundaries, so a partitioned run gives the same bytes as a single one.

Reason codes are XGBoost's approximate contributions (`approx_contribs=True`, Saabas' method: the
change in the tree's expected value at every split on the path, credited to the split feature). They
cost a small multiple of a plain prediction, unlike exact TreeSHAP, and by default are computed for
the rows that are declined or sent to review: the adverse actions that have to be explained.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xgboost as xgb

from ml import policy as pol
from ml.errors import MissingDataError, RiskopsError
from ml.model import RiskModel
from ml.preprocess import read_manifest
from ml.spec import DatasetSpec
from ml.storage import Storage, partition

BATCH_ROWS = 200_000
ROW_GROUP_ROWS = 500_000
REASONS = 3
SCHEMA = pa.schema([
    ("id", pa.string()), ("pd", pa.float64()), ("score", pa.int32()), ("band", pa.string()),
    ("decision", pa.string()), ("hard_rule", pa.string()),
    *[(f"reason_{i + 1}", pa.string()) for i in range(REASONS)],
])


@dataclass(frozen=True)
class PinnedModel:
    name: str
    version: str
    run_id: str
    model: RiskModel


def champion_version(dataset: str) -> str:
    """The Production version of the dataset's model; fails clearly when nothing is approved yet."""
    from mlflow import MlflowClient

    from ml import registry

    client = MlflowClient()
    name = registry.model_name(dataset)
    champion = registry.resolve_champion(client, name, sync=False)  # None for an unregistered model too
    if champion is None:
        raise MissingDataError(
            f"no Production model for '{dataset}' ({name}): approve a candidate first (DAG retrain_{dataset}, "
            f"task 'approval', or `python -m ml promote --dataset {dataset} --version N --approver NAME`); "
            "nothing was scored")
    return champion.version


def resolve_model(dataset: str, version: str | None = None) -> PinnedModel:
    """The champion (or an explicit version), loaded once and pinned for the whole run."""
    from mlflow import MlflowClient

    from ml import registry
    from ml.retrain import load_registered

    client = MlflowClient()
    name = registry.model_name(dataset)
    version = version or champion_version(dataset)
    mv = registry._version(client, name, str(version))
    return PinnedModel(name=name, version=str(mv.version), run_id=str(mv.run_id), model=load_registered(name, str(version)))


def reason_codes(model: RiskModel, features: pd.DataFrame, k: int = REASONS) -> np.ndarray:
    """Names of the k features pushing each row's PD up the most (positive contributions only)."""
    if len(features) == 0:
        return np.empty((0, k), dtype=object)
    contribs = model.booster.predict(xgb.DMatrix(features, enable_categorical=True),
                                     pred_contribs=True, approx_contribs=True)[:, :-1]  # last column: bias
    names = np.array(model.pipeline.order, dtype=object)
    top = np.argsort(-contribs, axis=1, kind="stable")[:, :k]
    out = names[top]
    out[np.take_along_axis(contribs, top, axis=1) <= 0] = None  # a feature lowering risk is no reason
    return out


def score_frame(frame: pd.DataFrame, spec: DatasetSpec, pinned: PinnedModel) -> pd.DataFrame:
    """Score curated rows: the same code path for nightly batches and for analysts' files."""
    model = pinned.model
    features = model.pipeline.transform(frame)
    pd_ = np.asarray(model.booster.inplace_predict(features), dtype=np.float64)
    result = pol.decide(frame, pd_, model.threshold, spec.policy)
    explain = (result["decision"] != "approve") if spec.policy.reason_codes == "adverse" else np.ones(len(frame), bool)
    reasons = np.full((len(frame), REASONS), None, dtype=object)
    idx = np.flatnonzero(explain)
    reasons[idx] = reason_codes(model, features.iloc[idx])
    out = pd.DataFrame({"id": frame[spec.id_column].astype("string").to_numpy(), "pd": pd_, **result})
    for i in range(REASONS):
        out[f"reason_{i + 1}"] = reasons[:, i]
    return out


def _batches(storage: Storage, key: str, lo: int, hi: int) -> Iterator[pd.DataFrame]:
    """Rows [lo, hi) of a parquet file as DataFrames of at most BATCH_ROWS rows, read batch by batch."""
    with storage.open_read(key) as fh:
        offset = 0
        for batch in pq.ParquetFile(fh).iter_batches(batch_size=BATCH_ROWS):
            start, end = offset, offset + batch.num_rows
            offset = end
            if end <= lo or start >= hi:
                continue
            yield batch.slice(max(lo - start, 0), min(hi, end) - max(lo, start)).to_pandas()


def scores_key(dataset: str, day: dt.date, version: str) -> str:
    return f"{partition('scores', dataset, day)}/model={version}/part-0.parquet"


def _staging(dataset: str, day: dt.date, version: str, part: int) -> str:
    return f"scores/_staging/{dataset}/date={day.isoformat()}/model={version}/part-{part:04d}.parquet"


def _curated(storage: Storage, spec: DatasetSpec, day: dt.date) -> tuple[str, dict[str, Any]]:
    manifest = read_manifest(storage, spec.name, day)
    if manifest is None:
        raise MissingDataError(f"no curated data for '{spec.name}' on {day}: run preprocess for that date first")
    return manifest["outputs"]["curated"], manifest


def _metadata(pinned: PinnedModel) -> dict[bytes, bytes]:
    return {b"riskops.model": pinned.name.encode(), b"riskops.model_version": pinned.version.encode(),
            b"riskops.run_id": pinned.run_id.encode()}


def score_partition(storage: Storage, spec: DatasetSpec, day: dt.date, pinned: PinnedModel,
                    part: int = 0, parts: int = 1) -> int:
    """Score one contiguous slice of the day into a staging file; returns the rows scored."""
    if not 0 <= part < parts:
        raise RiskopsError(f"partition {part} is not within 0..{parts - 1}")
    key, _ = _curated(storage, spec, day)
    with storage.open_read(key) as fh:
        total = pq.ParquetFile(fh).metadata.num_rows
    lo, hi = total * part // parts, total * (part + 1) // parts
    scored = (pa.Table.from_pandas(score_frame(frame, spec, pinned), schema=SCHEMA, preserve_index=False)
              for frame in _batches(storage, key, lo, hi))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "part.parquet")
        rows = _write(path, pinned, _rebatch(scored))
        storage.put_file(path, _staging(spec.name, day, pinned.version, part))
    return rows


def _write(path: str, pinned: PinnedModel, tables: Iterator[pa.Table]) -> int:
    """Write tables of ROW_GROUP_ROWS rows, one row group each; returns the row count."""
    rows = 0
    with pq.ParquetWriter(path, SCHEMA.with_metadata(_metadata(pinned)), compression="zstd") as writer:
        for table in tables:
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += table.num_rows
    return rows


def commit(storage: Storage, spec: DatasetSpec, day: dt.date, pinned: PinnedModel, parts: int,
           now: dt.datetime | None = None) -> dict[str, Any]:
    """Merge the staging parts in order into the day's scores file and write the scoring manifest."""
    key, manifest = _curated(storage, spec, day)
    staged = [_staging(spec.name, day, pinned.version, i) for i in range(parts)]
    missing = [s for s in staged if not storage.exists(s)]
    if missing:
        raise MissingDataError(f"cannot commit {spec.name} {day}: partitions not scored yet: {missing}")
    target = scores_key(spec.name, day, pinned.version)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scores.parquet")
        if parts == 1:  # already written in final row groups by score_partition: publish as is
            with storage.open_read(staged[0]) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            _write(path, pinned, _rebatch(_staged_batches(storage, staged)))
        rows, decisions = _decisions(path)
        if rows != manifest["rows_clean"]:  # quarantine happened upstream: every curated row must be scored
            raise RiskopsError(f"{spec.name} {day}: {manifest['rows_clean']} curated rows but {rows} scored")
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()  # streamed: memory stays flat
        storage.put_file(path, target)  # published only once the row count is checked
    result = {
        "dataset": spec.name, "date": day.isoformat(), "model": pinned.name, "model_version": pinned.version,
        "run_id": pinned.run_id, "input_manifest_sha256": manifest["input_sha256"], "curated": key,
        "rows_in": manifest["rows_clean"], "rows_scored": rows, "decisions": decisions, "partitions": parts,
        "scores": target, "scores_sha256": digest,
        "scored_at": (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
    }
    storage.write_json(f"manifests/score/{spec.name}/date={day.isoformat()}/model={pinned.version}.json", result)
    for s in staged:
        storage.delete(s)
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


def _decisions(path: str) -> tuple[int, dict[str, int]]:
    """Rows and decision counts of a scores file, reading only its decision column."""
    decisions = {"approve": 0, "review": 0, "decline": 0}
    column = pq.read_table(path, columns=["decision"]).column("decision")
    for entry in pc.value_counts(column).to_pylist():
        decisions[str(entry["values"])] += int(entry["counts"])
    return len(column), decisions


def score_day(storage: Storage, spec: DatasetSpec, day: dt.date, pinned: PinnedModel) -> dict[str, Any]:
    """Single-partition scoring of a day (CLI default): score, then commit."""
    score_partition(storage, spec, day, pinned)
    return commit(storage, spec, day, pinned, 1)


def score_file(data: bytes, name: str, spec: DatasetSpec, pinned: PinnedModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score an analyst's raw file through the same validation and scoring code; returns (scores, quarantine)."""
    from ml.preprocess import process_files

    result = process_files([(name, data)], spec, dt.date.today())
    return score_frame(result["curated"], spec, pinned), result["quarantine"]
