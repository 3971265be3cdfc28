"""The reference a model stores for stability monitoring: bins (PSI on the score, CSI on each feature) and a
sample of the development rows (KS).

Bins are fitted once on the development sample at training time and stored as JSON with the model;
monitoring applies the stored bins to current data and never re-bins on it, so a shift shows up as a
change in proportions instead of being absorbed by new cut points.

Numeric bins are right-closed, (-inf, e1], (e1, e2], ..., (ek, +inf), with cut points taken from the
development sample's quantiles; NaN goes to a dedicated missing bin, always last. Categorical bins keep
the most frequent categories, then an "other" bin (unseen or rarer categories), then the missing bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

EPS = 1e-4
GREEN, AMBER, RED = "green", "amber", "red"
SAMPLE_ROWS = 100_000
SAMPLE_SCORE = "__score__"  # the score's column in the reference sample (feature columns keep their names)


def _numeric(values: ArrayLike | pd.Series) -> NDArray[np.float64]:
    """Values as float64 with NaN for missing (pandas NA included); ValueError on non-numeric text."""
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    try:
        return pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"expected numeric values: {exc}") from exc


def _labels(values: ArrayLike | pd.Series) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Non-missing values as strings (True -> 'True') and the missing mask (None, NaN, pd.NA)."""
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    s = s.reset_index(drop=True)
    missing = s.isna().to_numpy(dtype=bool)
    return s[~missing].astype(str).to_numpy(dtype=object), missing


def _coded(values: ArrayLike | pd.Series) -> tuple[NDArray[np.intp], list[str]]:
    """Values as codes into their distinct labels (as `_labels` spells them), -1 for missing; a pandas
    Categorical is read from its codes, without a string per row."""
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    if isinstance(s.dtype, pd.CategoricalDtype):
        return np.asarray(s.cat.codes, dtype=np.intp), [str(c) for c in s.cat.categories]
    labels, missing = _labels(s)
    codes = np.full(len(missing), -1, dtype=np.intp)
    factor, distinct = pd.factorize(pd.Series(labels, dtype=object))
    codes[~missing] = factor
    return codes, [str(d) for d in distinct]


def fit_numeric_bins(values: ArrayLike | pd.Series, n_bins: int = 10) -> dict[str, Any]:
    """Quantile bins of a development sample: interior cut points and proportions (missing bin last)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    x = np.sort(_numeric(values))  # NaN sorts last
    if len(x) == 0:
        raise ValueError("cannot fit bins on an empty sample")
    finite = x[np.isfinite(x)]
    if len(finite):
        # cuts are sample values (the ceil(i*n/n_bins)-th smallest, in exact integer arithmetic: float
        # quantile levels like 0.7000000000000001 would cut one row off a block of ties), so each
        # right-closed bin holds at least its own cut point; ties collapse duplicate cuts, and a cut at the
        # maximum would leave the top bin empty
        ranks = (np.arange(1, n_bins) * len(finite) + n_bins - 1) // n_bins
        cuts = np.unique(finite[ranks - 1])
        cuts = cuts[cuts < finite[-1]]
    else:
        cuts = np.array([], dtype=float)
    bins: dict[str, Any] = {"type": "numeric", "edges": cuts.astype(float).tolist()}
    bins["proportions"] = (numeric_counts(x, bins["edges"]) / len(x)).tolist()
    return bins


def fit_categorical_bins(values: ArrayLike | pd.Series, max_categories: int = 20) -> dict[str, Any]:
    """Most frequent categories (ties by name) and proportions per category, then "other", then missing."""
    if max_categories < 1:
        raise ValueError(f"max_categories must be at least 1, got {max_categories}")
    codes, labels = _coded(values)
    if len(codes) == 0:
        raise ValueError("cannot fit bins on an empty sample")
    counts: dict[str, int] = {}
    for label, n in zip(labels, np.bincount(codes[codes >= 0], minlength=len(labels)).tolist(), strict=True):
        if n:
            counts[label] = counts.get(label, 0) + n
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    bins: dict[str, Any] = {"type": "categorical", "categories": [str(k) for k, _ in ranked[:max_categories]]}
    bins["proportions"] = bin_proportions(values, bins)
    return bins


def numeric_counts(sorted_values: NDArray[np.floating[Any]], edges: Sequence[float]) -> NDArray[np.int64]:
    """Rows per numeric bin of `edges`, missing bin last, of values sorted with NaN last (np.sort's order).

    The one assignment of numbers to stored bins, for the candidate report and for monitoring alike: bins
    are right-closed (x <= edge), and values are compared with the edges in the values' own dtype (edges
    fitted on float32 inputs are float32 numbers, so casting them is exact).
    """
    x = sorted_values
    valid = int(np.searchsorted(x, np.inf, side="right"))  # everything but NaN (infinities go to the end bins)
    below = np.searchsorted(x[:valid], np.asarray(edges, dtype=x.dtype), side="right")
    return np.diff(np.concatenate(([0], below, [valid, len(x)]))).astype(np.int64)


def category_bins(categories: Sequence[str], labels: Sequence[str]) -> NDArray[np.intp]:
    """The bin of each distinct label under stored categorical bins: its category's, else "other" (unseen or
    rarer categories); missing values go to the bin after it, the last."""
    known = pd.Index(list(categories), dtype=object).get_indexer(pd.Index(list(labels), dtype=object))
    return np.where(known < 0, len(categories), known)


def bin_counts(values: ArrayLike | pd.Series, bins: dict[str, Any]) -> NDArray[np.int64]:
    """Rows of `values` per stored bin, in the order of bins["proportions"] (missing last); numbers are
    compared as float64."""
    if bins.get("type") == "numeric":
        return numeric_counts(np.sort(_numeric(values)), bins["edges"])
    if bins.get("type") == "categorical":
        categories = list(bins["categories"])
        codes, labels = _coded(values)
        # each distinct label is looked up once; code -1 (missing) -> the last bin
        table = np.append(category_bins(categories, labels), len(categories) + 1)
        return np.bincount(table[codes], minlength=len(categories) + 2).astype(np.int64)
    raise ValueError(f"unknown bin type {bins.get('type')!r} (expected 'numeric' or 'categorical')")


def bin_proportions(values: ArrayLike | pd.Series, bins: dict[str, Any]) -> list[float]:
    """Proportions of `values` in stored bins, in the order of bins["proportions"] (missing last)."""
    counts = bin_counts(values, bins)
    rows = int(counts.sum())
    if rows == 0:
        raise ValueError("cannot compute proportions of an empty sample")
    proportions: list[float] = (counts / rows).tolist()
    return proportions


def psi(expected: ArrayLike, actual: ArrayLike, eps: float = EPS) -> float:
    """Population stability index sum((a - e) * ln(a / e)), proportions below eps (default 1e-4) floored to eps."""
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if e.ndim != 1 or e.shape != a.shape or len(e) == 0:
        raise ValueError(f"expected and actual must be non-empty and of equal length ({e.shape} vs {a.shape})")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    for name, arr in (("expected", e), ("actual", a)):
        # loose enough for proportions rounded in a report, tight enough to catch counts passed by mistake
        if not (np.isfinite(arr) & (arr >= 0)).all() or abs(arr.sum() - 1.0) > 1e-3:
            raise ValueError(f"{name} must be proportions (finite, non-negative, summing to 1); sum is {arr.sum()!r}")
    # without the floor an empty bin on either side would make the index infinite
    e, a = np.maximum(e, eps), np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def traffic_light(value: float, amber: float = 0.10, red: float = 0.25) -> str:
    """'green' below amber, 'amber' from amber up to red, 'red' from red up (thresholds inclusive)."""
    if math.isnan(value):
        raise ValueError("cannot grade a NaN stability index")
    if amber > red:
        raise ValueError(f"amber ({amber}) must not exceed red ({red})")
    return RED if value >= red else AMBER if value >= amber else GREEN


def is_categorical(column: pd.Series) -> bool:
    """Whether a column gets categorical bins (text, categories, booleans) rather than quantile bins."""
    # bool first: pandas counts bool as numeric, but True/False are categories in CSI reports
    return pd.api.types.is_bool_dtype(column.dtype) or not pd.api.types.is_numeric_dtype(column.dtype)


def fit_reference(features: pd.DataFrame, scores: ArrayLike, n_bins: int = 10) -> dict[str, Any]:
    """JSON-able reference bins for the score and every feature column (categorical by dtype), fitted once."""
    names = list(features.columns)
    if not all(isinstance(c, str) for c in names):
        raise ValueError("feature column names must be strings (they become JSON keys)")
    if len(set(names)) != len(names):
        raise ValueError("feature column names must be unique")
    score_arr = _numeric(scores)
    if len(score_arr) != len(features):
        raise ValueError(f"features and scores have different lengths ({len(features)} vs {len(score_arr)})")
    fitted: dict[str, Any] = {}
    for name in names:
        column = features[name]
        try:
            fitted[name] = fit_categorical_bins(column) if is_categorical(column) else fit_numeric_bins(column, n_bins)
        except ValueError as exc:
            raise ValueError(f"column {name!r}: {exc}") from exc
    return {"score": fit_numeric_bins(score_arr, n_bins), "features": fitted, "eps": EPS, "n": len(features)}


def stability(reference: dict[str, Any], features: pd.DataFrame, scores: ArrayLike,
              thresholds: tuple[float, float] = (0.10, 0.25)) -> dict[str, Any]:
    """Score PSI and per-feature CSI of current data against stored reference bins, with traffic lights
    graded by the (amber, red) thresholds given; the result states the thresholds and epsilon it used."""
    missing = [name for name in reference["features"] if name not in features.columns]
    if missing:
        raise ValueError(f"columns in the reference but missing from the data: {', '.join(missing)}")
    eps = float(reference.get("eps", EPS))
    score_psi = psi(reference["score"]["proportions"], bin_proportions(scores, reference["score"]), eps)
    result: dict[str, Any] = {"score_psi": score_psi, "score_light": traffic_light(score_psi, *thresholds),
                              "features": {}, "eps": eps, "thresholds": dict(zip(("amber", "red"), thresholds, strict=True))}
    for name, bins in reference["features"].items():
        try:
            csi = psi(bins["proportions"], bin_proportions(features[name], bins), eps)
        except ValueError as exc:
            raise ValueError(f"column {name!r}: {exc}") from exc
        result["features"][name] = {"csi": csi, "light": traffic_light(csi, *thresholds)}
    return result


def reference_sample(features: pd.DataFrame, scores: ArrayLike, size: int = SAMPLE_ROWS,
                     seed: int = 42) -> pd.DataFrame:
    """A seeded sample (rows kept in order) of the development rows' numeric model inputs and score, stored
    with the model so monitoring can compute KS against it."""
    if SAMPLE_SCORE in features.columns:
        raise ValueError(f"a feature may not be called {SAMPLE_SCORE!r}: the reference sample keeps the score there")
    numeric = [c for c in features.columns if not is_categorical(features[c])]
    rows = np.sort(np.random.default_rng(seed).choice(len(features), min(size, len(features)), replace=False))
    sample = features.iloc[rows][numeric].astype("float32").reset_index(drop=True)
    sample[SAMPLE_SCORE] = np.asarray(scores, dtype=np.float64)[rows]
    return sample
