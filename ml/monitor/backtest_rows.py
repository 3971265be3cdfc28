"""Reading one scored day for the backtest (`ml.monitor.backtest`): its scores' columns, the outcomes of its
matured rows, its rows' fairness groups and the reviewers' decisions on them."""

from __future__ import annotations

import datetime as dt
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ml import fairness as fairness_stats
from ml import layout
from ml.errors import MissingDataError
from ml.monitor import overrides as override_rates
from ml.monitor.bands import BandCounts
from ml.monitor.fair_lending import check_rows
from ml.spec import DatasetSpec
from ml.storage import Storage

COLUMNS = ["id", "pd", "score", "band", "decision"]
APPROVE = "approve"
REVIEW = "review"


def day_groups(storage: Storage, spec: DatasetSpec, day: dt.date, ids: pa.ChunkedArray
                ) -> list[tuple[NDArray[np.int64], list[str]]]:
    """Each fairness attribute's group codes of a scored day's rows (its curated rows, checked to be the same)."""
    key = layout.curated(spec.name, day)
    if not storage.exists(key):
        raise MissingDataError(f"{spec.name} {day}: scored, but {storage.url(key)} is missing, so its rows' fairness "
                               "groups cannot be read; re-run preprocess and score for that date")
    with storage.open_read(key) as fh:
        curated = pq.read_table(fh, columns=list(dict.fromkeys([spec.id_column,
                                                                *(a.column for a in spec.fairness.attributes)])))
    check_rows(spec, day, ids, curated.column(spec.id_column))
    return [fairness_stats.group_codes(curated.column(a.column), a, spec) for a in spec.fairness.attributes]


def categories(column: pa.ChunkedArray) -> tuple[NDArray[np.int64], list[str]]:
    """Codes and names of a categorical column (dictionary-encoded in scores files); null is `(missing)`."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    names = [str(v) for v in array.dictionary.to_pylist()]
    codes = pc.fill_null(array.indices, len(names)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, names + ["(missing)"]


def arrival(key: str) -> str:
    """Label files in arrival order: by their folder (date=A), then name."""
    return key.rsplit("/", 2)[-2] + "/" + key.rsplit("/", 1)[-1]


def read_scores(storage: Storage, dataset: str, day: dt.date, version: str) -> pa.Table:
    """The backtest's columns of a day's scores file of one version."""
    with storage.open_read(layout.scores(dataset, day, version)) as fh:
        return pq.read_table(fh, columns=COLUMNS).unify_dictionaries()


def outcomes(labels: pa.Table, day: dt.date, ids: pa.Array, dataset: str) -> tuple[NDArray[np.int64],
                                                                                    NDArray[np.bool_]]:
    """The outcome (1 or 0) of every scored row of a matured day whose outcome is known, and which rows those
    are: an unknown outcome (null, `ml.data.labels.outcome_codes`) is left out; a row without a label is an
    error, never dropped."""
    of_day = labels.filter(pc.equal(labels["application_date"], pa.scalar(day, pa.date32())))
    index = pc.index_in(ids, value_set=of_day["id"].combine_chunks())
    if index.null_count:
        raise MissingDataError(f"{index.null_count} of {len(ids)} scored rows of {dataset} on {day} have matured "
                               f"but have no label; check {layout.labels_root(dataset)}")
    y = pc.take(of_day["label"], index)
    known = pc.is_valid(y).to_numpy(zero_copy_only=False)
    return pc.drop_null(y).to_numpy().astype(np.int64), known


def add_bands(counts: BandCounts, codes: NDArray[np.int64], names: list[str], y: NDArray[np.int64],
              p: NDArray[np.float64]) -> None:
    """Add rows, bads and PD sums per band."""
    k = len(names)
    rows, bads, pds = (np.bincount(codes, w, k) for w in (None, y, p))
    for i in np.flatnonzero(rows):
        counts.add(names[i], float(rows[i]), float(bads[i]), float(pds[i]))


def review_codes(reviews: pd.DataFrame) -> dict[dt.date, tuple[pa.Array, NDArray[np.int64]]]:
    """Per application date: the reviewed ids and their decisions as `ml.monitor.overrides` codes."""
    out: dict[dt.date, tuple[pa.Array, NDArray[np.int64]]] = {}
    for day, rows in reviews.groupby("application_date", sort=False):
        codes = np.where(rows["decision"].to_numpy() == APPROVE, override_rates.APPROVE, override_rates.DECLINE).astype(np.int64)
        out[cast(dt.date, day)] = (pa.array(rows["id"].astype(str).tolist(), pa.string()), codes)
    return out


def reviewer_decisions(reviewed: tuple[pa.Array, NDArray[np.int64]] | None, ids: pa.Array) -> NDArray[np.int64]:
    """Each scored row's reviewer decision (override_rates.APPROVE, override_rates.DECLINE, or override_rates.NO_DECISION)."""
    if reviewed is None:
        return np.full(len(ids), override_rates.NO_DECISION, np.int64)
    index = pc.index_in(ids, value_set=reviewed[0])
    found = pc.is_valid(index).to_numpy(zero_copy_only=False)
    out = np.full(len(ids), override_rates.NO_DECISION, np.int64)
    out[found] = reviewed[1][pc.drop_null(index).to_numpy()]
    return out
