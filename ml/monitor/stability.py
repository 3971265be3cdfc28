"""Population stability of a scored window against what the model stored at training (pure: arrays in,
numbers out; no I/O).

Statistics, each graded green < amber <= red with the thresholds of the dataset spec's `monitoring:`, and amber
or red only when it also exceeds its critical value at the window's sizes (`ml.evidence`: what no change would
exceed with 1% probability; the critical value, n and m are in the statistic's detail):
- **PSI** of the score (the PD) and **CSI** of every feature, on the reference bins fitted at training
  (`ml.bins`; never re-binned on current data): missing values in their own bin, categories outside the
  reference bins in "other" (those the model never saw are also listed by name), the stored epsilon.
- **Jensen-Shannon distance** (base 2, so in [0, 1]) of the same bins, score and features.
- **KS**: two-sample Kolmogorov-Smirnov statistic and asymptotic p-value of every numeric feature and of the
  score against the reference sample stored with the model (missing values left out on both sides). The
  light grades the statistic, amber or red only where the test rejects at 1% (p < 0.01). A model
  without a reference sample gets "no reference sample" instead of a KS.

A day is counted once from its rows (`count_numeric` / `count_categorical`): one sort per numeric column
gives its bin counts, its exact KS and its counts on the KS grid. A week or a month merges its days' counts
(`merge`) instead of re-reading rows. Its PSI/CSI/JS are exact; its KS is read on the grid: exact when the
reference has at most GRID_POINTS distinct values (integers, flags), otherwise at most about
1/GRID_POINTS below the exact statistic (the grid is GRID_POINTS quantiles of the reference sample).

`judge` turns counts into graded statistics (`Stat`), the rows the SQL history keeps; the counts travel in
their `detail`, so `counts_from_stats` rebuilds a day from the history to merge it into its week and month.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike
from scipy.stats import kstwo

from ml import bins as binning
from ml import evidence
from ml.spec import Monitoring

GRID_POINTS = 256
TOO_FEW_ROWS = "too few rows"
NO_SAMPLE = "no reference sample"
SEVERITY = {None: 0, binning.GREEN: 1, binning.AMBER: 2, binning.RED: 3}

# statistic names, as the history keys them; the score's rows have feature ""
ROWS, OVERALL = "rows", "overall"
SCORE_PSI, SCORE_KS, SCORE_JS = "score_psi", "score_ks", "score_js"
CSI, KS, JS = "csi", "ks", "js"


# ------------------------------------------------------------------------------------ the reference


def ks_grid(sorted_sample: np.ndarray, points: int = GRID_POINTS) -> np.ndarray:
    """The values a merged window's KS is read at: every distinct reference value when there are at most
    `points`, else `points` quantiles of the sample (values of the sample, so each is a jump of its CDF)."""
    distinct = np.unique(sorted_sample)
    if len(distinct) <= points:
        return distinct
    ranks = (np.arange(1, points + 1) * len(sorted_sample) + points - 1) // points
    return np.unique(sorted_sample[ranks - 1])


@dataclass(frozen=True)
class Column:
    """One monitored column's reference: its bins, and for a numeric column with a reference sample the
    sorted non-missing sample values and the KS grid."""

    bins: dict[str, Any]
    sample: np.ndarray | None = None
    grid: np.ndarray | None = None
    known: frozenset[str] | None = None  # categories the model knows; others are listed as unseen
    # the sample's distinct values and its CDF at each (`distinct_cdf`), prepared once for the days' exact KS
    cdf: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def categorical(self) -> bool:
        return self.bins.get("type") == "categorical"


@dataclass(frozen=True)
class Reference:
    """A model's monitoring reference, prepared once per model version."""

    score: Column
    features: dict[str, Column]
    eps: float
    has_sample: bool
    # the share of each reason statement as the first reason on the candidate's test sample (model.json's
    # reasons.first); None for a model that predates it
    reasons: dict[str, float] | None = None
    rows: int | None = None  # the development rows the bins were fitted on (m of the critical values); None if unknown

    @classmethod
    def of(cls, reference_bins: Mapping[str, Any], sample: pd.DataFrame | None = None,
           known: Mapping[str, Iterable[str]] | None = None,
           reasons: Mapping[str, float] | None = None) -> "Reference":
        """From the stored reference bins, the stored sample (None for a model that predates it), the
        categories the model's pipeline knows and the reasons' mix at training."""
        def column(name: str, bins: dict[str, Any], sample_column: str) -> Column:
            if sample is None or sample_column not in sample.columns or bins.get("type") != "numeric":
                return Column(bins, known=frozenset(map(str, known[name])) if known and name in known else None)
            values = np.sort(as_float(sample[sample_column], sample[sample_column].dtype.type))
            values = values[~np.isnan(values)]
            return Column(bins, values, ks_grid(values), cdf=distinct_cdf(values) if len(values) else None)

        return cls(score=column(binning.SAMPLE_SCORE, reference_bins["score"], binning.SAMPLE_SCORE),
                   features={name: column(name, bins, name) for name, bins in reference_bins["features"].items()},
                   eps=float(reference_bins.get("eps", binning.EPS)), has_sample=sample is not None,
                   reasons=None if reasons is None else {str(k): float(v) for k, v in reasons.items()},
                   rows=int(reference_bins["n"]) if reference_bins.get("n") else None)


# ------------------------------------------------------------------------------------------ counting


@dataclass
class Counts:
    """What a window's rows are reduced to, per column: enough to compute every statistic of the window and
    of any longer window containing it."""

    bins: np.ndarray  # rows per reference bin, in the order of the bins' proportions (missing last)
    unseen: dict[str, int] = field(default_factory=dict)  # categories the model never saw ("other" bin)
    valid: int = 0  # non-missing values of a numeric column
    grid_le: np.ndarray | None = None  # non-missing values <= each KS grid point
    grid_lt: np.ndarray | None = None  # non-missing values < each KS grid point
    ks: float | None = None  # exact KS of the rows (a day); None for merged windows (read on the grid)


@dataclass
class WindowCounts:
    rows: int
    score: Counts
    features: dict[str, Counts]


def distinct_cdf(sorted_sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted non-empty sample and its CDF at each (the share of values <= it)."""
    last = np.flatnonzero(np.r_[sorted_sample[1:] != sorted_sample[:-1], True])  # last row of each value
    return sorted_sample[last], (last + 1) / len(sorted_sample)


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample KS statistic sup |F_ref - F_cur| of two sorted samples without missing values.

    Between two distinct reference values F_ref is flat and F_cur only grows, so the supremum is reached at
    a reference value or just before one: the current sample is searched at the reference's distinct values
    only (O(m log n) once it is sorted), not at all n + m points.
    """
    if len(reference) == 0 or len(current) == 0:
        raise ValueError("KS needs two non-empty samples")
    return _ks(*distinct_cdf(reference), current)


def _ks(distinct: np.ndarray, ref_at: np.ndarray, current: np.ndarray) -> float:
    """ks_statistic from the reference's `distinct_cdf` (prepared once per model) and the sorted current."""
    n = len(current)
    ref_before = np.concatenate(([0.0], ref_at[:-1]))
    below = np.searchsorted(current, distinct, side="left")  # current values < each reference value
    # and <= it: the same count unless the current sample holds that very value, which a continuous feature's
    # rarely does, so the second search runs only where it does (half the searching)
    at = below.copy()
    inside = np.flatnonzero(below < n)
    tied = inside[current[below[inside]] == distinct[inside]]
    at[tied] = np.searchsorted(current, distinct[tied], side="right")
    return float(max(np.abs(ref_at - at / n).max(), np.abs(ref_before - below / n).max()))


def ks_pvalue(statistic: float, n: int, m: int) -> float:
    """Asymptotic two-sided p-value of a two-sample KS statistic (scipy's ks_2samp, method="asymp")."""
    return float(np.clip(kstwo.sf(statistic, np.round(n * m / (n + m))), 0.0, 1.0))


def ks_on_grid(column: Column, counts: Counts) -> float:
    """KS of merged counts, read at the column's grid points (exact when the grid holds every distinct
    reference value)."""
    assert column.sample is not None and column.grid is not None
    assert counts.grid_le is not None and counts.grid_lt is not None
    sample, grid, n = column.sample, column.grid, counts.valid
    ref_at = np.searchsorted(sample, grid, side="right") / len(sample)
    ref_before = np.searchsorted(sample, grid, side="left") / len(sample)
    gaps = np.concatenate([np.abs(ref_at - counts.grid_le / n), np.abs(ref_before - counts.grid_lt / n)])
    return float(gaps.max())


def count_numeric(values: np.ndarray, column: Column) -> Counts:
    """Counts of a numeric column (NaN for missing): one sort gives the bin counts, the exact KS and the
    counts on the KS grid."""
    x = np.sort(np.asarray(values))  # NaN sorts last
    # edges, grid and sample are values of the same dtype at training: compared in it, without a copy of x
    bins = binning.numeric_counts(x, column.bins["edges"])
    valid = len(x) - int(bins[-1])
    finite = x[:valid]
    counts = Counts(bins=bins, valid=valid)
    if column.sample is not None and column.grid is not None:
        grid = column.grid.astype(x.dtype, copy=False)
        counts.grid_le = np.searchsorted(finite, grid, side="right").astype(np.int64)
        counts.grid_lt = np.searchsorted(finite, grid, side="left").astype(np.int64)
        if valid and len(column.sample):
            counts.ks = (_ks(*column.cdf, finite) if column.cdf is not None and column.sample.dtype == x.dtype
                         else ks_statistic(column.sample.astype(x.dtype, copy=False), finite))
    return counts


def count_categorical(values: pa.Array | pa.ChunkedArray | pd.Series | np.ndarray, column: Column) -> Counts:
    """Counts of a categorical column per reference bin: each distinct value is looked up once (the column is
    dictionary-encoded), missing values in the missing bin, values outside the bins in "other"."""
    categories = list(column.bins["categories"])
    bins = np.zeros(len(categories) + 2, dtype=np.int64)
    unseen: dict[str, int] = {}
    for labels, per_value, missing in _value_counts(values):
        where = binning.category_bins(categories, labels)
        np.add.at(bins, where, per_value)
        bins[-1] += missing
        for label, n, position in zip(labels, per_value.tolist(), where.tolist(), strict=True):
            if position == len(categories) and n and (column.known is None or label not in column.known):
                unseen[label] = unseen.get(label, 0) + int(n)
    return Counts(bins=bins, unseen=unseen)


def _value_counts(values: Any) -> Iterator[tuple[list[str], np.ndarray, int]]:
    """(labels, rows per label, missing rows) of a categorical column, per chunk: Arrow dictionaries and pandas
    Categoricals are counted from their codes, so no value is turned into a Python object per row."""
    if isinstance(values, (pd.Series, pd.Categorical)) and isinstance(values.dtype, pd.CategoricalDtype):
        cat = cast(pd.Categorical, values.array) if isinstance(values, pd.Series) else values
        codes = np.asarray(cat.codes)
        labels = [_label(v) for v in cat.categories]
        yield labels, np.bincount(codes[codes >= 0], minlength=len(labels)), int((codes < 0).sum())
        return
    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(
        pd.Series(values, dtype=object).where(pd.notna(values), None).astype(object).tolist())
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        labels = [_label(v) for v in chunk.dictionary.to_pylist()]
        per_value = np.bincount(chunk.indices.drop_null().to_numpy(), minlength=len(labels)) if len(labels) \
            else np.zeros(0, dtype=np.int64)
        yield labels, per_value, chunk.null_count


def _label(value: object) -> str:
    return str(value)  # as ml.bins labels categories (True -> 'True')


def as_float(values: Any, dtype: type = np.float64) -> np.ndarray:
    """Numbers as a numpy array of `dtype` with NaN for missing (numpy, pandas and Arrow inputs)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        numbers: np.ndarray = pc.cast(values, pa.from_numpy_dtype(dtype), safe=False).to_numpy(zero_copy_only=False)
        return numbers
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=dtype, na_value=np.nan)
    return np.asarray(values, dtype=dtype)


def count_column(values: Any, column: Column, dtype: type = np.float32) -> Counts:
    """Counts of one column, numeric or categorical as its reference bins say. Numeric features are counted
    as float32, the model's view of them (its pipeline casts them so, and their bins were fitted on that)."""
    if column.categorical:
        return count_categorical(values, column)
    return count_numeric(as_float(values, dtype), column)


def count_window(scores: Any, features: Mapping[str, Any], reference: Reference) -> WindowCounts:
    """Counts of a window's rows held in memory: the scores (PDs) and one array per reference feature."""
    missing = [name for name in reference.features if name not in features]
    if missing:
        raise ValueError(f"columns in the reference but missing from the data: {', '.join(missing)}")
    items = [(binning.SAMPLE_SCORE, scores, reference.score, np.float64),  # PDs, binned as float64 at training
             *((name, features[name], col, np.float32) for name, col in reference.features.items())]
    with ThreadPoolExecutor(max_workers=2) as pool:  # sorting and searching release the GIL: columns in parallel
        counted = dict(zip([name for name, *_ in items], pool.map(lambda item: count_column(*item[1:]), items), strict=True))
    score = counted.pop(binning.SAMPLE_SCORE)
    return WindowCounts(rows=int(score.bins.sum()), score=score, features=counted)


def merge(windows: Sequence[WindowCounts]) -> WindowCounts:
    """The counts of a longer window from those of its days (same model, so the same bins and grid)."""
    if not windows:
        raise ValueError("nothing to merge")

    def add(parts: list[Counts]) -> Counts:
        unseen: dict[str, int] = {}
        for part in parts:
            for label, n in part.unseen.items():
                unseen[label] = unseen.get(label, 0) + n
        grids = [p.grid_le is not None for p in parts]
        le = [p.grid_le for p in parts if p.grid_le is not None]
        lt = [p.grid_lt for p in parts if p.grid_lt is not None]
        return Counts(bins=np.sum([p.bins for p in parts], axis=0), unseen=unseen, valid=sum(p.valid for p in parts),
                      grid_le=np.sum(le, axis=0) if all(grids) else None,
                      grid_lt=np.sum(lt, axis=0) if all(grids) else None)

    return WindowCounts(rows=sum(w.rows for w in windows), score=add([w.score for w in windows]),
                        features={name: add([w.features[name] for w in windows]) for name in windows[0].features})


# ------------------------------------------------------------------------------------------- judging


def js_distance(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two distributions over the same bins; empty bins
    need no epsilon."""
    p_, q_ = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    p_, q_ = p_ / p_.sum(), q_ / q_.sum()
    m = (p_ + q_) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return math.sqrt(max((kl(p_) + kl(q_)) / 2, 0.0))


@dataclass(frozen=True)
class Stat:
    """One graded statistic of a window: a row of the history (feature "" for the score and the window)."""

    statistic: str
    feature: str
    value: float | None
    light: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def worst(lights: Iterable[str | None]) -> str | None:
    """The most severe of some lights (red > amber > green); None when none was graded."""
    return max(lights, key=lambda light: SEVERITY.get(light, 0), default=None)


def _grade(value: float | None, thresholds: tuple[float, float], judged: bool, critical: float) -> str | None:
    if value is None:
        return None
    return evidence.graded(value, critical, *thresholds) if judged else TOO_FEW_ROWS


def filled_bins(proportions: Sequence[float]) -> int:
    """The reference bins that hold rows: B of the critical values (a bin empty at training stays empty under
    no change)."""
    return int(sum(1 for p in proportions if p > 0))


def _evidence(critical: float, n: int, m: int | None) -> dict[str, Any]:
    return {"critical": critical if math.isfinite(critical) else None, "n": n, "m": m, "level": evidence.LEVEL}


def _column_stats(column: Column, counts: Counts, rows: int, reference: Reference, monitoring: Monitoring,
                  names: tuple[str, str, str], feature: str, judged: bool) -> list[Stat]:
    """PSI/CSI, KS and JS of one column, each graded on its threshold and its critical value at the window's
    sizes (`ml.evidence`); the counts and the evidence go into the details (longer windows merge the counts)."""
    psi_name, ks_name, js_name = names
    eps, m = reference.eps, reference.rows
    expected = column.bins["proportions"]
    actual = counts.bins / rows if rows else None
    psi = binning.psi(expected, actual, eps) if actual is not None else None
    js = js_distance(expected, actual) if actual is not None else None
    filled = filled_bins(expected)
    psi_crit = evidence.psi_critical(filled, rows, m) if rows else math.inf
    js_crit = evidence.js_critical(filled, rows, m) if rows else math.inf
    detail: dict[str, Any] = {"counts": counts.bins.tolist(), "eps": eps, **_evidence(psi_crit, rows, m), "bins": filled}
    if counts.unseen:
        detail["unseen"] = dict(sorted(counts.unseen.items(), key=lambda kv: (-kv[1], kv[0])))
    stats = [Stat(psi_name, feature, psi, _grade(psi, monitoring.psi.pair, judged, psi_crit), detail),
             Stat(js_name, feature, js, _grade(js, monitoring.js.pair, judged, js_crit),
                  {"base": 2, **_evidence(js_crit, rows, m)})]
    if column.categorical:
        return stats
    if column.sample is None:
        return stats + [Stat(ks_name, feature, None, None, {"note": NO_SAMPLE})]
    assert counts.grid_le is not None and counts.grid_lt is not None  # a numeric column with a sample has a grid
    ks_detail: dict[str, Any] = {"n": counts.valid, "m": len(column.sample),
                                 "grid_le": counts.grid_le.tolist(), "grid_lt": counts.grid_lt.tolist()}
    if not counts.valid or not len(column.sample):
        return stats + [Stat(ks_name, feature, None, None,
                             {**ks_detail, "note": "no non-missing values to compare"})]
    ks = counts.ks if counts.ks is not None else ks_on_grid(column, counts)
    ks_crit = evidence.ks_critical(counts.valid, len(column.sample))
    ks_detail.update({"p_value": ks_pvalue(ks, counts.valid, len(column.sample)),
                      "method": "exact" if counts.ks is not None else "grid",
                      "critical": ks_crit, "level": evidence.LEVEL})
    return stats + [Stat(ks_name, feature, ks, _grade(ks, monitoring.ks.pair, judged, ks_crit), ks_detail)]


def judge(counts: WindowCounts, reference: Reference, monitoring: Monitoring) -> list[Stat]:
    """Every statistic of a window with its light, each feature's overall light (its worst statistic) and
    the window's (the worst of the score and the features). A window with fewer than `min_rows` rows is
    marked "too few rows" instead of being judged (its statistics are still shown)."""
    judged = counts.rows >= monitoring.min_rows
    thresholds = {"psi": monitoring.psi.pair, "ks": monitoring.ks.pair, "js": monitoring.js.pair}
    stats = [Stat(ROWS, "", float(counts.rows), None if judged else TOO_FEW_ROWS, {"min_rows": monitoring.min_rows})]
    stats += _column_stats(reference.score, counts.score, counts.rows, reference, monitoring,
                           (SCORE_PSI, SCORE_KS, SCORE_JS), "", judged)
    features: dict[str, str | None] = {}
    for name, column in reference.features.items():
        column_stats = _column_stats(column, counts.features[name], counts.rows, reference, monitoring,
                                     (CSI, KS, JS), name, judged)
        features[name] = worst(s.light for s in column_stats) if judged else TOO_FEW_ROWS
        stats += column_stats + [Stat(OVERALL, name, None, features[name])]
    score_light = next(s.light for s in stats if s.statistic == SCORE_PSI)
    red = sorted(n for n, light in features.items() if light == binning.RED)
    amber = sorted(n for n, light in features.items() if light == binning.AMBER)
    overall = worst([score_light, *features.values()]) if judged else TOO_FEW_ROWS
    stats.append(Stat(OVERALL, "", float(len(red)), overall,
                      {"red": red, "amber": amber, "score_light": score_light, "thresholds": thresholds}))
    return stats


def counts_from_stats(stats: Iterable[Stat], reference: Reference) -> WindowCounts:
    """Rebuild a window's counts from its statistics' details (as `judge` wrote them), e.g. read back from
    the history to merge days into a week."""
    by_key = {(s.statistic, s.feature): s for s in stats}

    def column(psi_name: str, ks_name: str, feature: str) -> Counts:
        detail = by_key[(psi_name, feature)].detail
        counts = Counts(bins=np.asarray(detail["counts"], dtype=np.int64), unseen=dict(detail.get("unseen", {})))
        ks = by_key.get((ks_name, feature))
        if ks is not None and "grid_le" in ks.detail:
            counts.valid = int(ks.detail["n"])
            counts.grid_le = np.asarray(ks.detail["grid_le"], dtype=np.int64)
            counts.grid_lt = np.asarray(ks.detail["grid_lt"], dtype=np.int64)
        return counts

    return WindowCounts(rows=int(by_key[(ROWS, "")].value or 0), score=column(SCORE_PSI, SCORE_KS, ""),
                        features={name: column(CSI, KS, name) for name in reference.features})


def retrain_reason(stats: Sequence[Stat], monitoring: Monitoring) -> str | None:
    """Why a judged window calls for a retraining (red on the score PSI, or at least
    `retrain_on_red_features` red features), or None."""
    window = next(s for s in stats if s.statistic == OVERALL and s.feature == "")
    psi = next(s for s in stats if s.statistic == SCORE_PSI)
    red = list(window.detail["red"])
    reasons = []
    if psi.light == binning.RED:
        reasons.append(f"score PSI {psi.value:.4f} is red (>= {monitoring.psi.red:g})")
    if len(red) >= monitoring.retrain_on_red_features:
        csi = {s.feature: s.value or 0.0 for s in stats if s.statistic == CSI}
        why = {n: [f"{s.statistic.upper()} {s.value:.4f}" for s in stats
                   if s.feature == n and s.statistic in (CSI, KS, JS) and s.light == binning.RED] for n in red}
        reasons.append(f"{len(red)} red features (>= {monitoring.retrain_on_red_features}): "
                       + ", ".join(f"{n} ({', '.join(why[n])})" for n in sorted(red, key=lambda n: -csi[n])))
    return "; ".join(reasons) or None


def bin_labels(bins: Mapping[str, Any]) -> list[str]:
    """Readable names of a column's reference bins, in order (for reports and mails)."""
    if bins.get("type") == "categorical":
        return [*map(str, bins["categories"]), "other", "missing"]
    edges = [f"{e:.4g}" for e in bins["edges"]]
    if not edges:
        return ["all values", "missing"]
    return [f"<= {edges[0]}", *(f"({lo}, {hi}]" for lo, hi in pairwise(edges)), f"> {edges[-1]}", "missing"]
