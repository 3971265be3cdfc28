"""Outcome labels: read only those that have matured (application date + maturity lag <= as-of date).

Labels land as `labels/<ds>/date=A/from-D.csv` (columns id, application_date, label): the outcomes of day D's
rows, arrived on day A. A row's label in a later file (a corrected outcome) replaces the earlier one.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ml import layout
from ml.data.spec import DatasetSpec
from ml.errors import RiskopsError
from ml.storage import Storage

SCHEMA = pa.schema([("id", pa.string()), ("application_date", pa.date32()), ("label", pa.int64())])


def label_files(storage: Storage, spec: DatasetSpec, as_of: dt.date) -> dict[dt.date | None, list[str]]:
    """Keys of the label files arrived by `as_of`, by the application date of their rows (None for a file not
    named after it, which may hold any day's rows), in order of arrival."""
    files: dict[dt.date | None, list[str]] = {}
    root = layout.labels_root(spec.name)
    for folder in storage.list_dirs(root):
        if layout.folder_date(folder) <= as_of:  # later folders had not arrived on the as-of date
            for key in storage.list_files(f"{root}/{folder}"):
                files.setdefault(layout.labels_origin(key), []).append(key)
    return files


def read_labels(storage: Storage, spec: DatasetSpec, as_of: dt.date, keys: Iterable[str]) -> pa.Table:
    """The matured labels in these files (in arrival order): id, application_date, label (null when blank);
    a later file's label of the same row (day and id) replaces an earlier one's."""
    tables = []
    for key in keys:
        try:
            tables.append(pacsv.read_csv(io.BytesIO(storage.read_bytes(key)), convert_options=pacsv.ConvertOptions(
                column_types=SCHEMA, include_columns=SCHEMA.names)))
        except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
            raise RiskopsError(f"{storage.url(key)} is not a labels file (id, application_date as YYYY-MM-DD, "
                               f"label 0/1): {str(exc).splitlines()[0]}") from None
    if not tables:
        return SCHEMA.empty_table()
    labels = pa.concat_tables(tables)
    last = as_of - dt.timedelta(days=spec.label.maturity_lag_days)
    labels = labels.filter(pc.less_equal(labels["application_date"], pa.scalar(last, pa.date32())))
    if labels.group_by(["application_date", "id"]).aggregate([]).num_rows < labels.num_rows:
        keep = ~labels.select(["application_date", "id"]).to_pandas().duplicated(keep="last").to_numpy()
        labels = labels.filter(pa.array(keep))
    return labels


def matured_labels(storage: Storage, spec: DatasetSpec, as_of: dt.date) -> pd.DataFrame:
    """Labels known by `as_of` for rows whose maturity window has closed: columns id (str), application_date, label."""
    files = label_files(storage, spec, as_of)
    labels = read_labels(storage, spec, as_of, [k for keys in files.values() for k in keys]).to_pandas()
    labels["application_date"] = pd.to_datetime(labels["application_date"]).astype("datetime64[s]")
    # a training row is found by its id alone: the last label of an id wins
    return labels.drop_duplicates("id", keep="last").reset_index(drop=True)


def latest_arrival(storage: Storage, spec: DatasetSpec) -> dt.date | None:
    """The newest date on which labels of the dataset landed (None when none have)."""
    folders = storage.list_dirs(layout.labels_root(spec.name))
    return max((layout.folder_date(f) for f in folders), default=None)
