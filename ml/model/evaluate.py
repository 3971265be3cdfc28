"""Evaluate a model on a labelled sample: headline metrics and the curves a report draws (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ml import metrics


@dataclass(frozen=True)
class Evaluation:
    """Everything known about one model on one labelled sample; plain JSON-able values."""

    metrics: dict[str, Any]  # metrics.evaluate: auc, gini, ks, brier, log_loss, classification at threshold
    roc: dict[str, list[float]]
    ks_curve: dict[str, Any]
    calibration: list[dict[str, Any]]
    score_histogram: dict[str, list[Any]]


def evaluate(y: ArrayLike, p: ArrayLike, threshold: float, beta: float = 2.0) -> Evaluation:
    """Metrics at the model's threshold and the ROC, KS, calibration and score-distribution data of (y, p)."""
    y_arr, p_arr = np.asarray(y), np.asarray(p, dtype=float)
    return Evaluation(metrics=metrics.evaluate(y_arr, p_arr, threshold, beta), roc=metrics.roc_points(y_arr, p_arr),
                      ks_curve=metrics.ks_curve(y_arr, p_arr), calibration=metrics.calibration_table(y_arr, p_arr),
                      score_histogram=metrics.score_histogram(y_arr, p_arr))
