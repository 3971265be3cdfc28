"""Replay a dataset into daily raw batches (landing zone) and delayed labels (labels zone).

Dated rows go to their own date; undated rows are spread over the days of the window in file order.
Labels of a day's rows land in the partition of the day they become known (date + maturity lag, or the
row's own delay), one file per origin day, so replaying any window never clobbers another's labels.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pandas as pd

from ml import layout
from ml.data.sources import load_rows
from ml.data.spec import DatasetSpec
from ml.storage import Storage


def to_csv(frame: pd.DataFrame, delimiter: str, encoding: str) -> bytes:
    """A frame of strings as delimited text, as a raw batch file is written."""
    buf = io.StringIO()
    frame.to_csv(buf, sep=delimiter, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buf.getvalue().encode(encoding)


def assign_days(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
    """Business day of each row: its own date if dated, else an even spread over the window."""
    if "_date" in frame:
        return frame["_date"]
    days = pd.date_range(start, end, freq="D").date
    index = (np.arange(len(frame)) * len(days)) // max(len(frame), 1)
    return pd.Series(days[index], index=frame.index)


def replay(storage: Storage, spec: DatasetSpec, start: dt.date, end: dt.date) -> list[dict[str, object]]:
    """Write landing batches and label files for every day in [start, end]; returns rows per day."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    frame = load_rows(spec, start, end)
    frame["_day"] = assign_days(frame, start, end)
    frame = frame[(frame["_day"] >= start) & (frame["_day"] <= end)]
    batch_columns = [c.name for c in spec.columns if c.name in frame]
    lag = spec.label.maturity_lag_days
    delays = frame["label_delay_days"].astype(int) if "label_delay_days" in frame else pd.Series(lag, index=frame.index)
    summary = []
    for day in pd.date_range(start, end, freq="D").date:
        rows = frame[frame["_day"] == day]
        storage.write_bytes(layout.replay_batch(spec.name, day),
                            to_csv(rows[batch_columns], spec.raw.delimiter, spec.raw.encoding))
        labels = pd.DataFrame({
            "id": rows[spec.id_column],
            "application_date": day.isoformat(),
            "label": (rows["label"].str.strip() == spec.label.positive).astype(int),
            "_arrival": [day + dt.timedelta(days=int(d)) for d in delays.loc[rows.index]],
        })
        for arrival, group in labels.groupby("_arrival"):
            storage.write_bytes(layout.labels_file(spec.name, arrival, day),
                                to_csv(group.drop(columns="_arrival"), ",", "utf-8"))
        summary.append({"date": day.isoformat(), "rows": len(rows), "positives": int(labels["label"].sum())})
    return summary
