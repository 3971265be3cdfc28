"""Outcome labels: read only those that have matured (application date + maturity lag <= as-of date)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Collection

import pandas as pd

from ml import layout
from ml.data.spec import DatasetSpec
from ml.storage import Storage


def matured_labels(storage: Storage, spec: DatasetSpec, as_of: dt.date,
                   days: Collection[dt.date] | None = None) -> pd.DataFrame:
    """Labels known by `as_of` for rows whose maturity window has closed: columns id (str), application_date, label.

    With `days`, only the labels of rows from those application dates, read from their own files.
    """
    lag = dt.timedelta(days=spec.label.maturity_lag_days)
    frames = []
    root = layout.labels_root(spec.name)
    for folder in storage.list_dirs(root):
        arrival = layout.folder_date(folder)
        if arrival > as_of or (days and arrival < min(days)):
            continue  # not yet arrived on the as-of date, or before any wanted row existed
        for key in storage.list_files(f"{root}/{folder}"):
            if days is None or layout.labels_origin(key) in days:
                frames.append(pd.read_csv(io.BytesIO(storage.read_bytes(key)), dtype={"id": str}))
    if not frames:
        return pd.DataFrame({"id": pd.Series(dtype=str), "application_date": pd.Series(dtype="datetime64[s]"),
                             "label": pd.Series(dtype=int)})
    labels = pd.concat(frames, ignore_index=True)
    labels["application_date"] = pd.to_datetime(labels["application_date"]).astype("datetime64[s]")
    labels = labels[labels["application_date"] + lag <= pd.Timestamp(as_of)]
    # a corrected label arriving later replaces the earlier one
    return labels.drop_duplicates("id", keep="last").reset_index(drop=True)
