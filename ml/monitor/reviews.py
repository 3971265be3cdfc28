"""The reviewers' decisions on the rows the policy sent to review, as the bank's case tool exports them (a
zone like the labels, read by monitoring: it joins them to the scored rows).

They land as `reviews/<ds>/date=A/*.csv` (A: the day the decisions were made) with a header and the columns
<the spec's id column>, application_date (the scored row's business date, YYYY-MM-DD: a row is its day and
id, as for labels), decision (approve or decline, any case), reviewer and reason (both required). Every row
is checked; a refused row goes to `quarantine/_reviews/<ds>/date=A/part-0.parquet` with its file, line,
original text and reason, and each arrival's manifest says rows in = accepted + quarantined:
- a malformed row (wrong number of fields, a blank id, reviewer or reason, a date that is not one, a decision
  other than approve / decline, a text over MAX_TEXT characters, a decision dated before its application);
- a decision for a row that was never scored (no scoring of that day, or no such id in it);
- a decision for a row the policy did not send to review (it approved or declined it).
A row decided twice: the last decision counts (by decision date, then file name, then line); the earlier
ones are counted as superseded, not quarantined. Accepted decisions are joined to their scored row: the
version that scored it (or `fallback`), its PD, band, the policy's decision and the hard rule that fired.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ml import layout
from ml.monitor.backtest import record_version  # the backtest's rule of which scoring of a day is the record
from ml.spec import DatasetSpec
from ml.storage import Storage

DECISIONS = ("approve", "decline")
REVIEW = "review"  # the policy's decision of the rows a reviewer decides
MAX_TEXT = 500
FIELDS = ("application_date", "decision", "reviewer", "reason")  # after the spec's id column
QUARANTINE_COLUMNS = ["decided_on", "source_file", "line", "raw", "reason"]
ACCEPTED_COLUMNS = ["id", "application_date", "decided_on", "decision", "reviewer", "reason", "version", "pd",
                    "band", "policy_decision", "hard_rule"]


@dataclass
class Arrival:
    """One day's review files: their rows' accounting (rows_in = accepted + quarantined)."""

    decided_on: dt.date
    files: dict[str, str] = field(default_factory=dict)  # key -> SHA-256
    rows_in: int = 0
    accepted: int = 0
    quarantined: list[dict[str, Any]] = field(default_factory=list)

    def manifest(self, dataset: str) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for q in self.quarantined:
            kind = q["reason"].split(":", 1)[0]
            reasons[kind] = reasons.get(kind, 0) + 1
        return {"dataset": dataset, "decided_on": self.decided_on.isoformat(), "inputs": self.files,
                "rows_in": self.rows_in, "rows_accepted": self.accepted, "rows_quarantined": len(self.quarantined),
                "reasons": dict(sorted(reasons.items()))}


@dataclass(frozen=True)
class Reviews:
    """The decisions known by an as-of date: the accepted ones (the last per row, joined to the scored row),
    and every arrival's accounting."""

    accepted: pd.DataFrame  # ACCEPTED_COLUMNS
    arrivals: list[Arrival]
    superseded: int  # accepted decisions replaced by a later decision of the same row

    def counts(self) -> dict[str, Any]:
        """Totals for the command line and the manifests."""
        a = self.accepted
        return {"rows_in": sum(x.rows_in for x in self.arrivals),
                "accepted": sum(x.accepted for x in self.arrivals),
                "quarantined": sum(len(x.quarantined) for x in self.arrivals), "superseded": self.superseded,
                "decisions": {d: int((a["decision"] == d).sum()) for d in DECISIONS},
                "by_band": {str(b): int(n) for b, n in a["band"].fillna("(no band)").value_counts().sort_index().items()}}


def _text(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _row_problem(row: dict[str, str], decided_on: dt.date) -> str | None:
    """Why a row of a review file is malformed, or None."""
    for name in ("id", "reviewer", "reason"):
        if not row[name].strip():
            return f"{name}: blank"
        if len(row[name]) > MAX_TEXT:
            return f"{name}: longer than {MAX_TEXT} characters"
    try:
        day = dt.date.fromisoformat(row["application_date"].strip())
    except ValueError:
        return f"application_date: {row['application_date'][:40]!r} is not a date (YYYY-MM-DD)"
    if day > decided_on:
        return f"application_date: {day} is after the decision date {decided_on}"
    if row["decision"].strip().lower() not in DECISIONS:
        return f"decision: {row['decision'][:40]!r} is not approve or decline"
    return None


def _records(text: str) -> list[tuple[int, list[str], str | None]]:
    """(line, fields, error) of each record of a CSV text; a record the csv module cannot read (a field over
    its size limit) is one record with its error, and the rest of the file is read from the next line."""
    out: list[tuple[int, list[str], str | None]] = []
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines):
        reader = csv.reader(lines[start:])
        try:
            for record in reader:
                out.append((start + reader.line_num, record, None))
            break
        except csv.Error as exc:
            line = start + reader.line_num
            out.append((line, [lines[line - 1][:MAX_TEXT].rstrip("\r\n")], str(exc)[:80]))
            start = line
    return out


def _parse_file(key: str, data: bytes, spec: DatasetSpec, arrival: Arrival) -> list[dict[str, Any]]:
    """The well-formed rows of one review file; the others go to the arrival's quarantine."""
    arrival.files[key] = hashlib.sha256(data).hexdigest()
    name = key.rsplit("/", 1)[-1]

    def refuse(line: int, raw: str, reason: str) -> None:
        arrival.quarantined.append({"decided_on": arrival.decided_on.isoformat(), "source_file": name, "line": line,
                                    "raw": raw, "reason": reason})

    try:
        text, encoding = data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        text, encoding = data.decode("utf-8", errors="replace"), "encoding: the file is not UTF-8"
    records = _records(text)
    if not records:
        return []
    header = [h.strip() for h in records[0][1]]
    wanted = [spec.id_column, *FIELDS]
    missing = [c for c in wanted if c not in header]
    rows = []
    for line, record, error in records[1:]:
        if not record and error is None:  # a blank line is no row
            continue
        arrival.rows_in += 1
        raw = _text(record)
        if encoding or error:
            refuse(line, raw, encoding or f"shape: {error}")
            continue
        if missing:
            refuse(line, raw, f"header: the file has no column {', '.join(missing)}")
            continue
        if len(record) != len(header):
            refuse(line, raw, f"shape: {len(record)} fields, the header has {len(header)}")
            continue
        values = dict(zip(header, record, strict=True))
        row = {"id": values[spec.id_column], **{f: values[f] for f in FIELDS}}
        problem = _row_problem(row, arrival.decided_on)
        if problem:
            refuse(line, raw, problem)
            continue
        rows.append({"id": row["id"].strip(), "application_date": dt.date.fromisoformat(row["application_date"].strip()),
                     "decided_on": arrival.decided_on, "decision": row["decision"].strip().lower(),
                     "reviewer": row["reviewer"].strip(), "reason": row["reason"].strip(),
                     "_file": name, "_line": line, "_raw": raw})
    return rows


def _scored_day(storage: Storage, dataset: str, day: dt.date) -> tuple[str, pa.Table] | None:
    """The record scoring of a day (the version, or `fallback` for a halted day) and its rows, or None."""
    version = record_version(storage, dataset, day)
    if version is None:
        version = layout.FALLBACK
        if not storage.exists(layout.scores(dataset, day, version)):
            return None
    with storage.open_read(layout.scores(dataset, day, version)) as fh:
        file = pq.ParquetFile(fh)
        names = set(file.schema_arrow.names)
        table = file.read(columns=[c for c in ("id", "pd", "band", "decision", "hard_rule") if c in names])
    return version, table


def _join(storage: Storage, spec: DatasetSpec, rows: list[dict[str, Any]],
          arrivals: dict[dt.date, Arrival]) -> list[dict[str, Any]]:
    """The rows whose scored row was sent to review, joined to it; the others go to their arrival's quarantine."""
    out = []
    for day in sorted({r["application_date"] for r in rows}):
        of_day = [r for r in rows if r["application_date"] == day]
        scored = _scored_day(storage, spec.name, day)
        if scored is None:
            for r in of_day:
                _quarantine(arrivals, r, f"not scored: {spec.name} has no scores of {day}")
            continue
        version, table = scored
        index = pc.index_in(pa.array([r["id"] for r in of_day], pa.string()),
                            value_set=table.column("id").combine_chunks())
        # only the reviewed rows of the day become Python values
        found = table.take(pc.drop_null(index)).to_pylist()
        position = iter(found)
        for r, i in zip(of_day, index.to_pylist(), strict=True):
            if i is None:
                _quarantine(arrivals, r, f"not scored: id {r['id'][:40]} is not among the rows scored on {day}")
                continue
            row = next(position)
            if row["decision"] != REVIEW:
                _quarantine(arrivals, r, f"not sent to review: the policy decided {row['decision']} on {day}")
                continue
            out.append({**r, "version": version, "pd": row.get("pd"), "band": row.get("band"),
                        "policy_decision": row["decision"], "hard_rule": row.get("hard_rule")})
    return out


def _quarantine(arrivals: dict[dt.date, Arrival], row: dict[str, Any], reason: str) -> None:
    arrival = arrivals[row["decided_on"]]
    arrival.accepted -= 1
    arrival.quarantined.append({"decided_on": row["decided_on"].isoformat(), "source_file": row["_file"],
                                "line": row["_line"], "raw": row["_raw"], "reason": reason})


def load_reviews(storage: Storage, spec: DatasetSpec, as_of: dt.date) -> Reviews:
    """Every review decision made by `as_of`: checked, joined to its scored row, the last per row."""
    arrivals: dict[dt.date, Arrival] = {}
    rows: list[dict[str, Any]] = []
    root = layout.reviews_root(spec.name)
    for folder in storage.list_dirs(root):
        try:
            decided_on = layout.folder_date(folder)
        except ValueError:
            continue  # not an arrival folder (a tool's own folder): nothing of ours
        if decided_on > as_of:
            continue
        arrival = arrivals[decided_on] = Arrival(decided_on)
        for key in storage.list_files(f"{root}/{folder}"):
            parsed = _parse_file(key, storage.read_bytes(key), spec, arrival)
            arrival.accepted += len(parsed)
            rows.extend(parsed)
    joined = _join(storage, spec, rows, arrivals)
    joined.sort(key=lambda r: (r["decided_on"], r["_file"], r["_line"]))
    last: dict[tuple[dt.date, str], dict[str, Any]] = {}
    for r in joined:
        last[(r["application_date"], r["id"])] = r  # a later decision of the same row replaces the earlier one
    accepted = pd.DataFrame([{c: r[c] for c in ACCEPTED_COLUMNS} for r in last.values()], columns=ACCEPTED_COLUMNS)
    accepted["pd"] = accepted["pd"].astype("float64")
    return Reviews(accepted.reset_index(drop=True), [arrivals[d] for d in sorted(arrivals)], len(joined) - len(last))


def check_reviews(storage: Storage, spec: DatasetSpec, as_of: dt.date) -> Reviews:
    """`load_reviews`, and each arrival's quarantine file and manifest written (replaced on a re-run)."""
    reviews = load_reviews(storage, spec, as_of)
    for arrival in reviews.arrivals:
        key = layout.reviews_quarantine(spec.name, arrival.decided_on)
        if arrival.quarantined:
            frame = pd.DataFrame(arrival.quarantined, columns=QUARANTINE_COLUMNS)
            storage.write_parquet(key, frame.astype({c: "string" for c in QUARANTINE_COLUMNS if c != "line"}))
        elif storage.exists(key):
            storage.delete(key)
        if arrival.rows_in != arrival.accepted + len(arrival.quarantined):  # a bug here, never a data problem
            raise AssertionError(f"review accounting broken for {arrival.decided_on}")
        storage.write_json(layout.reviews_manifest(spec.name, arrival.decided_on), arrival.manifest(spec.name))
    return reviews


def quarantined(storage: Storage, dataset: str, decided_on: dt.date) -> pd.DataFrame:
    """The refused review rows of one arrival (empty when none)."""
    key = layout.reviews_quarantine(dataset, decided_on)
    return storage.read_parquet(key) if storage.exists(key) else pd.DataFrame(columns=QUARANTINE_COLUMNS)
