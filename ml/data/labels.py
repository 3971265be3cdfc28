"""Outcome labels: what each outcome value means, and which labels have matured (application date + maturity
lag <= as-of date).

Labels land as `labels/<ds>/date=A/from-D.csv` (columns id, application_date, label): the outcomes of day D's
rows, arrived on day A, as delivered ('Charged Off', 'yes', '1'). A row's label in a later file (a corrected
outcome) replaces the earlier one. The spec's label section says which values are positive and which
negative; anything else (blank, NA, an unknown code such as 'Current') is an unknown outcome: never read as a
good one, kept out of training and backtests, and counted.
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
from ml.errors import RiskopsError
from ml.spec import DatasetSpec, LabelSpec
from ml.storage import Storage

SCHEMA = pa.schema([("id", pa.string()), ("application_date", pa.date32()), ("label", pa.int64())])
_FILE = pa.schema([("id", pa.string()), ("application_date", pa.date32()), ("label", pa.string())])


def outcome_codes(values: pa.Array | pa.ChunkedArray, label: LabelSpec) -> pa.Array | pa.ChunkedArray:
    """1 for a positive outcome, 0 for a negative one, null for an unknown one (values compared with surrounding
    spaces stripped, case-insensitively)."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(values.cast(pa.string())))

    def one_of(values: list[str]) -> pa.Array:
        return pc.is_in(text, value_set=pa.array(sorted({v.strip().lower() for v in values}), pa.string()))

    unknown = pa.scalar(None, pa.int64())
    return pc.if_else(one_of(label.positive), pa.scalar(1, pa.int64()),
                      pc.if_else(one_of(label.negative), pa.scalar(0, pa.int64()), unknown))


def outcomes(values: pd.Series, label: LabelSpec) -> pd.Series:
    """`outcome_codes` of a pandas column: Int64 with <NA> for an unknown outcome."""
    codes = outcome_codes(pa.array(values.astype(object), pa.string(), from_pandas=True), label)
    return pd.Series(codes.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array, index=values.index)


def outcome_counts(label: pd.Series) -> dict[str, int]:
    """Positive, negative and unknown outcomes among labels (as `outcomes` returns them)."""
    known = label.dropna()
    return {"positive": int((known == 1).sum()), "negative": int((known == 0).sum()),
            "unknown": int(label.isna().sum())}


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
    """The matured labels in these files (in arrival order): id, application_date, label (1, 0, or null for an
    unknown outcome); a later file's label of the same row (day and id) replaces an earlier one's."""
    tables = []
    for key in keys:
        try:
            tables.append(pacsv.read_csv(io.BytesIO(storage.read_bytes(key)), convert_options=pacsv.ConvertOptions(
                column_types=_FILE, include_columns=_FILE.names, strings_can_be_null=False)))
        except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
            raise RiskopsError(f"{storage.url(key)} is not a labels file (id, application_date as YYYY-MM-DD, "
                               f"label): {str(exc).splitlines()[0]}") from exc
    if not tables:
        return SCHEMA.empty_table()
    labels = pa.concat_tables(tables)
    labels = labels.set_column(2, "label", outcome_codes(labels["label"], spec.label))
    last = as_of - dt.timedelta(days=spec.label.maturity_lag_days)
    labels = labels.filter(pc.less_equal(labels["application_date"], pa.scalar(last, pa.date32())))
    if labels.group_by(["application_date", "id"]).aggregate([]).num_rows < labels.num_rows:
        keep = ~labels.select(["application_date", "id"]).to_pandas().duplicated(keep="last").to_numpy()
        labels = labels.filter(pa.array(keep))
    return labels


def matured_labels(storage: Storage, spec: DatasetSpec, as_of: dt.date) -> pd.DataFrame:
    """Labels known by `as_of` for rows whose maturity window has closed: columns id (str), application_date,
    label (Int64: 1, 0, or <NA> for an unknown outcome; callers keep unknown outcomes out and count them)."""
    files = label_files(storage, spec, as_of)
    table = read_labels(storage, spec, as_of, [k for keys in files.values() for k in keys])
    labels = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    labels["application_date"] = pd.to_datetime(labels["application_date"]).astype("datetime64[s]")
    # a training row is found by its id alone: the last label of an id wins
    last: pd.DataFrame = labels.drop_duplicates("id", keep="last").reset_index(drop=True)
    return last


def latest_arrival(storage: Storage, spec: DatasetSpec) -> dt.date | None:
    """The newest date on which labels of the dataset landed (None when none have)."""
    folders = storage.list_dirs(layout.labels_root(spec.name))
    return max((layout.folder_date(f) for f in folders), default=None)
