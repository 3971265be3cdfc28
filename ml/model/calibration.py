"""Calibration map: fitted on the validation sample when a model's raw PDs are not probabilities (e.g. it was
trained with cost-sensitive weights), stored with the model as data (calibration.json), applied to every PD.

- Platt: p = 1 / (1 + exp(-(a * logit(raw) + b))), a logistic regression on the raw log-odds; strictly
  increasing, so it keeps the ranking (AUC, KS) and only moves the level and spread of the PDs.
- Isotonic: a non-decreasing step function through the validation sample (scikit-learn's
  IsotonicRegression), linear between its thresholds and flat beyond them; it can tie rows that the raw PDs
  told apart, so it may lower the AUC a little.

Stored as numbers, never as a pickled estimator, so loading a model runs no stored code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

METHODS = ("platt", "isotonic")
_CLIP = 1e-15  # raw PDs of exactly 0 or 1 would have infinite log-odds


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.clip(p, _CLIP, 1 - _CLIP)
    return np.log(q) - np.log1p(-q)


def fit(raw: ArrayLike, y: ArrayLike, method: str) -> dict[str, Any]:
    """The calibration map of raw PDs to the outcomes `y` (0/1), as JSON-able data."""
    raw_arr, y_arr = np.asarray(raw, dtype=float), np.asarray(y, dtype=int)
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=np.inf).fit(_logit(raw_arr)[:, None], y_arr)
        return {"method": "platt", "slope": float(lr.coef_[0, 0]), "intercept": float(lr.intercept_[0])}
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw_arr, y_arr)
        return {"method": "isotonic", "x": iso.X_thresholds_.astype(float).tolist(),
                "y": iso.y_thresholds_.astype(float).tolist()}
    raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, not '{method}'")


def apply(calibration: dict[str, Any], raw: ArrayLike) -> NDArray[np.float64]:
    """Calibrated PDs of raw PDs."""
    raw_arr = np.asarray(raw, dtype=float)
    if calibration["method"] == "platt":
        z = calibration["slope"] * _logit(raw_arr) + calibration["intercept"]
        platt: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return platt
    isotonic: NDArray[np.float64] = np.interp(raw_arr, calibration["x"], calibration["y"])
    return isotonic


def check(calibration: Any) -> dict[str, Any]:
    """A stored calibration map, validated (it comes from the artifact store); ValueError says what is wrong."""
    if not isinstance(calibration, dict) or calibration.get("method") not in METHODS:
        raise ValueError(f"calibration.json: method must be one of {', '.join(METHODS)}")
    if calibration["method"] == "platt":
        numbers = [calibration.get("slope"), calibration.get("intercept")]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
            raise ValueError("calibration.json: platt needs finite numbers 'slope' and 'intercept'")
        return calibration
    try:
        x, y = np.asarray(calibration.get("x"), dtype=float), np.asarray(calibration.get("y"), dtype=float)
    except (TypeError, ValueError):
        x = y = np.array([])
    if not (x.ndim == y.ndim == 1 and len(x) == len(y) >= 1 and np.isfinite(x).all() and (np.diff(x) >= 0).all()
            and ((y >= 0) & (y <= 1)).all() and (np.diff(y) >= 0).all()):
        raise ValueError("calibration.json: isotonic needs x and y of equal length, x increasing, y non-decreasing "
                         "in [0, 1]")
    return calibration
