"""ml.ranking: AUC, DeLong's variance and KS from counts, against sklearn, scipy and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from ml import metrics
from ml.ranking import (
    AucVariance,
    LogitHistogram,
    RankCounts,
    auc_drop_test,
    auc_variance,
    ks,
    paired_auc_difference,
    rank_counts,
    share_at_approval_rate,
)


def sample(n: int, seed: int, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated PDs and labels drawn from them; rounding makes ties."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-2.5, 1.2, n)))
    if decimals is not None:
        p = np.round(p, decimals)
    return (rng.uniform(size=n) < p).astype(int), p


def delong_by_pairs(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """DeLong's AUC and variance the straightforward way: every bad against every good, O(n^2)."""
    bads, goods = p[y == 1], p[y == 0]
    psi = (bads[:, None] > goods[None, :]) + 0.5 * (bads[:, None] == goods[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / len(bads) + v01.var(ddof=1) / len(goods))


@pytest.mark.parametrize("seed,decimals", [(0, None), (1, 2), (2, 1)])
def test_auc_and_delong_variance_match_sklearn_and_pairs(seed: int, decimals: int | None) -> None:
    y, p = sample(600, seed, decimals)
    result = auc_variance(rank_counts(p, y))
    auc, variance = delong_by_pairs(y, p)
    assert result.auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert result.auc == pytest.approx(auc, abs=1e-12)
    assert result.variance == pytest.approx(variance, rel=1e-9)


def paired_by_pairs(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong's paired test the straightforward way: both models' placement values from every pair, O(n^2)."""
    placements = []
    for p in (a, b):
        bads, goods = p[y == 1], p[y == 0]
        psi = (bads[:, None] > goods[None, :]) + 0.5 * (bads[:, None] == goods[None, :])
        placements.append((psi.mean(axis=1), psi.mean(axis=0), psi.mean()))
    (a10, a01, auc_a), (b10, b01, auc_b) = placements
    m, n = len(a10), len(a01)
    variance = (np.var(b10 - a10, ddof=1) / m + np.var(b01 - a01, ddof=1) / n)
    return float(auc_b - auc_a), float(np.sqrt(variance))


@pytest.mark.parametrize("seed,decimals", [(5, None), (6, 2)])
def test_paired_auc_difference_matches_pairs(seed: int, decimals: int | None) -> None:
    y, a = sample(800, seed, decimals)
    b = np.clip(a + np.random.default_rng(seed).normal(0, 0.05, len(a)), 0, 1)  # a correlated second model
    if decimals is not None:
        b = np.round(b, decimals)
    result = paired_auc_difference(y, a, b)
    difference, se = paired_by_pairs(y, a, b)
    assert result.difference == pytest.approx(difference, abs=1e-12)
    assert result.difference == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a), abs=1e-12)
    assert result.se == pytest.approx(se, rel=1e-9)
    # the same model twice: no difference and no uncertainty about it
    same = paired_auc_difference(y, a, a)
    assert same.difference == 0 and same.se == pytest.approx(0, abs=1e-12)
    # correlated scores make the difference far more certain than two independent AUCs would
    alone = [auc_variance(rank_counts(p, y)).se for p in (a, b)]
    assert result.se < 0.5 * np.hypot(*alone)
    assert np.isnan(paired_auc_difference([0, 0], [0.1, 0.2], [0.2, 0.1]).difference)


def test_ks_matches_metrics() -> None:
    for seed, decimals in ((3, None), (4, 2)):
        y, p = sample(3000, seed, decimals)
        assert ks(rank_counts(p, y)) == pytest.approx(metrics.ks_statistic(y, p), abs=1e-12)


def test_single_class_is_nan() -> None:
    counts = rank_counts([0.1, 0.2], [0, 0])
    assert np.isnan(auc_variance(counts).auc) and np.isnan(ks(counts))


def test_interval_is_wald_and_clipped() -> None:
    assert AucVariance(0.8, 0.01 ** 2).interval() == pytest.approx((0.8 - 1.959964 * 0.01, 0.8 + 1.959964 * 0.01))
    assert AucVariance(0.999, 0.01).interval()[1] == 1.0


def test_auc_drop_test_matches_the_normal_tail() -> None:
    now = AucVariance(0.78, 0.01 ** 2)
    z, p = auc_drop_test(0.80, now)
    assert z == pytest.approx(2.0)
    assert p == pytest.approx(stats.norm.sf(2.0), rel=1e-12)
    assert auc_drop_test(0.80, AucVariance(0.8, 0.0)) != auc_drop_test(0.80, AucVariance(0.8, 0.0))  # NaN


def test_histogram_of_weeks_merges_and_stays_close_to_exact() -> None:
    y, p = sample(200_000, 5)
    whole, halves = LogitHistogram.empty(), [LogitHistogram.empty(), LogitHistogram.empty()]
    whole.add(p, y.astype(float), 1.0 - y)
    for h, part in zip(halves, (slice(0, 70_000), slice(70_000, None)), strict=True):
        h.add(p[part], y[part].astype(float), 1.0 - y[part])
    halves[0].merge(halves[1])
    np.testing.assert_array_equal(whole.bads, halves[0].bads)
    binned, exact = auc_variance(whole.counts()), auc_variance(rank_counts(p, y))
    assert binned.auc == pytest.approx(roc_auc_score(y, p), abs=2e-5)
    assert binned.variance == pytest.approx(exact.variance, rel=1e-3)
    assert ks(whole.counts()) == pytest.approx(metrics.ks_statistic(y, p), abs=1e-4)


def test_histogram_keeps_certain_pds() -> None:
    h = LogitHistogram.empty()
    h.add(np.array([0.0, 1.0, 0.5]), np.array([0.0, 1.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    assert h.bads[-1] == 1 and h.goods[0] == 1 and h.bads.sum() == 2


def test_default_rate_at_approval_rate_by_sorting() -> None:
    y, p = sample(5000, 6)
    order = np.argsort(p, kind="stable")
    for rate in (0.2, 0.5, 0.9, 1.0):
        k = int(rate * len(p))  # whole rows: the pro-rata cut is exact when no score repeats
        assert share_at_approval_rate(rank_counts(p, y), rate) == pytest.approx(y[order[:k]].mean(), abs=1e-12)
    # two goods below, then four rows (two bads) at one score: approving 4 of 6 takes half of the tied rows,
    # so one bad among the four approved
    counts = RankCounts(np.array([0.0, 2.0]), np.array([2.0, 2.0]))
    assert share_at_approval_rate(counts, 4 / 6) == pytest.approx(1 / 4)
