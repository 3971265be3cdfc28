"""Partial dependence: the mean PD of a sample as one feature is set to each value of a grid, the others left as
they are; the candidate report draws it for every monotone feature of the spec and says whether the spec's
direction holds (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

GRID_POINTS = 20
SAMPLE_ROWS = 2000  # rows of the development sample the curve averages over: 40 k predictions per feature
TOLERANCE = 1e-9  # float noise allowed against the direction (a monotone booster's steps are exact)


def feature_grid(values: pd.Series, points: int = GRID_POINTS) -> np.ndarray:
    """Up to `points` distinct values spanning the feature: its quantiles from 1 % to 99 % (outliers left out),
    or every value when it takes fewer."""
    known = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if known.size == 0:
        return np.empty(0)
    distinct = np.unique(known)
    if distinct.size <= points:
        return distinct
    return np.unique(np.quantile(known, np.linspace(0.01, 0.99, points)))


def partial_dependence(predict: Callable[[pd.DataFrame], np.ndarray], features: pd.DataFrame, feature: str,
                       grid: np.ndarray) -> np.ndarray:
    """The mean of `predict` over the rows of `features` with `feature` set to each grid value in turn."""
    if len(features) == 0 or len(grid) == 0:
        return np.empty(0)
    repeated = features.loc[features.index.repeat(len(grid))].reset_index(drop=True)
    # pandas casts the tiled grid to the column's dtype (numpy's astype cannot take an extension dtype)
    repeated[feature] = pd.Series(np.tile(np.asarray(grid), len(features))).astype(features[feature].dtype)
    p: np.ndarray = np.asarray(predict(repeated), dtype=float).reshape(len(features), len(grid))
    mean: np.ndarray = p.mean(axis=0)
    return mean


def direction_holds(curve: np.ndarray, direction: str) -> bool:
    """Whether a curve never moves against `direction` (increasing: never falls; decreasing: never rises)."""
    steps = np.diff(np.asarray(curve, dtype=float))
    return bool(np.all(steps >= -TOLERANCE) if direction == "increasing" else np.all(steps <= TOLERANCE))


@dataclass(frozen=True)
class MonotoneCheck:
    """One constrained feature's partial-dependence line and whether it goes the spec's way."""

    feature: str
    direction: str  # increasing | decreasing (the spec's)
    grid: list[float]
    pd: list[float]
    holds: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def monotone_checks(predict: Callable[[pd.DataFrame], np.ndarray], features: pd.DataFrame,
                    directions: Mapping[str, str], seed: int = 0, rows: int = SAMPLE_ROWS) -> list[MonotoneCheck]:
    """The partial-dependence line of each constrained feature over (a seeded sample of) the development
    sample's model inputs, in the order of `directions`; features the model does not take are skipped."""
    sample = features.sample(n=rows, random_state=seed) if len(features) > rows else features
    checks = []
    for feature, direction in directions.items():
        if feature not in features.columns:
            continue
        grid = feature_grid(features[feature])
        curve = partial_dependence(predict, sample, feature, grid)
        checks.append(MonotoneCheck(feature=feature, direction=direction, grid=[float(v) for v in grid],
                                    pd=[float(v) for v in curve], holds=direction_holds(curve, direction)))
    return checks
