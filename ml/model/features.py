"""The feature pipeline: turns curated rows into the model's input frame, identically at training and scoring.

It is fitted at training time, saved next to the booster, and loaded with it, so scoring cannot skew
from training: same columns, same order, same dtypes, same category lists (unseen categories -> missing).
Date columns are never model inputs themselves: the spec's `derived` features (days between two dates, a
date's age at the business date, its month, weekday or year) are computed from them here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ml.spec import DatasetSpec, normalize_text

_MAX_LEARNED_CATEGORIES = 50


@dataclass(frozen=True)
class FeaturePipeline:
    numeric: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]
    order: tuple[str, ...]
    # numbers computed from date columns (the spec's `derived:`): name -> (kind, *date columns)
    derived: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def fit(cls, spec: DatasetSpec, curated: pd.DataFrame) -> "FeaturePipeline":
        """Feature columns from the spec (roles feature/exposure, kv keys expanded, never a protected attribute:
        `DatasetSpec.model_inputs`); categories from the spec."""
        numeric: list[str] = []
        categorical: dict[str, tuple[str, ...]] = {}
        inputs = set(spec.model_inputs)
        for col in spec.columns:
            if col.role not in ("feature", "exposure"):
                continue
            subs = [(f"{col.name}_{k.name}", k.type, k.categories) for k in col.keys or []] if col.type == "kv" \
                else [(col.name, col.type, col.categories)]
            for name, kind, categories in subs:
                if name not in inputs:
                    continue
                if kind in ("int", "float", "bool"):
                    numeric.append(name)
                elif kind == "category":
                    categorical[name] = tuple(sorted({normalize_text(c) for c in categories or []}))
                elif kind == "string":
                    seen = curated[name].dropna().astype(str).value_counts()
                    categorical[name] = tuple(sorted(seen.index[:_MAX_LEARNED_CATEGORIES]))
        derived = {f.name: (f.kind, *f.sources) for f in spec.derived}
        return cls(numeric=tuple(numeric), categorical=categorical, derived=derived,
                   order=tuple(numeric + list(derived) + list(categorical)))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The curated columns the model input is built from (derived features read their date columns)."""
        sources = [c for kind, *cols in self.derived.values() for c in [*cols, *(["business_date"] if kind ==
                                                                                   "age_days" else [])]]
        return tuple(dict.fromkeys([*self.numeric, *sources, *self.categorical]))

    def transform(self, data: pd.DataFrame | pa.Table) -> pd.DataFrame:
        """Model input: float32 numerics and fixed-category pandas Categoricals, in training order.

        Training passes pandas frames and scoring passes Arrow record batches; both go through the
        Arrow code below, so the two cannot drift apart.
        """
        columns = list(data.columns) if isinstance(data, pd.DataFrame) else data.column_names
        missing = [c for c in self.inputs if c not in columns]
        if missing:
            raise ValueError(f"input lacks feature columns: {', '.join(missing)}")
        table = pa.Table.from_pandas(data[list(self.inputs)], preserve_index=False) if isinstance(data, pd.DataFrame) \
            else data
        out: dict[str, object] = {name: _numbers(name, table.column(name)) for name in self.numeric}
        for name, (kind, *cols) in self.derived.items():
            out[name] = _derived(kind, [table.column(c) for c in cols], table)
        for name, categories in self.categorical.items():
            dtype = pd.CategoricalDtype(list(categories))
            out[name] = pd.Categorical.from_codes(_codes(table.column(name), categories), dtype=dtype)
        index = data.index if isinstance(data, pd.DataFrame) else None
        return pd.DataFrame(out, index=index)[list(self.order)]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeaturePipeline":
        return cls(numeric=tuple(data["numeric"]),
                   categorical={k: tuple(v) for k, v in data["categorical"].items()},
                   order=tuple(data["order"]),
                   derived={k: tuple(v) for k, v in data.get("derived", {}).items()})


def _derived(kind: str, dates: list[pa.ChunkedArray], table: pa.Table) -> np.ndarray:
    """A numeric feature from date columns, as float32 (NaN where a date is missing)."""
    if kind == "days_between":
        values = pc.days_between(dates[0], dates[1])
    elif kind == "age_days":
        values = pc.days_between(dates[0], table.column("business_date"))
    else:
        values = {"month": pc.month, "weekday": pc.day_of_week, "year": pc.year}[kind](dates[0])
    return _numbers(kind, values)


def _numbers(name: str, column: pa.ChunkedArray) -> np.ndarray:
    """float32 values, NaN where missing (XGBoost's missing value)."""
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            or pa.types.is_null(kind)):
        raise ValueError(f"feature column '{name}' holds {kind}, not numbers")
    numbers: np.ndarray = pc.cast(column, pa.float32(), safe=False).to_numpy().astype(np.float32, copy=False)
    return numbers


def _codes(column: pa.ChunkedArray, categories: tuple[str, ...]) -> np.ndarray:
    """Category codes of the values (-1 for missing and for values outside the fixed categories).

    Works on the column's dictionary: a batch read with `read_dictionary` is looked up once per distinct
    value, not once per row.
    """
    known = pa.array(categories, pa.string())
    codes = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        lookup = pc.index_in(chunk.dictionary.cast(pa.string()), value_set=known).fill_null(-1).to_numpy()
        indices = chunk.indices.fill_null(0).to_numpy()
        chunk_codes = lookup[indices] if len(lookup) else np.full(len(chunk), -1)
        if chunk.null_count:
            chunk_codes[chunk.is_null().to_numpy(zero_copy_only=False)] = -1
        codes.append(chunk_codes)
    return np.concatenate(codes).astype(np.int32) if codes else np.empty(0, np.int32)
