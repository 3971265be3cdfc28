"""The scorecard challenger: weight-of-evidence binning and a logistic regression on the WoE values, trained on the
same development sample as the XGBoost candidate, and its points table (feature, bin, points) on the policy's
score scale (pure; scikit-learn's LogisticRegression, a few seconds on 100 k rows).

Bins: a number feature's train-sample quantiles (at most MAX_BINS, each holding at least MIN_BIN_SHARE of the
rows), merged where the WoE goes against the spec's monotone direction; its missing values are a bin of their
own. A category feature's bins are its categories, a value outside them with the missing ones. WoE = ln(share of
bads / share of goods) with half a row added to every count, so an empty bin has a finite WoE.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from ml.spec import Policy

MAX_BINS = 10
MIN_BIN_SHARE = 0.05
MISSING = "missing"


@dataclass(frozen=True)
class FeatureBins:
    """One feature's bins: upper edges of the number bins (x < edge; the last bin open), or the categories; the
    WoE of each bin, then of the missing bin."""

    feature: str
    edges: tuple[float, ...]  # number bins: bin i holds edges[i-1] <= x < edges[i]; empty for a category feature
    categories: tuple[str, ...]  # a category feature's bins; empty for a number feature
    woe: tuple[float, ...]  # one per bin, the missing bin last
    rows: tuple[int, ...] = ()  # train rows in each bin (the missing bin last)
    information_value: float = 0.0  # sum over bins of (share of bads - share of goods) x WoE

    def labels(self) -> list[str]:
        """The bins as a reader sees them ('< 0.5', '0.5 to < 2', '>= 2', a category, 'missing')."""
        if self.categories:
            return [*self.categories, MISSING]
        e = [f"{v:g}" for v in self.edges]
        if not e:
            return ["all", MISSING]
        middle = [f"{lo} to < {hi}" for lo, hi in pairwise(e)]
        return [f"< {e[0]}", *middle, f">= {e[-1]}", MISSING]

    def index(self, values: pd.Series) -> np.ndarray:
        """The bin of each value (the missing bin for a missing or unknown one)."""
        missing = len(self.woe) - 1
        if self.categories:
            codes = pd.Categorical(values.astype(object), categories=list(self.categories)).codes
            return np.where(codes < 0, missing, codes)
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        return np.where(np.isnan(x), missing, np.searchsorted(np.asarray(self.edges), x, side="right"))

    def transform(self, values: pd.Series) -> np.ndarray:
        """The WoE of each value's bin."""
        woe: np.ndarray = np.asarray(self.woe)[self.index(values)]
        return woe


@dataclass(frozen=True)
class Scorecard:
    """WoE bins per feature and the logistic regression on them: PD = 1 / (1 + exp(-(intercept + sum coef x WoE)))."""

    bins: tuple[FeatureBins, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def log_odds(self, features: pd.DataFrame) -> np.ndarray:
        """ln(bad:good odds) of each row of model input."""
        total = np.full(len(features), self.intercept)
        for b, c in zip(self.bins, self.coefficients, strict=True):
            total += c * b.transform(features[b.feature])
        return total

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """The PD of each row of model input (the feature pipeline's frame)."""
        pd_: np.ndarray = 1.0 / (1.0 + np.exp(-self.log_odds(features)))
        return pd_

    def points(self, policy: Policy) -> list[dict[str, Any]]:
        """The points table: rows {feature, bin, woe, points}; a row's points summed over its features give its
        score on the policy's scale (base_score at base_odds good:bad, pdo points to double the odds), up to the
        rounding of each bin's points. The intercept is shared out evenly over the features."""
        factor = policy.pdo / math.log(2)
        offset = policy.base_score - factor * math.log(policy.base_odds)
        k = max(len(self.bins), 1)
        rows = []
        for b, c in zip(self.bins, self.coefficients, strict=True):
            for label, woe in zip(b.labels(), b.woe, strict=True):
                rows.append({"feature": b.feature, "bin": label, "woe": float(woe),
                             "points": float(offset / k - factor * (c * woe + self.intercept / k))})
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"bins": [dataclasses.asdict(b) for b in self.bins], "coefficients": list(self.coefficients),
                "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Scorecard":
        bins = tuple(FeatureBins(feature=str(b["feature"]), edges=tuple(b["edges"]), categories=tuple(b["categories"]),
                                 woe=tuple(b["woe"]), rows=tuple(b.get("rows", ())),
                                 information_value=float(b.get("information_value", 0.0)))
                     for b in data["bins"])
        return cls(bins=bins, coefficients=tuple(data["coefficients"]), intercept=float(data["intercept"]))


def _woe(bads: np.ndarray, goods: np.ndarray) -> np.ndarray:
    b, g = bads + 0.5, goods + 0.5
    woe: np.ndarray = np.log((b / b.sum()) / (g / g.sum()))
    return woe


def _number_edges(x: np.ndarray, y: np.ndarray, direction: str | None) -> tuple[float, ...]:
    """Quantile edges of the known values, merged until every bin holds MIN_BIN_SHARE of them and, for a
    monotone feature, the bins' WoE goes its way."""
    known = ~np.isnan(x)
    xs, ys = x[known], y[known]
    if xs.size == 0:
        return ()
    edges = list(np.unique(np.quantile(xs, np.linspace(0, 1, MAX_BINS + 1)[1:-1])))
    edges = [e for e in edges if e > xs.min()]  # a bin below the smallest value would be empty
    while edges:
        index = np.searchsorted(np.asarray(edges), xs, side="right")
        rows = np.bincount(index, minlength=len(edges) + 1)
        bads = np.bincount(index, weights=ys, minlength=len(edges) + 1)
        small = np.flatnonzero(rows < MIN_BIN_SHARE * xs.size)
        if small.size:
            i = int(small[0])
            del edges[min(i, len(edges) - 1)]  # merge with the next bin (the last one with the previous)
            continue
        if direction is None:
            break
        woe = _woe(bads, rows - bads)
        steps = np.diff(woe) if direction == "increasing" else -np.diff(woe)
        wrong = np.flatnonzero(steps < 0)
        if not wrong.size:
            break
        del edges[int(wrong[0])]  # pool the two bins that go the wrong way
    # edges the model input's float32 can hold, so a value compares alike here and in the booster (to_booster)
    return tuple(dict.fromkeys(float(np.float32(e)) for e in edges))


def fit_bins(feature: str, values: pd.Series, y: np.ndarray, direction: str | None = None) -> FeatureBins:
    """A feature's WoE bins from the train sample (`direction`: the spec's monotone one, if any)."""
    categories: tuple[str, ...]
    edges: tuple[float, ...]
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories, edges = tuple(str(c) for c in values.cat.categories), ()
        size = len(categories) + 1
    else:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        categories, edges = (), _number_edges(x, y, direction)
        size = len(edges) + 2
    index = FeatureBins(feature, edges, categories, (0.0,) * size).index(values)
    rows = np.bincount(index, minlength=size).astype(float)
    bads = np.bincount(index, weights=y.astype(float), minlength=size)
    woe = _woe(bads, rows - bads)
    iv = float(np.sum((bads / max(bads.sum(), 1) - (rows - bads) / max((rows - bads).sum(), 1)) * woe))
    return FeatureBins(feature, edges, categories, tuple(float(w) for w in woe), tuple(int(r) for r in rows), iv)


def fit(features: pd.DataFrame, y: np.ndarray, monotone: Mapping[str, str] | None = None,
        regularisation: float = 1.0) -> Scorecard:
    """A scorecard on the pipeline's model input of the train sample and its outcomes (1 = bad)."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=int)
    bins = tuple(fit_bins(c, features[c], y, (monotone or {}).get(c)) for c in features.columns)
    woe = np.column_stack([b.transform(features[b.feature]) for b in bins]) if bins else np.zeros((len(y), 0))
    model = LogisticRegression(C=regularisation, max_iter=1000).fit(woe, y)
    return Scorecard(bins=bins, coefficients=tuple(float(c) for c in model.coef_[0]),
                     intercept=float(model.intercept_[0]))
