"""A backtest's rows in the monitoring history (`ml.monitor.history`), beside stability's.

Window kinds:
- "backtest_week", keyed by the ISO week's Monday: per version, the row accounting (rows_scored,
  rows_matured, rows_unmatured, rows_unknown_outcome), every realised performance figure of the week's
  matured rows (auc with its DeLong interval in the detail, gini, ks, brier, log_loss, default_rate,
  mean_pd, approval_rate, approved_default_rate, ...) and, while a week still has rows not matured, the
  label-free estimate (estimated_auc, estimated_default_rate). A week estimated before it matured keeps
  that estimate when a later backtest writes its realised figures: the history holds both side by side.
  Every row's detail names the as-of date of the backtest that wrote it.
- "backtest", keyed by the as-of date: per version over the judged window, the same performance figures,
  auc_drop_p (z and the development AUC in the detail), herfindahl (and at development), hosmer_lemeshow,
  jeffreys_p per band (feature = band), rejected_bands and rank_inversions (red above what the spec allows),
  alert (red with the alerts' text, green without), and report_mailed once the PDF went to the risk team.
- In both, per fairness attribute and group (feature `<attribute>=<group>`) of the matured rows:
  group_approval_rate, group_impact_ratio (red below the spec's minimum ratio, the interval in the detail),
  group_default_rate (mean PD in the detail) and group_approved_bad_rate.
- In "backtest", with no version (the reviewers judge the policy's routing, whichever version scored), per band
  (feature = band) and overall (feature `all`): review_decided_share (rows sent to review, decided in the
  detail), override_rate (red outside the spec's oversight.override_rate, green inside, no light without a
  range or with fewer decided reviews than it asks; overridden in the detail), reviewer_approved_default_rate
  and model_approved_default_rate on matured rows (their rows in the detail).
Re-running a backtest for the same as-of date replaces every row it wrote before (a day re-scored by
another version leaves no row of the old one), except the record that its report was mailed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from ml import bins
from ml.dates import BACKTEST_KINDS
from ml.fairness import GroupRow
from ml.json_values import finite
from ml.monitor import overrides as override_rates
from ml.monitor.backtest_results import BacktestResult, Performance
from ml.monitor.fair_lending import feature_key
from ml.monitor.history import History, Record
from ml.spec import Backtest as BacktestSpec

WEEK, WINDOW = BACKTEST_KINDS
MAILED = "report_mailed"
ESTIMATES = ("estimated_auc", "estimated_default_rate")


def write(history: History, result: BacktestResult, settings: BacktestSpec) -> int:
    """Write a backtest's rows, replacing those of an earlier backtest as of the same date; returns the count."""
    as_of = dt.date.fromisoformat(result.as_of)
    weeks = history.read(result.dataset, window_kind=WEEK,
                         window_starts=[dt.date.fromisoformat(w.first_day) for w in result.weeks])
    earlier = {(r.model_version, r.window_start) for r in weeks
               if r.statistic in ESTIMATES and r.detail.get("as_of") != result.as_of}
    stale = [r for r in weeks if r.detail.get("as_of") == result.as_of]
    stale += [r for r in history.read(result.dataset, window_kind=WINDOW, window_starts=[as_of]) if r.statistic != MAILED]
    return history.write(records(result, settings, earlier), replacing=stale)


class _Rows:
    """The history rows of one backtest result, added concern by concern."""

    def __init__(self, dataset: str, as_of: str) -> None:
        self.dataset, self.as_of = dataset, as_of
        self.out: list[Record] = []

    def add(self, version: str, kind: str, start: dt.date, statistic: str, value: float | None,
            light: str | None = None, feature: str = "", **detail: Any) -> None:
        self.out.append(Record(self.dataset, version, kind, start, statistic, feature, finite(value), light,
                               finite({"as_of": self.as_of, **detail})))

    def performance(self, version: str, kind: str, start: dt.date, perf: Performance, **detail: Any) -> None:
        values = dataclasses.asdict(perf)
        interval = {k: values.pop(k) for k in ("auc_se", "auc_low", "auc_high")}
        for name, value in values.items():
            self.add(version, kind, start, name, float(value), **detail, **(interval if name == "auc" else {}))

    def groups(self, version: str, kind: str, start: dt.date, attributes: list[list[GroupRow]],
               **detail: Any) -> None:
        for attribute in attributes:
            for r in attribute:
                key, ids = feature_key(r.attribute, r.group), {"attribute": r.attribute, "group": r.group,
                                                             "attribute_kind": r.kind, "is_reference": r.reference}
                self.add(version, kind, start, "group_approval_rate", r.approval_rate, None, key, **detail, **ids,
                         rows=r.rows, approved=r.approved)
                self.add(version, kind, start, "group_impact_ratio", r.ratio, r.light, key, **detail, **ids,
                         low=r.ratio_low, high=r.ratio_high, rows=r.rows)
                self.add(version, kind, start, "group_default_rate", r.default_rate, None, key, **detail, **ids,
                         rows=r.labelled, bads=r.bads, mean_pd=r.mean_pd)
                self.add(version, kind, start, "group_approved_bad_rate", r.approved_bad_rate, None, key, **detail,
                         **ids, approved=r.approved)


def records(result: BacktestResult, settings: BacktestSpec,
            estimated: AbstractSet[tuple[str, dt.date]] = frozenset()) -> list[Record]:
    """The rows of a backtest result (`settings`: the spec's alert thresholds); no estimate for the
    (version, week start) pairs in `estimated`, whose estimate an earlier backtest recorded."""
    rows = _Rows(result.dataset, result.as_of)
    _week_rows(rows, result, estimated)
    as_of = dt.date.fromisoformat(result.as_of)
    if result.overrides is not None:
        _override_rows(rows, result.overrides, as_of)
    _version_rows(rows, result, settings, as_of)
    return rows.out


def _week_rows(rows: _Rows, result: BacktestResult, estimated: AbstractSet[tuple[str, dt.date]]) -> None:
    """Per ISO week and version: the counts, the realised figures and (once) the label-free estimate."""
    for w in result.weeks:
        start = dt.date.fromisoformat(w.first_day)
        for name in ("rows_scored", "rows_matured", "rows_unmatured", "rows_unknown_outcome"):
            rows.add(w.version, WEEK, start, name, float(getattr(w, name)), week=w.week)
        if w.performance is not None:
            rows.performance(w.version, WEEK, start, w.performance, week=w.week)
            rows.groups(w.version, WEEK, start, w.fairness, week=w.week)
        if w.rows_unmatured and (w.version, start) not in estimated:
            e = w.estimate
            rows.add(w.version, WEEK, start, "estimated_auc", e.expected_auc, week=w.week, rows=e.rows,
                     low=e.auc_low, high=e.auc_high)
            rows.add(w.version, WEEK, start, "estimated_default_rate", e.expected_default_rate, week=w.week,
                     rows=e.rows, low=e.default_rate_low, high=e.default_rate_high)


def _version_rows(rows: _Rows, result: BacktestResult, settings: BacktestSpec, as_of: dt.date) -> None:
    """Per version, the window's figures as of `as_of`: performance, band tests, alerts and fair lending."""
    for v in result.versions:
        bands, weeks = v.bands, v.weeks
        rows.performance(v.version, WINDOW, as_of, v.performance, weeks=weeks)
        rows.add(v.version, WINDOW, as_of, "auc_drop_p", v.auc_drop_p, weeks=weeks, z=v.auc_drop_z,
                 development_auc=v.development_auc)
        rows.add(v.version, WINDOW, as_of, "herfindahl", bands.herfindahl, weeks=weeks,
                 development=v.development_herfindahl)
        rows.add(v.version, WINDOW, as_of, "hosmer_lemeshow", bands.hosmer_lemeshow, weeks=weeks,
                 df=bands.hosmer_lemeshow_df, p=bands.hosmer_lemeshow_p)
        rows.add(v.version, WINDOW, as_of, "rejected_bands", float(bands.rejected_bands),
                 bins.RED if bands.rejected_bands > settings.max_rejected_bands else bins.GREEN, weeks=weeks,
                 allowed=settings.max_rejected_bands)
        rows.add(v.version, WINDOW, as_of, "rank_inversions", float(len(bands.inversions)),
                 bins.RED if bands.inversions else bins.GREEN, weeks=weeks, pairs=[list(p) for p in bands.inversions])
        rows.add(v.version, WINDOW, as_of, "alert", float(len(v.alerts)), bins.RED if v.alerts else bins.GREEN,
                 weeks=weeks, alerts=v.alerts)
        rows.groups(v.version, WINDOW, as_of, v.fairness, weeks=weeks)
        for band in bands.bands:
            rows.add(v.version, WINDOW, as_of, "jeffreys_p", band.jeffreys_p,
                     bins.RED if band.rejected else bins.GREEN, band.band, weeks=weeks, rows=band.rows,
                     defaults=band.defaults, mean_pd=band.mean_pd, observed_rate=band.observed_rate)


def _override_rows(rows: _Rows, o: override_rates.Overrides, as_of: dt.date) -> None:
    """The reviewers against the model, per band and overall."""
    expected = None if o.expected_min is None else [o.expected_min, o.expected_max]
    for r in [*o.bands, o.overall]:
        light = (bins.RED if o.alerts else bins.GREEN) if o.judged and r is o.overall else None
        rows.add("", WINDOW, as_of, "review_decided_share", r.decided_share, None, r.band, sent=r.sent,
                 decided=r.decided)
        rows.add("", WINDOW, as_of, "override_rate", r.override_rate, light, r.band, decided=r.decided,
                 overridden=r.overridden, expected=expected)
        rows.add("", WINDOW, as_of, "reviewer_approved_default_rate", r.reviewer_approved_default_rate, None, r.band,
                 rows=r.matured_reviewer_approved)
        rows.add("", WINDOW, as_of, "model_approved_default_rate", r.model_approved_default_rate, None, r.band,
                 rows=r.matured_model_approved)


def mailed(history: History, dataset: str, as_of: dt.date) -> bool:
    """Whether the backtest report as of `as_of` was mailed to the risk team."""
    return bool(history.read(dataset, window_kind=WINDOW, statistics=[MAILED], window_starts=[as_of]))


def record_mailed(history: History, dataset: str, as_of: dt.date, key: str, to: Sequence[str], subject: str,
                  now: dt.datetime | None = None) -> None:
    """Remember that the report as of `as_of` was mailed, so a retry or a re-run does not mail it again."""
    at = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    history.write([Record(dataset, "", WINDOW, as_of, MAILED, "", None, None,
                          {"key": key, "to": list(to), "subject": subject, "sent_at": at})])
