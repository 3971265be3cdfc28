"""Outcome labels: what each outcome value means, and which labels have matured by an as-of date.

Label files hold outcomes as delivered (`id, application_date, label`); the spec's label section says which
values are positive and which negative. Anything else (blank, NA, an unknown code such as 'Current') is an
unknown outcome: never read as a good one, kept out of training and backtests, and counted.
"""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd

from ml import layout
from ml.data.spec import DatasetSpec, LabelSpec
from ml.storage import Storage


def outcomes(values: pd.Series, label: LabelSpec) -> pd.Series:
    """1 for a positive outcome, 0 for a negative one, <NA> for an unknown one (values compared stripped and
    case-folded)."""
    text = values.astype("string").str.strip().str.casefold()
    out = pd.Series(pd.NA, index=values.index, dtype="Int8")
    out[text.isin({v.strip().casefold() for v in label.positive}).fillna(False).to_numpy(bool)] = 1
    out[text.isin({v.strip().casefold() for v in label.negative}).fillna(False).to_numpy(bool)] = 0
    return out


def outcome_counts(label: pd.Series) -> dict[str, int]:
    """Positive, negative and unknown outcomes among labels (as `outcomes` returns them)."""
    known = label.dropna()
    return {"positive": int((known == 1).sum()), "negative": int((known == 0).sum()),
            "unknown": int(label.isna().sum())}


def matured_labels(storage: Storage, spec: DatasetSpec, as_of: dt.date) -> pd.DataFrame:
    """Labels known by `as_of` for rows whose maturity window has closed: columns id (str), application_date,
    label (Int8: 1, 0, or <NA> for an unknown outcome; callers keep unknown outcomes out and count them)."""
    lag = dt.timedelta(days=spec.label.maturity_lag_days)
    frames = []
    root = layout.labels_root(spec.name)
    for folder in storage.list_dirs(root):
        if layout.folder_date(folder) > as_of:
            continue  # not yet arrived on the as-of date
        for key in storage.list_files(f"{root}/{folder}"):
            frames.append(pd.read_csv(io.BytesIO(storage.read_bytes(key)), dtype=str, keep_default_na=False))
    if not frames:
        return pd.DataFrame({"id": pd.Series(dtype=str), "application_date": pd.Series(dtype="datetime64[s]"),
                             "label": pd.Series(dtype="Int8")})
    labels = pd.concat(frames, ignore_index=True)
    labels["application_date"] = pd.to_datetime(labels["application_date"]).astype("datetime64[s]")
    labels["label"] = outcomes(labels["label"], spec.label)
    labels = labels[labels["application_date"] + lag <= pd.Timestamp(as_of)]
    # a corrected label arriving later replaces the earlier one
    return labels.drop_duplicates("id", keep="last").reset_index(drop=True)
