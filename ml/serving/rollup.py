"""The decision log rolled into daily partitions: `decisions/<ds>/date=D/model=V/part-0.parquet`, in the schema
of `scores/` with a `channel` column ("online"; batch rows have none, so the history tells them apart) and the
record's decision id, time, client and request id, one file per version (or `model=fallback`), and a manifest
written last (`manifests/decisions/<ds>/date=D.json`: records per version, decisions, the log files read and
their SHA-256). Re-running a day replaces it: every log file is read again (several replicas' files may sit in
the folder), records are counted once per decision id."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ml import layout
from ml.scoring.score import SCHEMA as SCORES_SCHEMA
from ml.serving import journal
from ml.spec import DatasetSpec
from ml.storage import Storage

CHANNEL = "online"
_LABEL = pa.dictionary(pa.int32(), pa.string())
SCHEMA = pa.schema([*SCORES_SCHEMA, ("channel", _LABEL), ("decision_id", pa.string()),
                    ("decided_at", pa.string()), ("client", _LABEL), ("request_id", pa.string())])


def _table(records: list[journal.Record]) -> pa.Table:
    columns: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    for r in records:
        for f in SCORES_SCHEMA:
            columns[f.name].append(r.row.get(f.name))
        columns["channel"].append(CHANNEL)
        columns["decision_id"].append(r.decision_id)
        columns["decided_at"].append(r.time)
        columns["client"].append(r.client)
        columns["request_id"].append(r.request_id)
    arrays = []
    for f in SCHEMA:
        if pa.types.is_dictionary(f.type):
            arrays.append(pa.array(columns[f.name], pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(columns[f.name], f.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def rollup_day(storage: Storage, spec: DatasetSpec, day: dt.date, folder: Path,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """Roll the day's records of the dataset from every log file in `folder` into the decisions zone; returns the
    manifest."""
    sources, seen = [], set()
    by_version: dict[str, list[journal.Record]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        count = 0
        for record in journal.read_file(path):
            if record.dataset != spec.name or record.business_date != day.isoformat() or record.decision_id in seen:
                continue
            seen.add(record.decision_id)
            version = record.model_version if record.policy == "model" else layout.FALLBACK
            by_version.setdefault(version, []).append(record)
            count += 1
        if count:
            sources.append({"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                            "records": count})
    manifest_key = layout.decisions_manifest(spec.name, day)
    storage.delete(manifest_key)  # the manifest is the commit record, as for scores
    storage.delete(layout.decisions_day(spec.name, day))
    decisions: Counter[str] = Counter()
    outputs = {}
    for version, records in sorted(by_version.items()):
        records.sort(key=lambda r: (r.time, r.decision_id))
        table = _table(records)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        key = layout.decisions(spec.name, day, version)
        storage.write_bytes(key, buffer.getvalue())
        outputs[version] = {"key": key, "rows": table.num_rows,
                            "sha256": hashlib.sha256(buffer.getvalue()).hexdigest()}
        decisions.update(str(r.row.get("decision")) for r in records)
    result = {"dataset": spec.name, "date": day.isoformat(), "channel": CHANNEL, "records": len(seen),
              "versions": outputs, "decisions": dict(sorted(decisions.items())), "sources": sources,
              "rolled_at": (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")}
    storage.write_json(manifest_key, result)
    return result
