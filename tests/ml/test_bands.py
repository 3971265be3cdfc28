"""ml.monitor.bands: Jeffreys, Hosmer-Lemeshow, rank ordering and Herfindahl against scipy and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ml.monitor.bands import BandCounts, band_tests, herfindahl, hosmer_lemeshow, jeffreys_p_value, rank_inversions


def test_jeffreys_matches_the_beta_distribution() -> None:
    rng = np.random.default_rng(0)
    n = rng.integers(1, 5000, 50)
    d = rng.binomial(n, 0.05)
    pd = rng.uniform(0.001, 0.2, 50)
    expected = stats.beta.cdf(pd, d + 0.5, n - d + 0.5)
    np.testing.assert_allclose(jeffreys_p_value(d, n, pd), expected, rtol=1e-10, atol=1e-300)


def test_hosmer_lemeshow_is_pearsons_chi_square_over_defaults_and_non_defaults() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(200, 3000, 7).astype(float)
    pd = np.sort(rng.uniform(0.01, 0.3, 7))
    d = rng.binomial(n.astype(int), pd * 1.2).astype(float)
    statistic, df, p = hosmer_lemeshow(d, n, pd)
    observed = np.r_[d, n - d]
    expected = np.r_[n * pd, n * (1 - pd)]
    # chisquare's degrees of freedom are cells - 1 - ddof = 14 - 1 - 6 = 7, one per band (out-of-sample)
    reference = stats.chisquare(observed, expected, ddof=6, sum_check=False)
    assert statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert df == 7
    assert p == pytest.approx(reference.pvalue, rel=1e-9)


def test_hosmer_lemeshow_skips_empty_and_certain_bands() -> None:
    assert hosmer_lemeshow([1, 0, 3], [10, 0, 10], [0.1, 0.2, 1.0])[1] == 1


def test_rank_inversions_adjacent_pairs() -> None:
    # best band first; B defaults more than C, so (C, B) is an inversion; D < E is fine
    assert rank_inversions(["A", "B", "C", "D"], [0.01, 0.08, 0.05, 0.2]) == [("C", "B")]
    assert rank_inversions(["A", "B"], [0.01, 0.02]) == []


def test_herfindahl_by_hand() -> None:
    assert herfindahl([25, 25, 25, 25]) == pytest.approx(0.25)
    assert herfindahl([0, 10, 0]) == pytest.approx(1.0)
    assert herfindahl([1, 3]) == pytest.approx(0.625)
    assert np.isnan(herfindahl([0, 0]))


def test_band_tests_order_bands_best_first_and_count_rejections() -> None:
    counts = BandCounts()
    counts.add("E", 1000, 400, 300.0)  # observed 40 % vs PD 30 %: rejected
    counts.add("A", 1000, 5, 5.0)
    counts.add("C", 1000, 60, 50.0)
    counts.add("C", 1000, 40, 50.0)  # added twice: merged counts
    counts.add("X", 0, 0, 0.0)  # a band without rows is left out
    result = band_tests(counts, alpha=0.05)
    assert [b.band for b in result.bands] == ["A", "C", "E"]
    assert [b.rejected for b in result.bands] == [False, False, True]
    assert result.bands[1].rows == 2000 and result.bands[1].observed_rate == pytest.approx(0.05)
    assert result.rejected_bands == 1 and result.inversions == []
    assert result.herfindahl == pytest.approx((1 / 4) ** 2 * 2 + (1 / 2) ** 2)
