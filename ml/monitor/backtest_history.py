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
Re-running a backtest for the same as-of date replaces every row it wrote before (a day re-scored by
another version leaves no row of the old one), except the record that its report was mailed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence, Set as AbstractSet
from typing import Any

from ml import bins as b
from ml.data.spec import Backtest as BacktestSpec
from ml.dates import BACKTEST_KINDS
from ml.monitor.backtest import BacktestResult, Performance
from ml.monitor.history import History, Record

WEEK, WINDOW = BACKTEST_KINDS
MAILED = "report_mailed"
ESTIMATES = ("estimated_auc", "estimated_default_rate")


def _performance(dataset: str, version: str, kind: str, start: dt.date, perf: Performance,
                 detail: dict[str, Any]) -> list[Record]:
    values = dataclasses.asdict(perf)
    interval = {k: values[k] for k in ("auc_se", "auc_low", "auc_high")}
    return [Record(dataset, version, kind, start, name, "", float(value), None,
                   {**detail, **(interval if name == "auc" else {})})
            for name, value in values.items() if name not in interval]


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


def records(result: BacktestResult, settings: BacktestSpec,
            estimated: AbstractSet[tuple[str, dt.date]] = frozenset()) -> list[Record]:
    """The rows of a backtest result (`settings`: the spec's alert thresholds); no estimate for the
    (version, week start) pairs in `estimated`, whose estimate an earlier backtest recorded."""
    as_of = dt.date.fromisoformat(result.as_of)
    detail = {"as_of": result.as_of}
    out: list[Record] = []
    for w in result.weeks:
        start = dt.date.fromisoformat(w.first_day)
        week = {**detail, "week": w.week}
        for name in ("rows_scored", "rows_matured", "rows_unmatured", "rows_unknown_outcome"):
            out.append(Record(result.dataset, w.version, WEEK, start, name, "", float(getattr(w, name)), None, week))
        if w.performance is not None:
            out += _performance(result.dataset, w.version, WEEK, start, w.performance, week)
        if w.rows_unmatured and (w.version, start) not in estimated:
            e = w.estimate
            out += [Record(result.dataset, w.version, WEEK, start, "estimated_auc", "", e.expected_auc, None,
                           {**week, "rows": e.rows, "low": e.auc_low, "high": e.auc_high}),
                    Record(result.dataset, w.version, WEEK, start, "estimated_default_rate", "",
                           e.expected_default_rate, None,
                           {**week, "rows": e.rows, "low": e.default_rate_low, "high": e.default_rate_high})]
    for v in result.versions:
        window = {**detail, "weeks": v.weeks}
        out += _performance(result.dataset, v.version, WINDOW, as_of, v.performance, window)
        out += [
            Record(result.dataset, v.version, WINDOW, as_of, "auc_drop_p", "", _finite(v.auc_drop_p), None,
                   {**window, "z": _finite(v.auc_drop_z), "development_auc": v.development_auc}),
            Record(result.dataset, v.version, WINDOW, as_of, "herfindahl", "", v.bands.herfindahl, None,
                   {**window, "development": v.development_herfindahl}),
            Record(result.dataset, v.version, WINDOW, as_of, "hosmer_lemeshow", "", v.bands.hosmer_lemeshow, None,
                   {**window, "df": v.bands.hosmer_lemeshow_df, "p": v.bands.hosmer_lemeshow_p}),
            Record(result.dataset, v.version, WINDOW, as_of, "rejected_bands", "", float(v.bands.rejected_bands),
                   b.RED if v.bands.rejected_bands > settings.max_rejected_bands else b.GREEN,
                   {**window, "allowed": settings.max_rejected_bands}),
            Record(result.dataset, v.version, WINDOW, as_of, "rank_inversions", "", float(len(v.bands.inversions)),
                   b.RED if v.bands.inversions else b.GREEN,
                   {**window, "pairs": [list(pair) for pair in v.bands.inversions]}),
            Record(result.dataset, v.version, WINDOW, as_of, "alert", "", float(len(v.alerts)),
                   b.RED if v.alerts else b.GREEN, {**window, "alerts": v.alerts}),
        ]
        out += [Record(result.dataset, v.version, WINDOW, as_of, "jeffreys_p", band.band, band.jeffreys_p,
                       b.RED if band.rejected else b.GREEN,
                       {**window, "rows": band.rows, "defaults": band.defaults, "mean_pd": band.mean_pd,
                        "observed_rate": band.observed_rate})
                for band in v.bands.bands]
    return out


def _finite(value: float) -> float | None:
    return value if value == value else None  # NaN (no development AUC) is no value


def mailed(history: History, dataset: str, as_of: dt.date) -> bool:
    """Whether the backtest report as of `as_of` was mailed to the risk team."""
    return bool(history.read(dataset, window_kind=WINDOW, statistics=[MAILED], window_starts=[as_of]))


def record_mailed(history: History, dataset: str, as_of: dt.date, key: str, to: Sequence[str], subject: str,
                  now: dt.datetime | None = None) -> None:
    """Remember that the report as of `as_of` was mailed, so a retry or a re-run does not mail it again."""
    at = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    history.write([Record(dataset, "", WINDOW, as_of, MAILED, "", None, None,
                          {"key": key, "to": list(to), "subject": subject, "sent_at": at})])
