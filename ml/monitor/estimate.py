"""Label-free performance estimate for weeks whose outcomes are not known yet (confidence-based
performance estimation, as NannyML's CBPE): if the PDs are calibrated, each row is a bad with probability
p, so the expected default rate is the mean PD and the expected AUC is the AUC of the expected counts.

The AUC estimate is the ratio of expectations over pairs of distinct rows,
sum_{i != j} p_i (1 - p_j) [p_i > p_j, ties 1/2] / sum_{i != j} p_i (1 - p_j); its interval uses DeLong's
variance of those expected counts, which also counts the variation of the scores and so errs wide. The
estimate is only as good as the calibration: `ml.monitor.bands` tests it on the weeks that matured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ml.ranking import Z95, AucVariance, auc_variance, dot, expected_counts


@dataclass(frozen=True)
class Estimate:
    """Expected default rate and AUC of rows without outcomes, with 95 % intervals."""

    rows: int
    expected_default_rate: float
    default_rate_low: float
    default_rate_high: float
    expected_auc: float
    auc_low: float
    auc_high: float


def expected_auc(p: ArrayLike) -> AucVariance:
    """Expected AUC over distinct pairs if each row is a bad with probability p, and its variance."""
    p_arr = np.asarray(p, dtype=float)
    return _expected_auc(p_arr, dot(p_arr, 1.0 - p_arr))


def _expected_auc(p: np.ndarray, own: float) -> AucVariance:
    """expected_auc, given own = sum p (1 - p) (the estimate needs it too: computed once)."""
    counts = expected_counts(p)
    spread = auc_variance(counts)
    m, n = float(counts.bads.sum()), float(counts.goods.sum())
    # a row paired with itself: one half of p (1 - p) in the ties
    if not math.isfinite(spread.auc) or m * n - own <= 0:
        return AucVariance(float("nan"), float("nan"))
    return AucVariance((spread.auc * m * n - 0.5 * own) / (m * n - own), spread.variance)


def estimate(p: ArrayLike) -> Estimate:
    """The label-free estimate of rows scored with PDs `p`."""
    p_arr = np.asarray(p, dtype=float)
    n = len(p_arr)
    if n == 0:
        nan = float("nan")
        return Estimate(0, nan, nan, nan, nan, nan, nan)
    rate = float(p_arr.mean())
    # the number of defaults is a sum of independent Bernoulli(p_i): variance sum p_i (1 - p_i)
    own = dot(p_arr, 1.0 - p_arr)
    half = Z95 * math.sqrt(own) / n
    auc = _expected_auc(p_arr, own)
    low, high = auc.interval()
    return Estimate(n, rate, max(0.0, rate - half), min(1.0, rate + half), auc.auc, low, high)
