"""Evaluate a model on a labelled sample: headline metrics and the curves a report draws (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ml import metrics
from ml.ranking import auc_variance, rank_counts


@dataclass(frozen=True)
class Evaluation:
    """Everything known about one model on one labelled sample; plain JSON-able values."""

    # metrics.evaluate (auc, gini, ks, brier, log_loss, classification at threshold) and the AUC's 95% interval
    # (auc_low, auc_high; DeLong) with its standard error auc_se
    metrics: dict[str, Any]
    roc: dict[str, list[float]]
    ks_curve: dict[str, Any]
    calibration: list[dict[str, Any]]
    score_histogram: dict[str, list[Any]]


def evaluate(y: ArrayLike, p: ArrayLike, threshold: float, beta: float = 2.0) -> Evaluation:
    """Metrics at the model's threshold, the AUC's interval, and the ROC, KS, calibration and score-distribution
    data of (y, p)."""
    y_arr, p_arr = np.asarray(y), np.asarray(p, dtype=float)
    headline = metrics.evaluate(y_arr, p_arr, threshold, beta)
    # a small out-of-time test gives an AUC of wide uncertainty (~ +/-0.06 on 230 rows): it travels with the AUC
    auc = auc_variance(rank_counts(p_arr, y_arr.astype(float)))
    low, high = auc.interval()
    return Evaluation(metrics={**headline, "auc_se": auc.se, "auc_low": low, "auc_high": high},
                      roc=metrics.roc_points(y_arr, p_arr), ks_curve=metrics.ks_curve(y_arr, p_arr),
                      calibration=metrics.calibration_table(y_arr, p_arr),
                      score_histogram=metrics.score_histogram(y_arr, p_arr))
