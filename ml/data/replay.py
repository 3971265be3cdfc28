"""Replay a dataset into daily raw batches (landing zone) and delayed labels (labels zone).

Batches land on the dataset's business days only (its calendar). Dated rows go to their own date, or to the
next business day when they are dated on a day without a batch (a weekend's rows arrive on Monday); undated
rows are spread over the business days of the window in file order. Each batch gets the completion marker
the spec asks for, written last. Labels of a day's rows land, as delivered, in the partition of the day they
become known (date + maturity lag, or the row's own delay), one file per origin day, so replaying any window
never clobbers another's labels.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from typing import Any, cast

import numpy as np
import pandas as pd

from ml import layout
from ml.data.labels import outcome_counts, outcomes
from ml.data.rawfile import read_records
from ml.data.sources import load_rows
from ml.dates import business_days, is_business_day
from ml.spec import DatasetSpec
from ml.storage import Storage


def to_csv(frame: pd.DataFrame, delimiter: str, encoding: str) -> bytes:
    """A frame of strings as delimited text, as a raw batch file is written."""
    buf = io.StringIO()
    frame.to_csv(buf, sep=delimiter, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buf.getvalue().encode(encoding)


def _next_business_day(spec: DatasetSpec, day: dt.date) -> dt.date:
    while not is_business_day(spec, day):
        day += dt.timedelta(days=1)
    return day


def assign_days(frame: pd.DataFrame, spec: DatasetSpec, start: dt.date, end: dt.date) -> pd.Series:
    """Business day of each row: its own date (or the next business day) if dated, else an even spread over
    the window's business days."""
    if "_date" in frame:
        days = {d: _next_business_day(spec, d) for d in frame["_date"].unique()}
        return frame["_date"].map(days)
    window = np.array(business_days(spec, start, end), dtype=object)
    index = (np.arange(len(frame)) * len(window)) // max(len(frame), 1)
    return pd.Series(window[index] if len(window) else [None] * len(frame), index=frame.index)


def completion_marker(spec: DatasetSpec, name: str, data: bytes) -> bytes | None:
    """The marker the spec's batch completion asks for, for a batch of one file: an empty `_SUCCESS`, or a
    control file with the file's row count (as preprocessing reads it) and SHA-256."""
    if spec.batch.completion == "none":
        return None
    if spec.batch.completion == "success_file":
        return b""
    rows = len(read_records(data, spec.raw, name).fields)
    control = {"files": {name: {"rows": rows, "sha256": hashlib.sha256(data).hexdigest()}}}
    return (json.dumps(control, indent=2) + "\n").encode()


def replay(storage: Storage, spec: DatasetSpec, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Write landing batches and label files for every business day in [start, end]; returns rows and
    outcomes (positive, negative, unknown) per day."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    frame = load_rows(spec, start, end)
    frame["_day"] = assign_days(frame, spec, start, end)
    frame = frame[frame["_day"].notna()]
    frame = frame[(frame["_day"] >= start) & (frame["_day"] <= end)]
    batch_columns = [c.name for c in spec.columns if c.name in frame]
    lag = spec.label.maturity_lag_days
    delays = frame["label_delay_days"].astype(int) if "label_delay_days" in frame else pd.Series(lag, index=frame.index)
    summary: list[dict[str, Any]] = []
    for day in business_days(spec, start, end):
        rows = frame[frame["_day"] == day]
        key = layout.replay_batch(spec.name, day)
        data = to_csv(rows[batch_columns], spec.raw.delimiter, spec.raw.encoding)
        storage.remove_stale_temporaries(key)
        storage.write_bytes(key, data)
        marker = completion_marker(spec, key.rsplit("/", 1)[-1], data)
        if marker is not None:  # last: the batch is complete only once its data are there
            storage.write_bytes(f"{layout.landing(spec.name, day)}/{spec.batch.marker}", marker)
        labels = pd.DataFrame({
            "id": rows[spec.id_column],
            "application_date": day.isoformat(),
            "label": rows["label"].str.strip(),  # as delivered: the spec says what each value means
            "_arrival": [day + dt.timedelta(days=int(d)) for d in delays.loc[rows.index]],
        })
        for arrival, group in labels.groupby("_arrival"):
            storage.write_bytes(layout.labels_file(spec.name, cast(dt.date, arrival), day),
                                to_csv(group.drop(columns="_arrival"), ",", "utf-8"))
        counts = outcome_counts(outcomes(labels["label"], spec.label))
        summary.append({"date": day.isoformat(), "rows": len(rows), "positives": counts["positive"],
                        "unknown_outcomes": counts["unknown"]})
    return summary
