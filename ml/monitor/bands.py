"""Calibration and concentration by score band, as supervisors' PD validation asks for them.

- Jeffreys test per band: with D defaults among N rows and mean PD p, the one-sided p-value is the
  Beta(D + 1/2, N - D + 1/2) distribution function at p: small when the observed default rate is
  significantly above the PD (the model underestimates the band's risk).
- Hosmer-Lemeshow over the bands: sum over bands of (D - N p)^2 / (N p (1 - p)), chi-square with as many
  degrees of freedom as bands, since the bands are judged on data the model was not fitted on.
- Rank ordering: default rates must fall from the worst band to the best; an adjacent pair of bands with
  rows where the better one defaults more is an inversion.
- Herfindahl index of the rows per band: sum of squared shares (1 / bands when even, 1 when all in one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, chdtrc


@dataclass
class BandCounts:
    """Rows, defaults and the sum of PDs per band; merged across days and weeks by adding."""

    rows: dict[str, float] = field(default_factory=dict)
    defaults: dict[str, float] = field(default_factory=dict)
    pd_sum: dict[str, float] = field(default_factory=dict)

    def add(self, band: str, rows: float, defaults: float, pd_sum: float) -> None:
        self.rows[band] = self.rows.get(band, 0.0) + rows
        self.defaults[band] = self.defaults.get(band, 0.0) + defaults
        self.pd_sum[band] = self.pd_sum.get(band, 0.0) + pd_sum

    def merge(self, other: "BandCounts") -> None:
        for band in other.rows:
            self.add(band, other.rows[band], other.defaults[band], other.pd_sum[band])


@dataclass(frozen=True)
class BandRow:
    band: str
    rows: int
    defaults: int
    mean_pd: float
    observed_rate: float
    jeffreys_p: float
    rejected: bool  # Jeffreys p-value below alpha


@dataclass(frozen=True)
class BandTests:
    """Calibration by band, best band first, and the portfolio-level tests."""

    bands: list[BandRow]
    hosmer_lemeshow: float
    hosmer_lemeshow_df: int
    hosmer_lemeshow_p: float
    rejected_bands: int
    inversions: list[tuple[str, str]]  # (worse band, better band) whose default rates are inverted
    herfindahl: float


def jeffreys_p_value(defaults: ArrayLike, rows: ArrayLike, pd: ArrayLike) -> NDArray[np.float64]:
    """One-sided Jeffreys p-values: P(default rate <= pd | D defaults in N) under the Jeffreys prior."""
    d, n, p = (np.asarray(v, dtype=float) for v in (defaults, rows, pd))
    return np.asarray(betainc(d + 0.5, n - d + 0.5, p), dtype=float)


def hosmer_lemeshow(defaults: ArrayLike, rows: ArrayLike, pd: ArrayLike) -> tuple[float, int, float]:
    """(statistic, degrees of freedom, p-value) over bands with rows and a PD strictly between 0 and 1."""
    d, n, p = (np.asarray(v, dtype=float) for v in (defaults, rows, pd))
    used = (n > 0) & (p > 0) & (p < 1)
    if not used.any():
        return float("nan"), 0, float("nan")
    expected = n[used] * p[used]
    statistic = float(np.sum((d[used] - expected) ** 2 / (expected * (1 - p[used]))))
    df = int(used.sum())
    return statistic, df, float(chdtrc(df, statistic))


def rank_inversions(names: Sequence[str], rates: Sequence[float]) -> list[tuple[str, str]]:
    """Adjacent pairs (worse, better) where the better band's default rate is higher; `names` and `rates`
    run from the best band to the worst."""
    return [(names[i + 1], names[i]) for i in range(len(names) - 1) if rates[i] > rates[i + 1]]


def herfindahl(rows: ArrayLike) -> float:
    """Sum of squared shares of rows per band; NaN without rows."""
    n = np.asarray(rows, dtype=float)
    total = n.sum()
    return float(np.sum((n / total) ** 2)) if total > 0 else float("nan")


def band_tests(counts: BandCounts, alpha: float) -> BandTests:
    """All band statistics of the counts; bands ordered by mean PD, best first (score cut-offs order PDs)."""
    bands = sorted((b for b in counts.rows if counts.rows[b] > 0), key=lambda b: (counts.pd_sum[b] / counts.rows[b], b))
    n = np.array([counts.rows[b] for b in bands])
    d = np.array([counts.defaults[b] for b in bands])
    pd = np.array([counts.pd_sum[b] for b in bands]) / np.where(n > 0, n, 1)
    p_values = jeffreys_p_value(d, n, pd)
    rates = d / np.where(n > 0, n, 1)
    rows = [BandRow(b, int(n[i]), int(d[i]), float(pd[i]), float(rates[i]), float(p_values[i]),
                    bool(p_values[i] < alpha)) for i, b in enumerate(bands)]
    statistic, df, p_hl = hosmer_lemeshow(d, n, pd)
    return BandTests(rows, statistic, df, p_hl, sum(r.rejected for r in rows), rank_inversions(bands, list(rates)),
                     herfindahl(n))
