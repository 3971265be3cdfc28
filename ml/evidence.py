"""Evidence at a window's sample size: the values a statistic would exceed by chance with no change at all, so a
light goes amber or red on evidence, never on a point estimate alone (pure: numbers in, numbers out).

- **PSI / CSI** of B bins, current window of n rows against a reference of m rows, under no change: approximately
  chi-square with B − 1 degrees of freedom scaled by 1/n + 1/m (B. Yurdakul, "Statistical properties of the
  population stability index", Western Michigan University, 2018; Potgieter et al., "The Population Resemblance
  Statistic: a chi-square measure of fit for banking", 2023, arXiv:2307.11878). The critical value at level
  `LEVEL` (0.99) is chi2.ppf(0.99, B − 1) · (1/n + 1/m): what no change would exceed with 1% probability.
- **Jensen-Shannon distance** (base 2) of the same bins: to second order the JS divergence in nats is PSI / 8
  (both are (p − q)² / p summed, with weights 1 and 1/8), so its critical value is
  sqrt(chi2.ppf(0.99, B − 1) · (1/n + 1/m) / (8 ln 2)).
- **KS**: the statistic the two-sample test rejects at 1% (scipy's `kstwo` at n·m / (n + m), as `ks_pvalue`).

`graded` applies the rule: a window is red when the statistic reaches the conventional red threshold *and*
exceeds its critical value, amber likewise with the amber threshold, green otherwise.
"""

from __future__ import annotations

import math

from scipy.stats import chi2, kstwo

LEVEL = 0.99  # no change exceeds the critical value with probability 1 - LEVEL
GREEN, AMBER, RED = "green", "amber", "red"


def _inverse_sizes(n: int, m: int | None) -> float:
    if n <= 0:
        raise ValueError(f"a window needs rows to be judged, got n={n}")
    if m is not None and m <= 0:
        raise ValueError(f"a reference needs rows, got m={m}")
    return 1 / n + (1 / m if m else 0.0)  # a reference of unknown size counts as exact (the lower critical value)


def psi_critical(bins: int, n: int, m: int | None, level: float = LEVEL) -> float:
    """The PSI (or CSI) that no change exceeds with probability 1 - `level`, for `bins` bins the reference
    fills, n current rows and m reference rows (None when unknown)."""
    if bins < 2:
        return math.inf  # one bin cannot move
    return float(chi2.ppf(level, bins - 1)) * _inverse_sizes(n, m)


def js_critical(bins: int, n: int, m: int | None, level: float = LEVEL) -> float:
    """The Jensen-Shannon distance (base 2) that no change exceeds with probability 1 - `level` (see module)."""
    if bins < 2:
        return math.inf
    return math.sqrt(psi_critical(bins, n, m, level) / (8 * math.log(2)))


def ks_critical(n: int, m: int, level: float = LEVEL) -> float:
    """The two-sample KS statistic whose asymptotic p-value is 1 - `level` at sizes n and m."""
    if n <= 0 or m <= 0:
        raise ValueError(f"KS needs two non-empty samples, got n={n}, m={m}")
    return float(kstwo.isf(1 - level, round(n * m / (n + m))))


def graded(value: float, critical: float, amber: float, red: float) -> str:
    """Red when `value` reaches `red` and exceeds `critical`, amber when it reaches `amber` and exceeds
    `critical`, else green (the thresholds inclusive, as `ml.bins.traffic_light`)."""
    if math.isnan(value):
        raise ValueError("cannot grade a NaN statistic")
    if amber > red:
        raise ValueError(f"amber ({amber}) must not exceed red ({red})")
    if not value > critical:
        return GREEN
    return RED if value >= red else AMBER if value >= amber else GREEN
