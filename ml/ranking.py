"""Ranking statistics from counts of bads and goods per distinct score: AUC with DeLong's variance, KS; and
DeLong's paired test of two models' AUCs on the same labelled rows. Shared: training shows the candidate's AUC
with its interval and judges its gain over the champion with them, the backtest judges weeks.

The statistics of one model work on `RankCounts`: the (possibly fractional) number of bads and goods at each distinct
score, ascending. Three kinds of input give them:

- labelled rows (`rank_counts(p, y)`): exact, ties counted one half, as `sklearn.metrics.roc_auc_score`;
- a `LogitHistogram` of many weeks' rows: PDs fall into fixed bins on the log-odds scale, so weeks merge by
  adding counts and memory does not grow with the rows read (rows in one bin count as tied);
- expected counts under the model's own PDs (each row is p bads and 1 - p goods): the label-free estimate.

DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988) from the placement values, computed per distinct
score in O(n log n) as in Sun & Xu (2014).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

Z95 = float(ndtri(0.975))


def dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """sum(a * b); einsum, not BLAS, whose thread start-up costs more than the sum on a busy machine."""
    return float(np.einsum("i,i->", a, b))


@dataclass(frozen=True)
class RankCounts:
    """Bads and goods at each distinct score (or bin), in ascending order of score."""

    bads: NDArray[np.float64]
    goods: NDArray[np.float64]


@dataclass(frozen=True)
class AucVariance:
    """AUC (ties one half) with DeLong's variance; NaN when either class is empty."""

    auc: float
    variance: float

    @property
    def se(self) -> float:
        return math.sqrt(self.variance) if self.variance >= 0 else float("nan")

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """Wald interval auc -/+ z * se, clipped to [0, 1]."""
        return max(0.0, self.auc - z * self.se), min(1.0, self.auc + z * self.se)


def rank_counts(p: ArrayLike, bads: ArrayLike, goods: ArrayLike | None = None) -> RankCounts:
    """Counts per distinct value of `p`: `bads` is a 0/1 label or a weight per row (e.g. the PD itself),
    `goods` defaults to 1 - bads."""
    p_arr = np.asarray(p, dtype=float)
    b = np.asarray(bads, dtype=float)
    g = 1.0 - b if goods is None else np.asarray(goods, dtype=float)
    if not (len(p_arr) == len(b) == len(g)):
        raise ValueError(f"scores and weights differ in length ({len(p_arr)}, {len(b)}, {len(g)})")
    if np.isnan(p_arr).any():
        raise ValueError("scores must not be NaN")
    order = np.argsort(p_arr)
    return _grouped(p_arr[order], b[order], g[order])


def _grouped(sorted_p: NDArray[np.float64], bads: NDArray[np.float64], goods: NDArray[np.float64]) -> RankCounts:
    """Sums of the weights of each run of equal scores, the scores sorted."""
    if len(sorted_p) == 0:
        return RankCounts(np.zeros(0), np.zeros(0))
    changes = sorted_p[1:] != sorted_p[:-1]
    if changes.all():  # every score distinct: each run is one row, its sums the row's own weights
        return RankCounts(bads, goods)
    starts = np.flatnonzero(np.r_[True, changes])
    return RankCounts(np.add.reduceat(bads, starts), np.add.reduceat(goods, starts))


def expected_counts(p: ArrayLike) -> RankCounts:
    """Counts if each row were p of a bad and 1 - p of a good (the weights are the scores: one sort)."""
    ps = np.sort(np.asarray(p, dtype=float))
    if len(ps) and np.isnan(ps[-1]):  # NaN sorts last
        raise ValueError("scores must not be NaN")
    return _grouped(ps, ps, 1.0 - ps)


def auc_variance(counts: RankCounts) -> AucVariance:
    """AUC and DeLong's variance S10/m + S01/n from the placement values of bads (V10) and goods (V01)."""
    b, g = counts.bads, counts.goods
    m, n = float(b.sum()), float(g.sum())
    if m <= 0 or n <= 0:
        return AucVariance(float("nan"), float("nan"))
    # V10: share of goods a bad at this score outranks (ties one half); V01: share of bads above a good.
    # Computed in place (the same operations in the same order, so the same numbers): at a million distinct
    # scores each temporary array costs about as much as the arithmetic
    half = np.multiply(g, 0.5)
    v10 = np.cumsum(g)
    v10 -= half
    v10 /= n
    np.multiply(b, 0.5, out=half)
    v01 = np.cumsum(b)
    np.subtract(m, v01, out=v01)
    v01 += half
    v01 /= m
    auc = dot(b, v10) / m
    v10 -= auc
    np.square(v10, out=v10)
    v01 -= auc
    np.square(v01, out=v01)
    s10 = dot(b, v10) / (m - 1) if m > 1 else 0.0
    s01 = dot(g, v01) / (n - 1) if n > 1 else 0.0
    return AucVariance(auc, s10 / m + s01 / n)


@dataclass(frozen=True)
class AucDifference:
    """AUC(second) - AUC(first) of two models on the same labelled rows, with DeLong's standard error of the
    difference (the two AUCs are correlated: the covariance of their placement values is subtracted)."""

    difference: float
    se: float

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """Wald interval difference -/+ z * se (not clipped: a difference may be negative)."""
        return self.difference - z * self.se, self.difference + z * self.se


def paired_auc_difference(y: ArrayLike, p_first: ArrayLike, p_second: ArrayLike) -> AucDifference:
    """DeLong's test of two correlated AUCs (DeLong, DeLong & Clarke-Pearson 1988) on labelled rows (y 0/1),
    with midranks as in Sun & Xu (2014): O(n log n); NaN when either class is empty."""
    bad = np.asarray(y).astype(bool)
    m, n = int(bad.sum()), int((~bad).sum())
    if m == 0 or n == 0:
        return AucDifference(float("nan"), float("nan"))
    v10, v01 = [], []
    for p in (p_first, p_second):
        scores = np.asarray(p, dtype=float)
        ranks = rankdata(scores)
        # a bad's share of goods below it, a good's share of bads above it (ties one half)
        v10.append((ranks[bad] - rankdata(scores[bad])) / n)
        v01.append(1.0 - (ranks[~bad] - rankdata(scores[~bad])) / m)
    s10 = np.cov(np.vstack(v10)) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n > 1 else np.zeros((2, 2))
    contrast = np.array([-1.0, 1.0])
    variance = float(contrast @ s10 @ contrast / m + contrast @ s01 @ contrast / n)
    return AucDifference(float(v10[1].mean() - v10[0].mean()), math.sqrt(max(variance, 0.0)))


def ks(counts: RankCounts) -> float:
    """Largest gap between the cumulative shares of bads and goods over the score; NaN with one class."""
    m, n = counts.bads.sum(), counts.goods.sum()
    if m <= 0 or n <= 0:
        return float("nan")
    return float(np.max(np.abs(np.cumsum(counts.bads) / m - np.cumsum(counts.goods) / n)))


def share_at_approval_rate(counts: RankCounts, rate: float) -> float:
    """Default rate among the `rate` share of rows with the lowest scores (the approved at that rate); within
    the score where the cut falls, its rows count pro rata. NaN when nothing is approved."""
    total = counts.bads + counts.goods
    take = rate * float(total.sum())
    if take <= 0:
        return float("nan")
    cum = np.cumsum(total)
    k = int(np.searchsorted(cum, take, side="left"))
    k = min(k, len(total) - 1)
    before = cum[k] - total[k]
    fraction = (take - before) / total[k] if total[k] > 0 else 0.0
    bads = float(counts.bads[:k].sum() + fraction * counts.bads[k])
    return bads / take


def auc_drop_test(auc_development: float, auc_now: AucVariance) -> tuple[float, float]:
    """(z, one-sided p-value) of H0 "the AUC has not fallen below development":
    z = (AUC_dev - AUC_now) / s.e.(AUC_now), p = 1 - Phi(z) (the ECB's validation test of discrimination)."""
    if not (math.isfinite(auc_development) and math.isfinite(auc_now.auc) and auc_now.se > 0):
        return float("nan"), float("nan")
    z = (auc_development - auc_now.auc) / auc_now.se
    return z, float(ndtr(-z))


@dataclass
class LogitHistogram:
    """Bads and goods per fixed bin of log(p / (1 - p)): weeks are merged by adding counts.

    2^16 bins of width 40 / 2^16 ~ 0.0006 in log-odds over [-20, 20] (PD 2e-9 .. 1 - 2e-9; PDs beyond fall in
    the end bins): two rows share a bin only when their PDs differ by less than 0.06 % of p (1 - p), so the
    window's AUC and KS from the histogram differ from the exact ones by a few 1e-6.
    """

    bads: NDArray[np.float64]
    goods: NDArray[np.float64]

    BINS = 1 << 16
    LOW, HIGH = -20.0, 20.0

    @classmethod
    def empty(cls) -> "LogitHistogram":
        return cls(np.zeros(cls.BINS), np.zeros(cls.BINS))

    @classmethod
    def bin_of(cls, p: NDArray[np.float64]) -> NDArray[np.intp]:
        with np.errstate(divide="ignore"):
            logit = np.log(p) - np.log1p(-p)
        index = np.floor((logit - cls.LOW) * (cls.BINS / (cls.HIGH - cls.LOW)))
        bins: NDArray[np.intp] = np.clip(np.nan_to_num(index, nan=0.0), 0, cls.BINS - 1).astype(np.intp)
        return bins

    def add(self, p: NDArray[np.float64], bads: NDArray[np.floating[Any]], goods: NDArray[np.floating[Any]]) -> None:
        """Add rows: their PDs and their bad and good weights (labels, or p and 1 - p)."""
        index = self.bin_of(p)
        self.bads += np.bincount(index, bads, self.BINS)
        self.goods += np.bincount(index, goods, self.BINS)

    def merge(self, other: "LogitHistogram") -> None:
        self.bads += other.bads
        self.goods += other.goods

    def counts(self) -> RankCounts:
        """The non-empty bins as rank counts."""
        used = (self.bads + self.goods) > 0
        return RankCounts(self.bads[used], self.goods[used])
