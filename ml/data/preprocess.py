"""Preprocess one business day of one dataset: raw landing files -> curated + quarantine + manifest.

Invariant, checked on every run: rows in == rows clean + rows quarantined.
Outputs are replaced atomically file by file; the manifest is written last, so a day whose manifest
exists is complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from ml import layout
from ml.data.rawfile import RawRecords, check_header, read_records, show_raw
from ml.data.spec import DatasetSpec
from ml.data.validate import validate_fields
from ml.errors import MissingDataError
from ml.storage import Storage

QUARANTINE_COLUMNS = ["business_date", "source_file", "line", "raw", "reason"]


def _records_frame(records: RawRecords) -> tuple[pd.DataFrame, list[list[str]]]:
    """String fields of well-formed records (None elsewhere) plus row-level reasons (shape, encoding)."""
    header = records.header or []
    width = len(header)
    rows: list[list[str] | None] = []
    reasons: list[list[str]] = []
    for fields, bad_bytes in zip(records.fields, records.bad_encoding):
        problems = []
        if bad_bytes:
            problems.append("(row): contains bytes that are not valid text in the file's encoding")
        if len(fields) != width:
            problems.append(f"(row): expected {width} fields, found {len(fields)}")
        reasons.append(problems)
        rows.append(None if problems else fields)
    good = [r if r is not None else [""] * width for r in rows]
    frame = pd.DataFrame(good, columns=header, dtype="string") if header else pd.DataFrame(dtype="string")
    return frame, reasons


def process_files(files: list[tuple[str, bytes]], spec: DatasetSpec, day: dt.date) -> dict[str, Any]:
    """Parse and validate a day's raw files; returns curated and quarantine frames and the manifest body."""
    required = [c.name for c in spec.columns if c.is_required]
    frames, row_reasons, raws, lines, sources, inputs = [], [], [], [], [], []
    for name, data in files:
        records = read_records(data, spec.raw, name)
        if records.header is not None:
            check_header(records, spec.raw, required)
        frame, reasons = _records_frame(records)
        known = {c.name for c in spec.columns}
        header = records.header or []
        inputs.append({
            "file": name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "rows": len(records.fields),
            "blank_lines": records.blank_lines,
            "empty": records.header is None,
            "extra_columns": [h for h in header if h not in known],
            "missing_optional_columns": [c.name for c in spec.columns if c.name not in header] if header else [],
        })
        frames.append(frame)
        row_reasons.extend(reasons)
        raws.extend(show_raw(r) for r in records.raw)
        lines.extend(records.lines)
        sources.append(np.full(len(records.fields), name, dtype=object))
    rows_in = len(row_reasons)
    strings = pd.concat([f for f in frames if len(f.columns)], ignore_index=True) if rows_in else pd.DataFrame()
    strings = strings.reindex(range(rows_in))
    validated = validate_fields(strings.astype("string"), spec)
    reasons = [shape or vals for shape, vals in zip(row_reasons, validated.reasons)]
    clean = np.array([not r for r in reasons], dtype=bool)

    curated = validated.values[clean].reset_index(drop=True)
    curated.insert(0, "business_date", pd.Series([pd.Timestamp(day)] * len(curated), dtype="datetime64[s]"))
    quarantine = pd.DataFrame({
        "business_date": pd.Series([pd.Timestamp(day)] * int((~clean).sum()), dtype="datetime64[s]"),
        "source_file": pd.Series(np.concatenate(sources) if sources else [], dtype="string")[~clean].to_numpy(),
        "line": np.asarray(lines, dtype="int64")[~clean],
        "raw": pd.Series(raws, dtype="string")[~clean].to_numpy(),
        "reason": ["; ".join(r) for r, ok in zip(reasons, clean) if not ok],
    }, columns=QUARANTINE_COLUMNS)
    quarantine["raw"] = quarantine["raw"].astype("string")
    quarantine["reason"] = quarantine["reason"].astype("string")
    quarantine["source_file"] = quarantine["source_file"].astype("string")

    rows_clean, rows_quarantined = len(curated), len(quarantine)
    if rows_in != rows_clean + rows_quarantined:  # a bug in this module, never a data problem
        raise AssertionError(f"row accounting broken: {rows_in} in, {rows_clean} clean, {rows_quarantined} quarantined")
    by_column = Counter(r.split(":", 1)[0] for rs in reasons for r in rs)
    manifest = {
        "dataset": spec.name,
        "date": day.isoformat(),
        "inputs": inputs,
        "input_sha256": hashlib.sha256(
            "".join(f"{i['file']}:{i['sha256']};" for i in inputs).encode()
        ).hexdigest(),
        "rows_in": rows_in,
        "rows_clean": rows_clean,
        "rows_quarantined": rows_quarantined,
        "stats": {
            "quarantine_rate": round(rows_quarantined / rows_in, 6) if rows_in else 0.0,
            "null_rate": {c: round(float(curated[c].isna().mean()), 6) if rows_clean else 0.0
                          for c in curated.columns if c != "business_date"},
            "reasons_by_column": dict(sorted(by_column.items())),
        },
    }
    return {"curated": curated, "quarantine": quarantine, "manifest": manifest}


def preprocess_day(storage: Storage, spec: DatasetSpec, day: dt.date) -> dict[str, Any]:
    """Run preprocessing for one day and write its outputs; returns the manifest."""
    landing = layout.landing(spec.name, day)
    if not storage.exists(landing):
        raise MissingDataError(f"no raw batch for '{spec.name}' on {day}: {storage.url(landing)} does not exist")
    keys = storage.list_files(landing)
    files = [(key.rsplit("/", 1)[-1], storage.read_bytes(key)) for key in keys]
    result = process_files(files, spec, day)  # raises before anything is written if a file is unreadable
    curated_key, quarantine_key = layout.curated(spec.name, day), layout.quarantine(spec.name, day)
    storage.write_parquet(curated_key, result["curated"])
    storage.write_parquet(quarantine_key, result["quarantine"])
    manifest = result["manifest"] | {"outputs": {"curated": curated_key, "quarantine": quarantine_key}}
    storage.write_json(layout.preprocess_manifest(spec.name, day), manifest)
    return manifest


def read_manifest(storage: Storage, dataset: str, day: dt.date) -> dict[str, Any] | None:
    key = layout.preprocess_manifest(dataset, day)
    return storage.read_json(key) if storage.exists(key) else None


def daily_stats(storage: Storage, dataset: str) -> pd.DataFrame:
    """One row per preprocessed day: rows in/clean/quarantined, quarantine rate and per-column null rates."""
    rows = []
    for key in storage.list_files(layout.preprocess_manifests(dataset)):
        m = storage.read_json(key)
        row = {"date": m["date"], "rows_in": m["rows_in"], "rows_clean": m["rows_clean"],
               "rows_quarantined": m["rows_quarantined"], "quarantine_rate": m["stats"]["quarantine_rate"]}
        row.update({f"null_rate.{c}": v for c, v in m["stats"]["null_rate"].items()})
        rows.append(row)
    return pd.DataFrame(rows)


