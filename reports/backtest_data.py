"""The data of the weekly backtest PDF (`reports.backtest`): plain values the caller (``ml``) computed, with every
test decision already taken. A week row holds ``performance`` (None without matured rows) and ``estimate`` as
produced by ``ml.monitor.backtest``; rates are fractions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BacktestReportData:
    """Everything the backtest report shows, already computed by the caller (``BacktestResult.to_dict()``
    plus identity)."""

    dataset: str
    model_name: str
    as_of: str
    maturity_lag_days: int
    last_matured_day: str
    judged_weeks: list[str]
    estimated_weeks: list[str]
    alpha: float  # significance of the AUC-drop, Jeffreys and Hosmer-Lemeshow tests
    max_rejected_bands: int  # Jeffreys rejections the spec allows
    # per week and version: week, version, rows_scored, rows_matured, rows_unmatured, performance (dict: rows,
    # defaults, default_rate, mean_pd, auc, auc_low, auc_high, gini, ks, brier, log_loss, threshold, precision,
    # recall, fbeta, approval_rate, approved_default_rate; or None), estimate (rows, expected_default_rate,
    # default_rate_low/high, expected_auc, auc_low, auc_high)
    weeks: list[dict[str, Any]]
    # per version over the window: version, weeks, performance, bands (bands: [band, rows, defaults, mean_pd,
    # observed_rate, jeffreys_p, rejected], hosmer_lemeshow, hosmer_lemeshow_df, hosmer_lemeshow_p,
    # rejected_bands, inversions [(worse, better)], herfindahl), development_auc, auc_drop_z, auc_drop_p,
    # development_herfindahl, development_band_rows ({band: rows} or None), alerts
    versions: list[dict[str, Any]]
    percentiles: list[dict[str, Any]]  # day, version, rows, p5, p25, p50, p75, p95 (score points)
    # None without a challenger; else version, rows, approval_rate, production and challenger ({auc, ks,
    # default_rate_at_approval_rate}), swap (cells "<production>-><challenger>" with n, bads, bad_rate)
    challenger: dict[str, Any] | None
    alerts: list[str]
    notes: list[str]
    generated_at: str  # ISO timestamp given by the caller (the report never reads the clock)
    # weeks' and versions' `fairness` (per attribute, its groups as ml.fairness.GroupRow dicts) are judged against
    # these (the spec's fairness section)
    min_ratio: float = 0.8
    min_group_rows: int = 50
    # the current champion's line of the champion history (who promoted it when, why; halted?); None: none yet
    champion_line: str | None = None
    # the reviewers against the model (ml.monitor.overrides.Overrides as a dict: bands and overall rows with band,
    # sent, decided, decided_share, overridden, override_rate, reviewer_approved, matured_reviewer_approved,
    # reviewer_approved_default_rate, matured_model_approved, model_approved_default_rate; expected_min/max,
    # min_decided, alerts); None: reviews not read
    overrides: dict[str, Any] | None = None
