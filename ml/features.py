"""The feature pipeline: turns curated rows into the model's input frame, identically at training and scoring.

It is fitted at training time, saved next to the booster, and loaded with it, so scoring cannot skew
from training: same columns, same order, same dtypes, same category lists (unseen categories -> missing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ml.spec import DatasetSpec

_MAX_LEARNED_CATEGORIES = 50


@dataclass(frozen=True)
class FeaturePipeline:
    numeric: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]
    order: tuple[str, ...]

    @classmethod
    def fit(cls, spec: DatasetSpec, curated: pd.DataFrame) -> "FeaturePipeline":
        """Feature columns from the spec (roles feature/exposure, kv keys expanded); categories from the spec."""
        numeric: list[str] = []
        categorical: dict[str, tuple[str, ...]] = {}
        for col in spec.columns:
            if col.role not in ("feature", "exposure"):
                continue
            subs = [(f"{col.name}_{k.name}", k.type, k.categories) for k in col.keys or []] if col.type == "kv" \
                else [(col.name, col.type, col.categories)]
            for name, kind, categories in subs:
                if kind in ("int", "float", "bool"):
                    numeric.append(name)
                elif kind == "category":
                    from ml.validate import normalize_text

                    categorical[name] = tuple(sorted({normalize_text(c) for c in categories or []}))
                elif kind == "string":
                    seen = curated[name].dropna().astype(str).value_counts()
                    categorical[name] = tuple(sorted(seen.index[:_MAX_LEARNED_CATEGORIES]))
        return cls(numeric=tuple(numeric), categorical=categorical, order=tuple(numeric + list(categorical)))

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Model input: float32 numerics and fixed-category pandas Categoricals, in training order."""
        missing = [c for c in self.order if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks feature columns: {', '.join(missing)}")
        out = {}
        for name in self.numeric:
            out[name] = pd.to_numeric(frame[name].astype("Float64"), errors="coerce").to_numpy(
                dtype=np.float32, na_value=np.nan)
        for name, categories in self.categorical.items():
            # a vectorised cast: values outside the fixed categories become missing
            out[name] = frame[name].astype("string").astype(pd.CategoricalDtype(list(categories))).array
        return pd.DataFrame(out, index=frame.index)[list(self.order)]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "FeaturePipeline":
        return cls(numeric=tuple(data["numeric"]),  # type: ignore[arg-type]
                   categorical={k: tuple(v) for k, v in data["categorical"].items()},  # type: ignore[union-attr]
                   order=tuple(data["order"]))  # type: ignore[arg-type]
