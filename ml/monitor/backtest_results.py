"""What a backtest finds (`ml.monitor.backtest.run`): realised performance, band tests, the label-free estimate
and fair lending per ISO week and version and per version over the judged window, score percentiles by day, the
shadow challenger's comparison and the reviewers' figures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ml import fairness as fairness_stats
from ml.monitor import overrides as override_rates
from ml.monitor.bands import BandTests
from ml.monitor.challenger import Comparison
from ml.monitor.estimate import Estimate


@dataclass(frozen=True)
class Performance:
    """Realised performance on matured rows; rates are fractions."""

    rows: int
    defaults: int
    default_rate: float
    mean_pd: float
    auc: float
    auc_se: float
    auc_low: float
    auc_high: float
    gini: float
    ks: float
    brier: float
    log_loss: float
    threshold: float
    precision: float
    recall: float
    fbeta: float
    approval_rate: float
    approved_default_rate: float


@dataclass(frozen=True)
class WeekResult:
    week: str
    first_day: str
    last_day: str
    version: str
    rows_scored: int
    rows_matured: int
    rows_unmatured: int  # scored, not matured on the as-of date: in no realised metric
    performance: Performance | None  # None without matured rows
    bands: BandTests | None
    estimate: Estimate  # label-free, over all the week's scored rows
    rows_unknown_outcome: int = 0  # matured, but their outcome is unknown (label.positive/negative): left out
    # per fairness attribute, its groups on the matured rows: approval rate and ratio of the recorded decisions,
    # default rate, mean PD and the approved book's bad rate (ml.fairness.judge)
    fairness: list[list[fairness_stats.GroupRow]] = field(default_factory=list)


@dataclass(frozen=True)
class VersionResult:
    """One version over the judged window, against its development sample."""

    version: str
    weeks: list[str]
    performance: Performance
    bands: BandTests
    development_auc: float | None
    auc_drop_z: float
    auc_drop_p: float
    development_band_rows: dict[str, float] | None
    development_herfindahl: float | None
    alerts: list[str]
    fairness: list[list[fairness_stats.GroupRow]] = field(default_factory=list)  # as WeekResult's, over the window


@dataclass(frozen=True)
class DayPercentiles:
    """Score percentiles (points) of one day's scored rows."""

    day: str
    version: str
    rows: int
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float


@dataclass(frozen=True)
class BacktestResult:
    dataset: str
    as_of: str
    maturity_lag_days: int
    last_matured_day: str
    judged_weeks: list[str]
    estimated_weeks: list[str]
    weeks: list[WeekResult]
    versions: list[VersionResult]
    percentiles: list[DayPercentiles]
    challenger: Comparison | None
    notes: list[str]
    overrides: override_rates.Overrides | None = None  # the reviewers against the model (None: reviews not read)

    @property
    def alerts(self) -> list[str]:
        return [a for v in self.versions for a in v.alerts] + (self.overrides.alerts if self.overrides else [])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
