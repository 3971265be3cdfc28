"""The evidence rules of the lights (`ml.evidence`, `ml.fairness.ratio_light`) against references: scipy's
distributions and seeded simulations of no change."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2, ks_2samp

from ml import bins, evidence, fairness
from ml.monitor.stability import js_distance, ks_pvalue

SIMULATIONS = 4000


def _simulated(statistic: str, p: np.ndarray, n: int, m: int, seed: int) -> np.ndarray:
    """The statistic of `SIMULATIONS` pairs of multinomial draws (reference m rows, window n rows) of one
    distribution: its distribution under no change."""
    rng = np.random.default_rng(seed)
    ref = rng.multinomial(m, p, size=SIMULATIONS) / m
    cur = rng.multinomial(n, p, size=SIMULATIONS) / n
    if statistic == "psi":
        return np.array([bins.psi(e, a) for e, a in zip(ref, cur, strict=True)])
    return np.array([js_distance(e, a) for e, a in zip(ref, cur, strict=True)])


@pytest.mark.parametrize(("n", "m", "p"), [
    (2_000, 100_000, np.full(10, 0.1)),  # a day of deciles against the development sample
    (800, 50_000, np.full(10, 0.1)),
    (20_000, 20_000, np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])),  # uneven bins, equal sizes
])
@pytest.mark.parametrize("statistic", ["psi", "js"])
def test_no_change_exceeds_the_critical_value_about_one_time_in_a_hundred(statistic, n, m, p) -> None:
    simulated = _simulated(statistic, p, n, m, seed=7)
    critical = (evidence.psi_critical if statistic == "psi" else evidence.js_critical)(len(p), n, m)
    # the chi-square approximation: the simulated 99th percentile within 15% of the formula
    assert np.quantile(simulated, 0.99) == pytest.approx(critical, rel=0.15)
    assert 0.003 <= float((simulated > critical).mean()) <= 0.02


def test_the_psi_critical_value_is_the_scaled_chi_square_quantile() -> None:
    assert evidence.psi_critical(10, 1_000, 100_000) == pytest.approx(chi2.ppf(0.99, 9) * (1 / 1_000 + 1 / 100_000))
    assert evidence.psi_critical(10, 1_000, None) == pytest.approx(chi2.ppf(0.99, 9) / 1_000)
    assert evidence.psi_critical(1, 1_000, 1_000) == math.inf  # one bin cannot move
    with pytest.raises(ValueError, match="rows"):
        evidence.psi_critical(10, 0, 1_000)


def test_the_ks_critical_value_is_where_scipys_test_rejects_at_one_percent() -> None:
    rng = np.random.default_rng(3)
    for n, m in [(500, 10_000), (3_000, 100_000)]:
        critical = evidence.ks_critical(n, m)
        a, b = rng.normal(size=m), rng.normal(0.25, size=n)
        result = ks_2samp(a, b, method="asymp")
        assert (result.pvalue < 0.01) == (result.statistic > critical)
        # just above the critical value the p-value is just below 1%
        assert ks_pvalue(critical * 1.0001, n, m) < 0.01 < ks_pvalue(critical * 0.999, n, m)


@pytest.mark.parametrize(("value", "critical", "light"), [
    (0.30, 0.01, "red"), (0.30, 0.40, "green"), (0.30, 0.20, "red"), (0.15, 0.01, "amber"),
    (0.15, 0.20, "green"), (0.05, 0.01, "green"), (0.25, 0.01, "red"), (0.10, 0.01, "amber"),
])
def test_a_light_needs_the_threshold_and_the_critical_value(value, critical, light) -> None:
    assert evidence.graded(value, critical, 0.10, 0.25) == light


@pytest.mark.parametrize(("ratio", "high", "light"), [
    (0.79, 0.98, "amber"), (0.70, 0.79, "red"), (0.85, 0.95, "green"), (0.80, 0.90, "green"), (0.5, 0.8, "amber"),
])
def test_a_fairness_light_is_red_only_when_the_whole_interval_is_below(ratio, high, light) -> None:
    assert fairness.ratio_light(ratio, high, 0.8) == light


def test_the_issues_noisy_day_is_amber_and_a_clear_disparity_is_red() -> None:
    # the issue's day: 0.79 [0.64, 0.98] at ~70 rows in the group
    ratio, low, high = fairness.impact_ratio(50, 70, 2_700, 3_000)
    assert ratio < 0.8 < high and fairness.ratio_light(ratio, high, 0.8) == "amber"
    # the planted disparity at a week's size: 0.7 of the reference's rate, ~5% of 7 x 2,000 rows
    ratio, low, high = fairness.impact_ratio(int(700 * 0.9 * 0.7), 700, int(13_300 * 0.9), 13_300)
    assert fairness.ratio_light(ratio, high, 0.8) == "red"


def test_a_group_at_the_minimum_is_rarely_red() -> None:
    """With the true ratio exactly at the minimum, red (the interval wholly below) is a one-sided 2.5% error."""
    rng = np.random.default_rng(11)
    n, n0, p0 = 80, 3_000, 0.6
    a = rng.binomial(n, 0.8 * p0, size=SIMULATIONS)
    a0 = rng.binomial(n0, p0, size=SIMULATIONS)
    intervals = [fairness.impact_ratio(int(x), n, int(y), n0) for x, y in zip(a, a0, strict=True)]
    lights = [fairness.ratio_light(ratio, high, 0.8) for ratio, _, high in intervals]
    red = lights.count("red") / SIMULATIONS
    assert red <= 0.035
    assert lights.count("amber") / SIMULATIONS > 0.3  # the point estimate alone would have alerted this often
