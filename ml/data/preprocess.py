"""Preprocess one business day of one dataset: raw landing files -> curated + quarantine + manifest.

Invariant, checked on every run: rows in == rows clean + rows quarantined.
Every entry of the day's landing folder is either read or listed in the manifest as ignored with the reason.
With a completion marker in the spec, a day is read only once its batch is complete, and a control file's
row counts and SHA-256s must match. A re-run first removes the day's old manifest, then replaces the outputs
atomically file by file and writes the manifest last, so a day whose manifest exists is complete and its
manifest describes the files next to it. The spec's quality gates are checked last: a day above them fails
after its quarantine and manifest are written (nothing is lost, and the manifest says it failed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from typing import Any, cast

import numpy as np
import pandas as pd

from ml import contracts, layout
from ml.contracts import Contract, Part
from ml.data.landing import batch_complete, landing_entries
from ml.data.rawfile import RawRecords, check_header, read_records, show_raw, unpack
from ml.data.validate import validate_fields
from ml.dates import is_business_day
from ml.errors import MissingDataError, QualityGateError, RawFileError, RiskopsError
from ml.spec import DatasetSpec
from ml.storage import Storage

QUARANTINE_COLUMNS = ["business_date", "source_file", "line", "raw", "reason"]
TOP_REASONS = 3


class InputFile(Part):
    """One raw file of the day as read."""

    file: str
    sha256: str
    bytes: int
    compression: str | None
    rows: int
    blank_lines: int
    empty: bool
    extra_columns: list[str]
    missing_optional_columns: list[str]


class TopReason(Part):
    """A column with rejected rows: how many, and the first reason as an example."""

    column: str
    rows: int
    example: str


class DayStats(Part):
    quarantine_rate: float
    null_rate: dict[str, float]  # of the clean rows, per curated column
    reasons_by_column: dict[str, int] = {}
    top_reasons: list[TopReason] = []


class IgnoredEntry(Part):
    """An entry of the landing folder that is not read, and why."""

    name: str
    reason: str


class Outputs(Part):
    curated: str
    quarantine: str


class Quality(Part):
    """The spec's quality gates as they were checked."""

    passed: bool
    failures: list[str]
    max_quarantine_rate: float
    min_rows: int | None


class PreprocessManifest(Contract):
    """`manifests/preprocess/<ds>/date=D.json`: what a preprocessed day read, wrote and rejected; written last,
    so a day with a manifest is complete. Manifests written before the quality gates existed have no `quality`
    (they passed)."""

    dataset: str
    date: str
    inputs: list[InputFile]
    input_sha256: str
    rows_in: int
    rows_clean: int
    rows_quarantined: int
    stats: DayStats
    ignored: list[IgnoredEntry] = []
    outputs: Outputs
    quality: Quality | None = None

    @property
    def passed(self) -> bool:
        """Whether the day passed its quality gates."""
        return self.quality is None or self.quality.passed


def _records_frame(records: RawRecords) -> tuple[pd.DataFrame, list[list[str]]]:
    """String fields of well-formed records (None elsewhere) plus row-level reasons (shape, encoding)."""
    header = records.header or []
    width = len(header)
    rows: list[list[str] | None] = []
    reasons: list[list[str]] = []
    for fields, bad_bytes, problem in zip(records.fields, records.bad_encoding, records.problems, strict=True):
        problems = [problem] if problem else []
        if bad_bytes:
            problems.append("(row): contains bytes that are not valid text in the file's encoding")
        if not problem and len(fields) != width:
            problems.append(f"(row): expected {width} fields, found {len(fields)}")
        reasons.append(problems)
        rows.append(None if problems else fields)
    good = [r if r is not None else [""] * width for r in rows]
    frame = pd.DataFrame(good, columns=header, dtype="string") if header else pd.DataFrame(dtype="string")
    return frame, reasons


def top_reasons(reasons: list[list[str]], n: int = TOP_REASONS) -> list[dict[str, Any]]:
    """The columns with the most rejections: rows rejected for each, with the first such reason as an example."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for row in reasons:
        for column in dict.fromkeys(r.split(":", 1)[0] for r in row):
            counts[column] += 1
            examples.setdefault(column, next(r for r in row if r.split(":", 1)[0] == column))
    return [{"column": c, "rows": k, "example": examples[c]} for c, k in counts.most_common(n)]


def process_files(files: list[tuple[str, bytes]], spec: DatasetSpec, day: dt.date) -> dict[str, Any]:
    """Parse and validate a day's raw files; returns curated and quarantine frames and the manifest body."""
    required = [c.name for c in spec.columns if c.is_required]
    frames, row_reasons, lines, sources, inputs = [], [], [], [], []
    raws: list[str] = []
    for name, data in files:
        content, compression = unpack(data, name)
        records = read_records(content, spec.raw, name)
        if records.header is not None:
            check_header(records, spec.raw, required)
        frame, reasons = _records_frame(records)
        known = {c.name for c in spec.columns}
        header = records.header or []
        inputs.append({
            "file": name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "compression": compression,
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
    validated = validate_fields(strings.astype("string"), spec, day)
    reasons = [shape or vals for shape, vals in zip(row_reasons, validated.reasons, strict=True)]
    clean = np.array([not r for r in reasons], dtype=bool)

    curated = validated.values[clean].reset_index(drop=True)
    curated.insert(0, "business_date", pd.Series([pd.Timestamp(day)] * len(curated), dtype="datetime64[s]"))
    quarantine = pd.DataFrame({
        "business_date": pd.Series([pd.Timestamp(day)] * int((~clean).sum()), dtype="datetime64[s]"),
        "source_file": pd.Series(np.concatenate(sources) if sources else [], dtype="string")[~clean].to_numpy(),
        "line": np.asarray(lines, dtype="int64")[~clean],
        "raw": pd.Series(raws, dtype="string")[~clean].to_numpy(),
        "reason": ["; ".join(r) for r, ok in zip(reasons, clean, strict=True) if not ok],
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
            "top_reasons": top_reasons(reasons),
        },
    }
    return {"curated": curated, "quarantine": quarantine, "manifest": manifest}


def _control(storage: Storage, spec: DatasetSpec, day: dt.date) -> dict[str, dict[str, Any]]:
    """The control file: {"files": {name: {"rows": int, "sha256": hex}}}, checked for shape."""
    key = f"{layout.landing(spec.name, day)}/{spec.batch.marker}"
    try:
        files = json.loads(storage.read_bytes(key))["files"]
        return {str(n): {"rows": int(v["rows"]), "sha256": str(v["sha256"]).lower()} for n, v in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RawFileError(f"{storage.url(key)}: not a control file of the form "
                           '{"files": {"<name>": {"rows": <count>, "sha256": "<hex>"}}} '
                           f"({type(exc).__name__}: {exc})") from exc


def _check_control(control: dict[str, dict[str, Any]], inputs: list[dict[str, Any]], where: str) -> None:
    """Every data file listed, with the listed SHA-256 and row count, and nothing else: else the day fails."""
    got = {i["file"]: i for i in inputs}
    problems = [f"{n}: listed in the control file but not landed" for n in sorted(set(control) - set(got))]
    problems += [f"{n}: landed but not in the control file" for n in sorted(set(got) - set(control))]
    for name in sorted(set(control) & set(got)):
        if got[name]["sha256"] != control[name]["sha256"]:
            problems.append(f"{name}: SHA-256 {got[name]['sha256'][:12]}... differs from the control file's "
                            f"{control[name]['sha256'][:12]}... (truncated or still being written?)")
        elif got[name]["rows"] != control[name]["rows"]:
            problems.append(f"{name}: {got[name]['rows']} rows read, the control file says {control[name]['rows']}")
    if problems:
        raise RawFileError(f"batch {where} does not match its control file: {'; '.join(problems)}; nothing was "
                           "written for the day")


def percentages(value: float, limit: float) -> tuple[str, str]:
    """Two rates as percentages with the fewest decimals (at least one) that tell them apart: 1 row of 98 above
    a 1 % limit reads "1.02%" and "1.00%", never "1.0%" above "1.0%"."""
    for digits in range(1, 7):
        shown = f"{value:.{digits}%}", f"{limit:.{digits}%}"
        if shown[0] != shown[1]:
            return shown
    return f"{value:%}", f"{limit:%}"


def quality_failures(rows_in: int, rows_quarantined: int, spec: DatasetSpec) -> list[str]:
    """The quality gates a preprocessed day fails (empty when it passes)."""
    gates, failures = spec.quality, []
    rate = rows_quarantined / rows_in if rows_in else 0.0  # exact: the manifest's rate is rounded
    if gates.min_rows is not None and rows_in < gates.min_rows:
        failures.append(f"{rows_in} rows, fewer than the minimum {gates.min_rows} (quality.min_rows)")
    if rate > gates.max_quarantine_rate:
        shown, limit = percentages(rate, gates.max_quarantine_rate)
        failures.append(f"{shown} of {rows_in} rows quarantined, above the maximum {limit} "
                        "(quality.max_quarantine_rate)")
    return failures


def describe_reasons(top: list[TopReason]) -> str:
    return "; ".join(f"{r.column} in {r.rows} row{'s' if r.rows != 1 else ''} (e.g. {r.example})"
                     for r in top) or "none"


def preprocess_day(storage: Storage, spec: DatasetSpec, day: dt.date) -> PreprocessManifest:
    """Run preprocessing for one day and write its outputs; returns the manifest."""
    if not is_business_day(spec, day):
        raise RiskopsError(f"{day} is not a business day of '{spec.name}' (calendar: {spec.calendar.days}, "
                           f"{len(spec.calendar.holidays)} holidays): no batch is expected")
    landing = layout.landing(spec.name, day)
    if not storage.exists(landing):
        raise MissingDataError(f"no raw batch for '{spec.name}' on {day}: {storage.url(landing)} does not exist")
    if not batch_complete(storage, spec, day):
        raise MissingDataError(f"the batch of '{spec.name}' for {day} is not complete yet: no "
                               f"{spec.batch.marker} in {storage.url(landing)}")
    keys, ignored = landing_entries(storage, spec, day)
    control = _control(storage, spec, day) if spec.batch.completion == "control_file" else None
    files = [(key.rsplit("/", 1)[-1], storage.read_bytes(key)) for key in keys]
    result = process_files(files, spec, day)  # raises before anything is written if a file is unreadable
    if control is not None:
        _check_control(control, result["manifest"]["inputs"], f"{spec.name} {day}")
    curated_key, quarantine_key = layout.curated(spec.name, day), layout.quarantine(spec.name, day)
    manifest_key = layout.preprocess_manifest(spec.name, day)
    # the old manifest goes first: if this run dies half-way, the day has no manifest (incomplete, re-run it)
    # rather than an old manifest beside new data
    storage.delete(manifest_key)
    for key in (curated_key, quarantine_key, manifest_key):
        storage.remove_stale_temporaries(key)
    storage.write_parquet(curated_key, result["curated"])
    storage.write_parquet(quarantine_key, result["quarantine"])
    body = result["manifest"]
    failures = quality_failures(body["rows_in"], body["rows_quarantined"], spec)
    manifest = PreprocessManifest.model_validate(body | {
        "ignored": ignored, "outputs": {"curated": curated_key, "quarantine": quarantine_key},
        "quality": {"passed": not failures, "failures": failures,
                    "max_quarantine_rate": spec.quality.max_quarantine_rate, "min_rows": spec.quality.min_rows}})
    contracts.write(storage, manifest_key, manifest)
    if failures:
        raise QualityGateError(f"{spec.name} {day} failed its data-quality gate: {'; '.join(failures)}; top reasons: "
                               f"{describe_reasons(manifest.stats.top_reasons)}; quarantine and manifest "
                               f"written ({storage.url(quarantine_key)})")
    return manifest


def read_manifest(storage: Storage, dataset: str, day: dt.date) -> PreprocessManifest | None:
    """A day's preprocess manifest, or None when the day was not (completely) preprocessed."""
    return contracts.read_if_exists(storage, layout.preprocess_manifest(dataset, day), PreprocessManifest)


def quality_passed(manifest: PreprocessManifest) -> bool:
    """Whether a preprocessed day passed its quality gates (manifests written before the gates existed did)."""
    return manifest.passed


def daily_stats(storage: Storage, dataset: str) -> pd.DataFrame:
    """One row per preprocessed day: rows in/clean/quarantined, quarantine rate, quality gate, top reasons and
    per-column null rates."""
    rows = []
    for key in storage.list_files(layout.preprocess_manifests(dataset)):
        m = contracts.read(storage, key, PreprocessManifest)
        row: dict[str, object] = {
            "date": m.date, "rows_in": m.rows_in, "rows_clean": m.rows_clean, "rows_quarantined": m.rows_quarantined,
            "quarantine_rate": m.stats.quarantine_rate, "quality": "passed" if m.passed else "FAILED",
            "top_reasons": m.stats.top_reasons}
        row.update({f"null_rate.{c}": v for c, v in m.stats.null_rate.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def stats_table(frame: pd.DataFrame, width: int = 120) -> str:
    """`ml stats` as text: one line per day (rows, quarantine rate, quality gate, top reasons), then the null
    rates of the columns that have missing values (mean and worst day)."""
    lines = [f"{'date':<10}  {'rows in':>8}  {'clean':>8}  {'quarantined':>11}  {'rate':>7}  {'gate':<6}  "
             "top quarantine reasons (rows)"]
    for row in frame.itertuples(index=False):
        top = cast(list[TopReason], row.top_reasons)  # a manifest's, as daily_stats keeps it
        reasons = ", ".join(f"{r.column} ({r.rows})" for r in top) or "-"
        line = (f"{row.date:<10}  {row.rows_in:>8}  {row.rows_clean:>8}  {row.rows_quarantined:>11}  "
                f"{row.quarantine_rate:>7.2%}  {row.quality:<6}  {reasons}")
        lines.append(line if len(line) <= width else line[:width - 3] + "...")
    nulls = frame[[c for c in frame.columns if c.startswith("null_rate.")]]
    missing = [c for c in nulls.columns if nulls[c].max() > 0]
    if missing:
        lines += ["", "null rates of clean rows, columns with missing values:",
                  f"{'column':<40}  {'mean':>7}  {'max':>7}"]
        lines += [f"{c.removeprefix('null_rate.'):<40}  {nulls[c].mean():>7.2%}  {nulls[c].max():>7.2%}"
                  for c in missing]
    return "\n".join(lines)
